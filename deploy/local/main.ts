// The local deployment's CLI.
//   bun run deploy/local/main.ts up   --dir DIR [--mode processes|daemonset] [--nodes N] [--instance-type T] [--env KEY=VALUE]... [--cloud-only] [--ipv6 | --v6-egress] [--network-policy standard|strict] [--pod-eni strict|standard]
//   bun run deploy/local/main.ts down --dir DIR
// --network-policy standard|strict: every node's policy agent enforces (--enable-network-policy=true) with
// NETWORK_POLICY_ENFORCING_MODE set to that mode; without it enforcement is off, as upstream.
// --pod-eni strict|standard: security groups for pods on every node, POD_SECURITY_GROUP_ENFORCING_MODE
// set to that mode, the SecurityGroupPolicy CRD applied (processes mode; see pod-eni.ts).
//   bun run deploy/local/main.ts exec --dir DIR NAMESPACE/POD [-c CONTAINER] -- CMD ARGS...
//   bun run deploy/local/main.ts logs --dir DIR NAMESPACE/POD [-c CONTAINER] [-p]
// `up` runs in the foreground: when all is ready it writes DIR/stack.json and prints exactly
// one line `ready DIR/stack.json` on stdout (logs go to DIR/up.log); SIGINT/SIGTERM tear
// everything down and exit 0. `down` removes what a crashed `up` left behind. `exec` and
// `logs` reach a pod's container as kubectl exec/logs would (kubelet/cli.ts).
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { NETWORK_POLICY_MODES, nodeSettings, startDeployment, type NetworkPolicyMode, type RunningDeployment } from "./deployment.ts";
import { parseEnvPairs } from "./node-services.ts";
import { down } from "./down.ts";
import { CliError, EXEC_USAGE, execInPod, LOGS_USAGE, parseExecArgs, parseLogsArgs, podLogs } from "./kubelet/cli.ts";
import { writeStack, type DeployMode } from "./stack.ts";
import { POD_ENI_MODES, type PodEniMode } from "./pod-eni.ts";

const USAGE = "usage: main.ts up --dir DIR [--mode processes|daemonset] [--nodes N] [--instance-type T] [--env KEY=VALUE]... [--cloud-only] [--ipv6 | --v6-egress] [--network-policy standard|strict] [--pod-eni strict|standard] | main.ts down --dir DIR | main.ts exec ... | main.ts logs ...";

