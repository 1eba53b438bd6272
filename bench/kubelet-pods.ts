/**
 * kubelet-pods: how long a pod made with kubectl takes to be Running with an address, on one
 * m5.4xlarge node of the local deployment, the node's kubelet running pods with podman on the
 * busybox root filesystem. `--mode processes` (default): the services run as processes in the
 * node's namespace; `--mode daemonset`: they run in the aws-node pod the same kubelet runs
 * (the image built unless cached; its probes run meanwhile, as on a node). The pool is kept
 * warm (MINIMUM_IP_TARGET above the pods held, checked before each arm), so no ADD waits for
 * EC2 and what is measured is the kubelet's path: watch → sandbox (netns + CNI ADD through
 * the node's conflist) → `podman run` → status.
 *
 * Arms, in this order:
 * - kubelet, one at a time: `kubectl apply` of one pod, timed from just before kubectl runs
 *   until the pod's watch shows phase Running with a podIP (the pods are held, then deleted);
 *   also from the API's ADDED to Running (kubectl's own cost excluded);
 * - by hand, no kubelet (the baseline): the same steps a script would take — netns, CNI ADD
 *   through the same runtime code, `podman run -d` of the same container — timed per pod;
 * - kubelet, a burst: one `kubectl apply` of all the pods at once, each timed from the apply.
 *
 * The baseline runs in both modes: the node's conflist and plugins are the same files whether
 * the deployment or aws-node's init container installed them, exec'd on the node's own view of
 * /run and /var/log (node-host.ts) as the kubelet execs them.
 *
 *   npm run bench -- kubelet-pods [--pods 50] [--instance-type m5.4xlarge] [--mode processes|daemonset]
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { startDeployment, type RunningDeployment } from "../deploy/local/deployment.ts";
import { poll, readPool } from "../deploy/local/demo/observe.ts";
import type { NodeLayout } from "../deploy/local/node-services.ts";
import type { StackNode } from "../deploy/local/stack.ts";
import { KubeApi, type PodEvent } from "../deploy/local/kubelet/api.ts";
import { DEFAULT_CAPABILITIES, runArgs } from "../deploy/local/kubelet/container-args.ts";
import { LABEL, kubeletFiles } from "../deploy/local/kubelet/names.ts";
import { NodeHost } from "../deploy/local/kubelet/node-host.ts";
import { Podman } from "../deploy/local/kubelet/podman.ts";
import { Sandboxes } from "../deploy/local/kubelet/sandbox.ts";
import { BenchNode } from "./lib/node.ts";
import { intFlag, strFlag } from "./lib/args.ts";
import { command, ms, ratio, requireRoot, summarize } from "./lib/stats.ts";

requireRoot("kubelet-pods");
const argv = process.argv.slice(2);
const PODS = intFlag(argv, "pods", 50, 2);
const INSTANCE = strFlag(argv, "instance-type", "m5.4xlarge");
const MODE = strFlag(argv, "mode", "processes", ["processes", "daemonset"] as const);
const ENV = { WARM_IP_TARGET: "8", MINIMUM_IP_TARGET: String(PODS + 16), IP_COOLDOWN_PERIOD: "1" };

/** What the arms need of the node, in either mode. */
interface BenchTarget {
  deployment: RunningDeployment;
  node: StackNode;
  layout: NodeLayout;
  waitFree(n: number): Promise<unknown>;
  stop(): Promise<void>;
}

