// `main.ts exec` and `main.ts logs`: kubectl exec/logs for the local deployment, reaching a
// pod's container through the stack's podman (exec) or its node's log files (logs).
//   main.ts exec --dir DIR NAMESPACE/POD [-c CONTAINER] -- CMD ARGS...
//   main.ts logs --dir DIR NAMESPACE/POD [-c CONTAINER] [-p]
// Exit: exec passes the command's status through; 2 for a bad argument, 1 for a deployment,
// pod or container that does not exist (or is not running, for exec).
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { nodeLayout } from "../node-services.ts";
import { readStack, stackPath, type Stack } from "../stack.ts";
import { stackNames } from "../vpc/names.ts";
import { KubeApi, KubeApiError } from "./api.ts";
import { containerLogDir, containerLogPath, logAttempts, parseK8sFileLog } from "./logs.ts";
import { LABEL, kubeletFiles } from "./names.ts";
import type { Pod } from "./pod-types.ts";
import { Podman } from "./podman.ts";
import { podDir } from "./volumes.ts";

export const EXEC_USAGE = "usage: main.ts exec --dir DIR NAMESPACE/POD [-c CONTAINER] -- CMD ARGS...";
export const LOGS_USAGE = "usage: main.ts logs --dir DIR NAMESPACE/POD [-c CONTAINER] [-p]";

export class CliError extends Error {
  constructor(readonly code: string, readonly exitCode: 1 | 2, message: string) {
    super(message);
  }
}

const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const POD = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const CONTAINER = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export interface PodArgs {
  dir: string;
  namespace: string;
  pod: string;
  container: string | undefined;
}

function podArgs(command: string, argv: string[], extra: Record<string, { type: "boolean"; short?: string }> = {}): PodArgs & { flags: Record<string, unknown> } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { dir: { type: "string" }, container: { type: "string", short: "c" }, ...extra } });
  } catch (e) {
    throw new CliError("LOCAL_BAD_ARGS", 2, (e as Error).message);
  }
  const { dir, container, ...flags } = parsed.values;
  if (!dir) throw new CliError("LOCAL_BAD_ARGS", 2, "--dir: required");
  const [target, ...rest] = parsed.positionals;
  if (rest.length > 0) throw new CliError("LOCAL_BAD_ARGS", 2, `unexpected arguments: ${rest.join(" ")}${command === "exec" ? " (the command goes after --)" : ""}`);
  const m = /^([^/]+)\/([^/]+)$/.exec(target ?? "");
  if (!m) throw new CliError("LOCAL_BAD_ARGS", 2, `NAMESPACE/POD: expected e.g. default/web, got ${JSON.stringify(target ?? "")}`);
  const [, namespace = "", pod = ""] = m;
  if (!NAMESPACE.test(namespace)) throw new CliError("LOCAL_BAD_ARGS", 2, `namespace: ${JSON.stringify(namespace)} is not a namespace name`);
  if (!POD.test(pod)) throw new CliError("LOCAL_BAD_ARGS", 2, `pod: ${JSON.stringify(pod)} is not a pod name`);
  if (container !== undefined && !CONTAINER.test(container)) throw new CliError("LOCAL_BAD_ARGS", 2, `-c: ${JSON.stringify(container)} is not a container name`);
  return { dir: resolve(dir), namespace, pod, container, flags };
}

/** exec's arguments: everything after the first `--` is the command. */
export function parseExecArgs(argv: string[]): PodArgs & { command: string[] } {
  const sep = argv.indexOf("--");
  if (sep < 0) throw new CliError("LOCAL_BAD_ARGS", 2, "the command: expected after --");
  const command = argv.slice(sep + 1);
  if (command.length === 0 || command[0] === "") throw new CliError("LOCAL_BAD_ARGS", 2, "the command: expected after --");
  const { flags: _flags, ...p } = podArgs("exec", argv.slice(0, sep));
  return { ...p, command };
}