function fail(code: string, message: string): never {
  process.stderr.write(`error ${code}: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parse(argv: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        dir: { type: "string" },
        mode: { type: "string" },
        nodes: { type: "string" },
        "instance-type": { type: "string" },
        env: { type: "string", multiple: true },
        "cloud-only": { type: "boolean" },
        ipv6: { type: "boolean" },
        "v6-egress": { type: "boolean" },
        "network-policy": { type: "string" },
        "pod-eni": { type: "string" },
      },
    });
  } catch (e) {
    fail("LOCAL_BAD_ARGS", (e as Error).message);
  }
  const [command, ...extra] = parsed.positionals;
  if (command !== "up" && command !== "down") fail("LOCAL_BAD_ARGS", `command: expected up, down, exec or logs, got ${JSON.stringify(command)}`);
  if (extra.length > 0) fail("LOCAL_BAD_ARGS", `unexpected arguments: ${extra.join(" ")}`);
  const dir = parsed.values.dir;
  if (!dir) fail("LOCAL_BAD_ARGS", "--dir: required");
  let nodes: number | undefined;
  if (parsed.values.nodes !== undefined) {
    nodes = Number(parsed.values.nodes);
    if (!/^\d+$/.test(parsed.values.nodes) || nodes < 1 || nodes > 200) fail("LOCAL_BAD_ARGS", `--nodes: must be an integer 1..200, got ${JSON.stringify(parsed.values.nodes)}`);
  }
  const instanceType = parsed.values["instance-type"];
  const mode = parsed.values.mode ?? "processes";
  if (mode !== "processes" && mode !== "daemonset") fail("LOCAL_BAD_ARGS", `--mode: expected processes or daemonset, got ${JSON.stringify(mode)}`);
  if (mode === "daemonset" && parsed.values["cloud-only"]) fail("LOCAL_BAD_ARGS", "--mode daemonset: runs aws-node on the nodes, not with --cloud-only");
  const ipv6 = parsed.values.ipv6 ?? false;
  const v6Egress = parsed.values["v6-egress"] ?? false;
  if (ipv6 && v6Egress) fail("LOCAL_BAD_ARGS", "--v6-egress: for IPv4 nodes; an --ipv6 deployment reaches IPv4 through egress-cni already");
  const networkPolicy = parsed.values["network-policy"] as NetworkPolicyMode | undefined;
  if (networkPolicy !== undefined && !NETWORK_POLICY_MODES.includes(networkPolicy)) fail("LOCAL_BAD_ARGS", `--network-policy: expected standard or strict, got ${JSON.stringify(networkPolicy)}`);
  if (networkPolicy !== undefined && parsed.values["cloud-only"]) fail("LOCAL_BAD_ARGS", "--network-policy: enforced by the nodes' policy agents, not with --cloud-only");
  const podEni = parsed.values["pod-eni"] as PodEniMode | undefined;
  if (podEni !== undefined && !POD_ENI_MODES.includes(podEni)) fail("LOCAL_BAD_ARGS", `--pod-eni: expected strict or standard, got ${JSON.stringify(podEni)}`);
  if (podEni !== undefined && parsed.values["cloud-only"]) fail("LOCAL_BAD_ARGS", "--pod-eni: branch-ENI pods are wired by the nodes' services, not with --cloud-only");
  if (podEni !== undefined && ipv6) fail("LOCAL_BAD_ARGS", "--pod-eni: IPv4 nodes only in the local deployment");
  if (podEni !== undefined && mode === "daemonset") fail("LOCAL_BAD_ARGS", "--pod-eni: processes mode only (the aws-node image's net-config makes 802.1Q links; daemonset mode with pod ENIs has not been run here)");
  if (command === "down" && (nodes !== undefined || instanceType !== undefined || parsed.values.env || parsed.values["cloud-only"] || parsed.values.mode !== undefined || ipv6 || v6Egress || networkPolicy !== undefined || podEni !== undefined)) {
    fail("LOCAL_BAD_ARGS", "down takes only --dir");
  }
  let env: Record<string, string> = {};
  try {
    env = parseEnvPairs(parsed.values.env ?? []);
    // An IPv6 deployment's nodes run upstream's IPv6 mode; the operator's --env must agree with it.
    if (ipv6 || v6Egress || networkPolicy || podEni) parseEnvPairs(Object.entries(nodeSettings({ ipv6, v6Egress, env, ...(networkPolicy ? { networkPolicy } : {}), ...(podEni ? { podEni } : {}) })).map(([k, v]) => `${k}=${v}`));
  } catch (e) {
    fail("LOCAL_BAD_ENV", (e as Error).message.replaceAll("\n", "; "));
  }
  return { command, dir: resolve(dir), mode: mode as DeployMode, nodes, instanceType, env, cloudOnly: parsed.values["cloud-only"] ?? false, ipv6, v6Egress, networkPolicy, podEni };
}

async function up(dir: string, mode: DeployMode, nodes: number | undefined, instanceType: string | undefined, env: Record<string, string>, cloudOnly: boolean, ipv6: boolean, v6Egress: boolean, networkPolicy: NetworkPolicyMode | undefined, podEni: PodEniMode | undefined): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const logger = pino({ level: "info", base: { service: "local-up", pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: join(dir, "up.log"), sync: true }));
  let cloud: RunningDeployment | undefined;
  let stopping: Promise<void> | undefined;
  let signalled = false;
  const shutdown = () => {
    signalled = true;
    // Still starting: startCloud finishes (or fails and cleans up), then the check below stops it.
    if (cloud === undefined) return;
    stopping ??= (async () => {
      logger.info("signal: tearing down");
      await cloud?.stop();
      process.exit(0);
    })();
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
  const started = Date.now();
  try {
    cloud = await startDeployment({ dir, mode, nodes, instanceType, logger, env, cloudOnly, ipv6, v6Egress, ...(networkPolicy ? { networkPolicy } : {}), ...(podEni ? { podEni } : {}) });
  } catch (e) {
    process.stderr.write(`error ${(e as { code?: string }).code ?? "LOCAL_UP_FAILED"}: ${(e as Error).message}\n`);
    process.exit(1);
  }
  if (signalled) {
    logger.info("signal during start: tearing down");
    await cloud.stop();
    process.exit(0);
  }
  const path = await writeStack(dir, cloud.stack);
  logger.info({ ms: Date.now() - started, mode: cloud.stack.mode }, "ready");
  process.stdout.write(`ready ${path}\n`);
  // Foreground: live until a signal arrives.
  setInterval(() => {}, 1 << 30);
}

/** exec and logs: exit 2 for a bad argument, 1 for what does not exist; exec passes the command's status through. */
async function podCommand(command: "exec" | "logs", argv: string[]): Promise<never> {
  try {
    if (command === "exec") process.exit(await execInPod(parseExecArgs(argv)));
    process.stdout.write(await podLogs(parseLogsArgs(argv)));
    process.exit(0);
  } catch (e) {
    const err = e instanceof CliError ? e : new CliError("LOCAL_FAILED", 1, (e as Error).message);
    process.stderr.write(`error ${err.code}: ${err.message}\n${err.exitCode === 2 ? `${command === "exec" ? EXEC_USAGE : LOGS_USAGE}\n` : ""}`);
    process.exit(err.exitCode);
  }
}

const [first, ...rest] = process.argv.slice(2);
if (first === "exec" || first === "logs") await podCommand(first, rest);
const args = parse(process.argv.slice(2));
if (args.command === "up") await up(args.dir, args.mode, args.nodes, args.instanceType, args.env, args.cloudOnly, args.ipv6, args.v6Egress, args.networkPolicy, args.podEni);
else {
  const problems = await down(args.dir);
  for (const p of problems) process.stderr.write(`warning: ${p}\n`);
  process.exit(problems.length > 0 ? 1 : 0);
}
