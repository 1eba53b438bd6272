// `npm start`: the whole product on this machine. Starts the local deployment (simulated
// EC2/IMDS/Kubernetes, the VPC as network namespaces, the product on every node), then a
// demo through the real CNI path, prints what it saw and how to look around, and stays up
// until Ctrl-C.
//   npm start [-- --once] [--mode processes|daemonset] [--dir DIR] [--nodes N] [--env KEY=VALUE]... [--ipv6 | --v6-egress]
// --mode processes (default): the four services run as processes in every node namespace and
// the demo makes its pods as a runtime does (a namespace, the node's CNI chain exec'd);
// daemonset: the aws-node DaemonSet runs on the nodes' kubelets (the image built or reused)
// and the demo makes its pods with kubectl, run by the kubelets.
// --once: run the demo, tear down, exit 0 only when every step checked out (1 otherwise,
// naming the failed step; 2 for bad arguments). --ipv6: an IPv6 deployment (`up --ipv6`) and
// the IPv6 demo (demo/steps-ipv6.ts); --v6-egress: IPv4 nodes with a primary IPv6 and
// ENABLE_V6_EGRESS (`up --v6-egress`), the IPv4 demo plus IPv6 egress. Needs root; installs missing host tools
// with tests/setup-host.sh.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { IPV6_NODE_ENV, nodeSettings, V6_EGRESS_NODE_ENV, startDeployment, type RunningDeployment } from "./deployment.ts";
import { parseEnvPairs, REPO_ROOT } from "./node-services.ts";
import { missingKubeletTools } from "./kubelet/node-kubelets.ts";
import { writeStack } from "./stack.ts";
import { DEFAULT_DEMO_OPTIONS, DemoContext } from "./demo/steps.ts";
import { DEMO_ENV, demoSteps, formatOutcome, howToLook, podsTable, runDemo } from "./demo/run.ts";
import { PodRunner, type DemoPods } from "./demo/pods.ts";
import { awsNodePods, KubePods } from "./demo/kube-pods.ts";
import type { DeployMode } from "./stack.ts";

const USAGE = "usage: npm start [-- --once] [--mode processes|daemonset] [--dir DIR] [--nodes N] [--env KEY=VALUE]... [--ipv6 | --v6-egress]";
const MODES: readonly DeployMode[] = ["processes", "daemonset"];

function fail(code: string, message: string, exit = 2): never {
  process.stderr.write(`error ${code}: ${message}\n${exit === 2 ? `${USAGE}\n` : ""}`);
  process.exit(exit);
}

function parse(argv: string[]) {
  let v;
  try {
    v = parseArgs({ args: argv, options: { once: { type: "boolean" }, mode: { type: "string" }, dir: { type: "string" }, nodes: { type: "string" }, env: { type: "string", multiple: true }, ipv6: { type: "boolean" }, "v6-egress": { type: "boolean" } } }).values;
  } catch (e) {
    fail("START_BAD_ARGS", (e as Error).message);
  }
  const mode = (v.mode ?? "processes") as DeployMode;
  if (!MODES.includes(mode)) fail("START_BAD_ARGS", `--mode: must be processes or daemonset, got ${JSON.stringify(v.mode)}`);
  const nodes = v.nodes === undefined ? 2 : Number(v.nodes);
  if (!/^\d+$/.test(v.nodes ?? "2") || nodes < 2 || nodes > 20) fail("START_BAD_ARGS", `--nodes: must be an integer 2..20 (the demo needs two nodes), got ${JSON.stringify(v.nodes)}`);
  const ipv6 = v.ipv6 ?? false;
  const v6Egress = v["v6-egress"] ?? false;
  if (ipv6 && v6Egress) fail("START_BAD_ARGS", "--v6-egress: for IPv4 nodes; an --ipv6 deployment reaches IPv4 through egress-cni already");
  let extra: Record<string, string> = {};
  try {
    extra = parseEnvPairs(v.env ?? []);
    if (ipv6 || v6Egress) parseEnvPairs(Object.entries(nodeSettings({ ipv6, v6Egress, env: extra })).map(([k, val]) => `${k}=${val}`));
  } catch (e) {
    fail("START_BAD_ENV", (e as Error).message.replaceAll("\n", "; "));
  }
  // IPv6 mode has no warm-pool settings to demonstrate (one /80 on the primary ENI).
  return { once: v.once ?? false, mode, dir: v.dir === undefined ? undefined : resolve(v.dir), nodes, ipv6, v6Egress, env: ipv6 ? extra : { ...DEMO_ENV, ...extra } };
}

function missingTools(): string[] {
  const onPath = (t: string) => (process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":").concat(["/usr/sbin", "/sbin"]).some((d) => existsSync(join(d, t)));
  const missing = ["ip", "iptables", "curl"].filter((t) => !onPath(t));
  if (!existsSync("/bin/busybox")) missing.push("busybox");
  if (!existsSync("/usr/lib/cni/portmap")) missing.push("/usr/lib/cni/portmap");
  return [...missing, ...missingKubeletTools()];
}

function ensureHost(): void {
  if (process.getuid?.() !== 0) fail("START_NOT_ROOT", "npm start needs root: it creates network namespaces, veths, routes and iptables rules. Run it as root (e.g. `sudo npm start`).", 1);
  if (process.platform !== "linux") fail("START_NOT_LINUX", "the local deployment needs Linux network namespaces", 1);
  let missing = missingTools();
  if (missing.length === 0) return;
  console.log(`host tools missing (${missing.join(", ")}): running tests/setup-host.sh`);
  const r = Bun.spawnSync(["bash", join(REPO_ROOT, "tests/setup-host.sh")], { stdout: "inherit", stderr: "inherit" });
  missing = missingTools();
  if (r.exitCode !== 0 || missing.length > 0) fail("START_HOST_TOOLS", `still missing after tests/setup-host.sh (exit ${r.exitCode}): ${missing.join(", ")}`, 1);
}