export function parseLogsArgs(argv: string[]): PodArgs & { previous: boolean } {
  const { flags, ...p } = podArgs("logs", argv, { previous: { type: "boolean", short: "p" } });
  return { ...p, previous: flags.previous === true };
}

interface Located {
  stack: Stack;
  pod: Pod;
  container: string;
  nodeIndex: number;
}

/** The pod (from the API server) and the container meant: -c, else the default one, as kubectl picks it. */
async function locate(a: PodArgs): Promise<Located> {
  if (!existsSync(stackPath(a.dir))) throw new CliError("LOCAL_NO_STACK", 1, `no deployment in ${a.dir} (no stack.json)`);
  const stack = await readStack(a.dir);
  let pod: Pod;
  try {
    pod = await new KubeApi(stack.kube.endpoint).getPod(a.namespace, a.pod);
  } catch (e) {
    if (e instanceof KubeApiError && e.status === 404) throw new CliError("LOCAL_NO_POD", 1, `pod ${a.namespace}/${a.pod} not found`);
    throw new CliError("LOCAL_API", 1, (e as Error).message);
  }
  const names = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].map((c) => c.name ?? "");
  const container = a.container ?? pod.metadata.annotations?.["kubectl.kubernetes.io/default-container"] ?? pod.spec?.containers?.[0]?.name ?? "";
  if (!names.includes(container)) throw new CliError("LOCAL_NO_CONTAINER", 1, `container ${container} is not valid for pod ${a.pod} (containers: ${names.join(", ")})`);
  const nodeIndex = stack.nodes.findIndex((n) => n.name === pod.spec?.nodeName);
  if (nodeIndex < 0) throw new CliError("LOCAL_NOT_RUNNING", 1, `pod ${a.namespace}/${a.pod} is not bound to a node of this deployment`);
  return { stack, pod, container, nodeIndex };
}

/** Runs the command in the container with this process's stdin/stdout/stderr; resolves to its exit status. */
export async function execInPod(a: PodArgs & { command: string[] }): Promise<number> {
  const { stack, pod, container, nodeIndex } = await locate(a);
  const podman = new Podman(kubeletFiles(stack.dir).containersConf, resolve(stack.dir, "kubelet"));
  const running = (await podman.list({ [LABEL.stack]: stackNames(stack.dir).prefix, [LABEL.node]: String(nodeIndex), [LABEL.uid]: pod.metadata.uid ?? "", [LABEL.container]: container })).filter((c) => c.running);
  const target = running.sort((x, y) => Number(y.labels[LABEL.attempt] ?? 0) - Number(x.labels[LABEL.attempt] ?? 0))[0];
  if (!target) throw new CliError("LOCAL_NOT_RUNNING", 1, `container ${container} of pod ${a.namespace}/${a.pod} is not running`);
  const tty = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const proc = Bun.spawn(podman.argv(["exec", "-i", ...(tty ? ["-t"] : []), target.id, ...a.command]), { env: podman.env, stdin: "inherit", stdout: "inherit", stderr: "inherit" });
  return proc.exited;
}

/** The container's log (the current attempt, or the one before with `previous`), without the k8s-file prefixes. */
export async function podLogs(a: PodArgs & { previous: boolean }): Promise<string> {
  const { stack, pod, container, nodeIndex } = await locate(a);
  const dir = podDir(nodeLayout(stack.dir, nodeIndex), pod.metadata.uid ?? "");
  const attempts = logAttempts(containerLogDir(dir, container));
  const attempt = attempts[attempts.length - (a.previous ? 2 : 1)];
  if (attempt === undefined) {
    throw new CliError("LOCAL_NO_LOGS", 1, a.previous ? `previous terminated container "${container}" in pod "${a.pod}" not found` : `container "${container}" in pod "${a.pod}" has not started yet`);
  }
  return parseK8sFileLog(readFileSync(containerLogPath(dir, container, attempt), "utf8"));
}
