/**
 * The NetworkPolicy side of the local deployment's control plane: the PolicyEndpoint CRD of
 * deploy/k8s applied, ConfigMap kube-system/amazon-vpc-cni's `enable-network-policy-controller`
 * set to "true", and services/policy-controller run as a process in the root namespace with
 * the stack's kubeconfig (in both modes: the simulated control plane stores Deployments but
 * runs none, so deploy/k8s/policy-controller.yaml is what a real cluster applies). Its log is
 * DIR/policy-controller.log; `stop` ends the process it started, and its pid is in
 * DIR/local-manifest.json so `down` ends it after a crash.
 */
import { openSync, closeSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type pino from "pino";
import { readManifest, writeManifest } from "./manifest.ts";
import { BUN, REPO_ROOT } from "./node-services.ts";
import type { Stack } from "./stack.ts";

export const POLICY_ENDPOINT_CRD = join(REPO_ROOT, "deploy/k8s/policyendpoint-crd.yaml");
const CONFIG_MAP = "/api/v1/namespaces/kube-system/configmaps";
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface RunningPolicyController {
  pid: number;
  log: string;
  stop(): Promise<void>;
}

async function call(stack: Pick<Stack, "kube">, method: string, path: string, body?: unknown, contentType = "application/json"): Promise<Response> {
  return fetch(`${stack.kube.endpoint}${path}`, { method, headers: { "content-type": contentType }, ...(body === undefined ? {} : { body: JSON.stringify(body) }), signal: AbortSignal.timeout(10_000) });
}

/** The CRD (created, or left as it is) and the ConfigMap key "true" (created or merged in). */
export async function enablePolicyEndpoints(stack: Pick<Stack, "kube">): Promise<void> {
  const crd = Bun.YAML.parse(readFileSync(POLICY_ENDPOINT_CRD, "utf8"));
  const created = await call(stack, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd);
  if (!created.ok && created.status !== 409) throw new Error(`creating the PolicyEndpoint CRD: HTTP ${created.status} ${await created.text()}`);
  const data = { "enable-network-policy-controller": "true" };
  const patched = await call(stack, "PATCH", `${CONFIG_MAP}/amazon-vpc-cni`, { data }, "application/merge-patch+json");
  if (patched.status === 404) {
    const made = await call(stack, "POST", CONFIG_MAP, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "amazon-vpc-cni", namespace: "kube-system" }, data });
    if (!made.ok) throw new Error(`creating ConfigMap amazon-vpc-cni: HTTP ${made.status} ${await made.text()}`);
  } else if (!patched.ok) throw new Error(`setting enable-network-policy-controller: HTTP ${patched.status} ${await patched.text()}`);
}

export async function startPolicyController(stack: Pick<Stack, "kube" | "dir">, log: Pick<pino.Logger, "info">): Promise<RunningPolicyController> {
  await enablePolicyEndpoints(stack);
  const logFile = join(stack.dir, "policy-controller.log");
  const fd = openSync(logFile, "a", 0o644);
  const argv = [BUN, join(REPO_ROOT, "services/policy-controller/main.ts"), "--metrics-bind-addr=127.0.0.1:0", "--health-probe-bind-addr=127.0.0.1:0"];
  const proc = Bun.spawn(argv, { cwd: REPO_ROOT, env: { PATH, HOME: "/tmp", KUBECONFIG: stack.kube.kubeconfig }, stdin: "ignore", stdout: fd, stderr: fd });
  closeSync(fd);
  // `down` stops it too, should this process die without its teardown
  const manifest = await readManifest(stack.dir);
  if (manifest !== undefined) await writeManifest(stack.dir, { ...manifest, pids: [...manifest.pids, proc.pid] });
  log.info({ pid: proc.pid, log: logFile }, "policy-controller started");
  let stopped: Promise<void> | undefined;
  return {
    pid: proc.pid,
    log: logFile,
    stop: () =>
      (stopped ??= (async () => {
        proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
        await proc.exited;
        clearTimeout(timer);
      })()),
  };
}