/** The node with aws-node as a DaemonSet pod; free addresses read from pool-manager's /debug. */
async function startDaemonSetNode(): Promise<BenchTarget> {
  const dir = mkdtempSync(join(tmpdir(), "bench-kubelet-pods-"));
  try {
    const deployment = await startDeployment({ dir, nodes: 1, mode: "daemonset", instanceType: INSTANCE, env: ENV, logger: pino({ level: "silent" }) });
    const layout = deployment.layouts[0]!;
    return {
      deployment,
      node: deployment.stack.nodes[0]!,
      layout,
      async waitFree(n) {
        const r = await poll(() => readPool(layout.runDir).catch(() => undefined), (p) => (p?.free ?? 0) >= n, 60_000, 200);
        if (!r.met) throw new Error(`pool not warm: ${r.value?.free ?? "?"} free addresses after 60 s, want ${n}`);
      },
      async stop() {
        try {
          await deployment.stop();
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

const node: BenchTarget = MODE === "daemonset" ? await startDaemonSetNode() : await BenchNode.start({ label: "kubelet-pods", instanceType: INSTANCE, env: ENV, kubelet: true });
const stack = node.deployment.stack;
const prefix = node.deployment.cloud.names.prefix;
const seen = new Map<string, { addedAt?: number; runningAt?: number }>();
const abort = new AbortController();

function onEvent(e: PodEvent): void {
  const now = Date.now();
  for (const pod of e.type === "SYNCED" ? e.pods : [e.pod]) {
    const name = pod.metadata.name ?? "";
    const s = seen.get(name) ?? {};
    s.addedAt ??= now;
    if (e.type !== "DELETED" && pod.status?.phase === "Running" && pod.status.podIP) s.runningAt ??= now;
    seen.set(name, s);
  }
}
void new KubeApi(stack.kube.endpoint).watchNodePods(node.node.name, onEvent, () => {}, abort.signal);

async function kubectl(args: string[], stdin?: string): Promise<string> {
  const p = Bun.spawn(["kubectl", "--kubeconfig", stack.kube.kubeconfig, ...args], { stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${err.trim()}`);
  return out;
}

const pod = (name: string, group: string) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: "default", labels: { bench: group } },
  spec: { nodeName: node.node.name, terminationGracePeriodSeconds: 0, containers: [{ name: "main", image: "busybox", command: ["sleep", "3600"] }] },
});

async function running(names: string[], timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (names.some((n) => seen.get(n)?.runningAt === undefined)) {
    if (Date.now() > deadline) throw new Error(`not Running after ${timeoutMs} ms: ${names.filter((n) => seen.get(n)?.runningAt === undefined).join(" ")}`);
    await Bun.sleep(20);
  }
}

async function deleteGroup(group: string): Promise<void> {
  await kubectl(["delete", "pods", "-l", `bench=${group}`, "--wait=true"]);
  await node.waitFree(PODS);
}

/** By hand: the kubelet's own building blocks, called in a row by a script. */
const byHandDir = join(stack.dir, "by-hand");
mkdirSync(byHandDir, { recursive: true });
let host: NodeHost | undefined;
const sandboxes = new Sandboxes({ prefix, nodeNetns: node.node.netns, cniBinDir: node.layout.cniBinDir, cniConfDir: node.layout.cniConfDir, stateDir: byHandDir, hostExec: () => host!.execPrefix });
const podman = new Podman(kubeletFiles(stack.dir).containersConf, byHandDir, node.node.netns);
const byHandPods: Array<{ metadata: { name: string; namespace: string; uid: string } }> = [];

async function byHand(i: number): Promise<number> {
  const p = { metadata: { name: `by-hand-${i}`, namespace: "default", uid: `bench-by-hand-${process.pid}-${i}` } };
  const t0 = Date.now();
  byHandPods.push(p);
  const sandbox = await sandboxes.create(p);
  await podman.runDetached(runArgs({
    name: `${prefix}-by-hand-${i}`,
    labels: { [LABEL.stack]: prefix },
    netnsPath: sandbox.netnsPath,
    hostname: p.metadata.name,
    logPath: join(byHandDir, `${i}.log`),
    logMaxSize: "1mb",
    env: [],
    privileged: false,
    capabilities: [...DEFAULT_CAPABILITIES],
    readOnlyRoot: false,
    mounts: [],
    root: { kind: "rootfs", path: kubeletFiles(stack.dir).rootfs },
    command: ["sleep", "3600"],
  }));
  if (!sandbox.podIP) throw new Error(`by-hand-${i}: no address`);
  return Date.now() - t0;
}

async function cleanByHand(): Promise<void> {
  for (const [i, p] of byHandPods.entries()) {
    await podman.remove(`${prefix}-by-hand-${i}`, 0).catch(() => {});
    await sandboxes.destroy(p).catch(() => {});
  }
  byHandPods.length = 0;
}

try {
  host = await NodeHost.start({ nodeNetns: node.node.netns, runDir: node.layout.runDir, logDir: node.layout.logDir, stateDir: byHandDir });
  // Warm-up: the first container of a run sets up podman's state; not measured.
  await node.waitFree(PODS);
  await kubectl(["apply", "-f", "-"], JSON.stringify(pod("warm-up", "warm-up")));
  await running(["warm-up"]);
  await deleteGroup("warm-up");

  const seq: number[] = [];
  const seqFromApi: number[] = [];
  for (let i = 0; i < PODS; i++) {
    const name = `seq-${i}`;
    const t0 = Date.now();
    await kubectl(["apply", "-f", "-"], JSON.stringify(pod(name, "seq")));
    await running([name]);
    const s = seen.get(name)!;
    seq.push(s.runningAt! - t0);
    seqFromApi.push(s.runningAt! - s.addedAt!);
  }
  await deleteGroup("seq");

  const hand: number[] = [];
  for (let i = 0; i < PODS; i++) hand.push(await byHand(i));
  await cleanByHand();
  await node.waitFree(PODS);

  const names = Array.from({ length: PODS }, (_, i) => `burst-${i}`);
  const t0 = Date.now();
  await kubectl(["apply", "-f", "-"], names.map((n) => JSON.stringify(pod(n, "burst"))).join("\n"));
  await running(names);
  const burst = names.map((n) => seen.get(n)!.runningAt! - t0);
  const burstWall = Math.max(...burst);
  await deleteGroup("burst");

  const a = summarize(seq);
  const b = summarize(hand);
  const c = summarize(burst);
  const api = summarize(seqFromApi);
  console.log(`kubelet-pods: ${PODS} pods on one ${INSTANCE} node, ${MODE} mode, warm pool, busybox root filesystem`);
  console.log(`  kubelet ÷ by hand, one at a time: from kubectl p50 ${ratio(a.p50, b.p50)}, p99 ${ratio(a.p99, b.p99)}; from the API's ADDED p50 ${ratio(api.p50, b.p50)}, p99 ${ratio(api.p99, b.p99)}`);
  console.log(`  kubectl apply → Running with an address, one at a time: p50 ${ms(a.p50, 0)}, p99 ${ms(a.p99, 0)}, max ${ms(a.max, 0)}`);
  console.log(`    of which API ADDED → Running: p50 ${ms(api.p50, 0)}, p99 ${ms(api.p99, 0)}`);
  console.log(`  by hand (netns + CNI ADD + podman run -d, no kubelet): p50 ${ms(b.p50, 0)}, p99 ${ms(b.p99, 0)}`);
  console.log(`  kubelet, ${PODS} in one kubectl apply: p50 ${ms(c.p50, 0)}, p99 ${ms(c.p99, 0)}, all Running after ${ms(burstWall, 0)}`);
  console.log(`  ${command("kubelet-pods", argv)}`);
} finally {
  abort.abort();
  await cleanByHand();
  await host?.stop();
  await node.stop();
}
process.exit(0);