const args = parse(process.argv.slice(2));
ensureHost();
const t0 = Date.now();
const ownDir = args.dir === undefined;
const dir = args.dir ?? mkdtempSync(join(tmpdir(), "aws-vpc-cni-demo-"));
mkdirSync(dir, { recursive: true });
const logger = pino({ level: "info", base: { service: "local-start", pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: join(dir, "up.log"), sync: true }));

let deployment: RunningDeployment | undefined;
let ctx: DemoContext<DemoPods> | undefined;
let stopRequested = false;
let tearingDown: Promise<string[]> | undefined;

/** Removes the demo's pods, then the deployment (services, namespaces, links). Idempotent. */
function teardown(): Promise<string[]> {
  return (tearingDown ??= (async () => {
    const problems = (await ctx?.pods.close()) ?? [];
    await deployment?.stop();
    return problems;
  })());
}

async function finish(code: number, note?: string): Promise<never> {
  const problems = await teardown();
  for (const p of problems) console.log(`  teardown: ${p}`);
  if (note) console.log(note);
  if (code === 0 && ownDir) rmSync(dir, { recursive: true, force: true });
  else console.log(`logs kept in ${dir}`);
  console.log(`torn down (${((Date.now() - t0) / 1000).toFixed(1)} s since start)`);
  process.exit(code);
}

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    if (stopRequested) return;
    stopRequested = true;
    console.log(`\n${sig}: tearing down…`);
    // Still starting: startDeployment finishes (or cleans up after itself), then the check below stops it.
    if (deployment !== undefined) void finish(0);
  });
}

console.log(`starting the local deployment: ${args.nodes} nodes, mode ${args.mode}, DIR ${dir}`);
if (args.mode === "daemonset") console.log("daemonset mode: the aws-node image is built unless cached (minutes the first time), then aws-node.yaml is applied to the simulated API server");
if (args.ipv6) console.log(`IPv6 deployment: dual-stack VPC, nodes in IPv6 mode (${Object.entries(IPV6_NODE_ENV).map(([k, v]) => `${k}=${v}`).join(" ")})`);
else if (args.v6Egress) console.log(`IPv6 egress: dual-stack VPC, IPv4 nodes with a primary IPv6 (${Object.entries(V6_EGRESS_NODE_ENV).map(([k, v]) => `${k}=${v}`).join(" ")})`);
if (!args.ipv6) console.log(`demo settings (override with --env): ${Object.entries(DEMO_ENV).map(([k, v]) => `${k}=${v}`).join(" ")}`);
try {
  deployment = await startDeployment({ dir, mode: args.mode, nodes: args.nodes, env: args.env, logger, ipv6: args.ipv6, v6Egress: args.v6Egress });
} catch (e) {
  console.log(`✗ start the deployment: ${(e as Error).message}`);
  await finish(1, "failed step: start the deployment");
}
if (stopRequested) await finish(0);
const dep = deployment!;
await writeStack(dir, dep.stack);
console.log(`✓ deployment up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${dep.stack.nodes.map((n) => `${n.netns} ${n.primaryIp}${n.primaryIpv6 ? ` ${n.primaryIpv6}` : ""}`).join(", ")}; stack: ${join(dir, "stack.json")}`);

const daemonset = args.mode === "daemonset";
ctx = new DemoContext<DemoPods>(dep, { ...DEFAULT_DEMO_OPTIONS, env: args.env }, daemonset ? new KubePods(dep) : new PodRunner(dep));
const outcomes = await runDemo(ctx, (o) => console.log(formatOutcome(o)), demoSteps(dep.stack), () => stopRequested);
if (stopRequested) await new Promise(() => {}); // the signal handler exits
const failed = outcomes.find((o) => !o.ok);

console.log(daemonset ? "\npods (made with kubectl, run by the node's kubelet through its CNI chain: aws-cni, then portmap):" : "\npods (through the node's CNI chain: aws-cni, then portmap):");
console.log(podsTable([...ctx.records.values()], dep.stack));
console.log("\nlook inside:");
console.log(howToLook(dep.stack, daemonset ? await awsNodePods(dep.stack).catch(() => new Map<string, string>()) : undefined));
const summary = failed ? `✗ demo failed at: ${failed.name}` : `✓ all ${outcomes.length} demo steps checked out`;
console.log(`\n${summary}`);

if (args.once) await finish(failed ? 1 : 0, failed ? `failed step: ${failed.name}` : undefined);
const live = [...ctx.pods.pods.values()];
if (live.length > 0) {
  console.log("\nlive pods to play with:");
  for (const p of live) {
    console.log(`  ip netns exec ${p.netns} ip addr show eth0    # ${p.name}, ${p.address}, node ${p.nodeIndex}`);
    if (daemonset) console.log(`  bun run deploy/local/main.ts exec --dir ${dir} ${p.namespace}/${p.name} -- ip addr show eth0`);
  }
}
console.log(`\nup; stop with Ctrl-C (or kill -INT ${process.pid}); everything is torn down on exit`);
setInterval(() => {}, 1 << 30);
