/**
 * Scale benchmark, by simulation: N nodes of one account launched together (boots spread over 60 s); each node, once its pool-manager is up,
 * gets its pods bound at once (default 30), each ADD 1–3 s after. Default 200 nodes × 30
 * pods (6,000; ~3 s); a fleet-sized run, 1,000 × 30 = 30,000 pods, is `--nodes 1000` (~3.5 min,
 * nearly all of it simulating the project's throttled retries). All nodes share one
 * simulated EC2 and the account's token buckets (AWS's sizes: addresses and
 * ENIs 100 + 5/s, attach/detach 50 + 5/s, Describe* 100 + 20/s): an empty bucket answers
 * RequestLimitExceeded. Side by side in one run:
 *   project defaults  demand policy + pending pods + miss-triggered cycles; Ec2Guard (client-
 *                     side buckets of AWS's size per node, jittered backoff, 5 retries)
 *   upstream          compat WARM_ENI_TARGET=1, a cycle every 5 s; the AWS SDK's standard
 *                     retryer (10 attempts, backoff up to 20 s, retry quota), no client bucket;
 *                     EC2 called in upstream's order (burst/upstream-call-order.ts)
 * Every pool-manager is the real PoolManager (planner, executor) on one simulated clock in
 * one process (bench/burst/). The account's buckets are one; each node's EC2 state is its
 * own sim-ec2 model by default (--shared-model: one model for all, quadratic in nodes).
 * Kubelet retries a failed sandbox after 10–15 s (its pod-worker back-off) by default, to keep 30,000 pods tractable; --kubelet-retry-ms 1000 for 1 s.
 * Pod wait is counted from the pod's first ADD (its node was Ready); "since its node booted" also counts the time the
 * node was not Ready (upstream holds readiness for its pre-scale, the project does not), so pods could not be bound.
 * --timeline S prints, per S simulated seconds, the calls the account served/throttled and how far the nodes got.
 *   node_modules/.bin/bun bench/scale.ts [--nodes N] [--pods-per-node N] [--seed N] [--instance-type T] [--kubelet-retry-ms MS] [--shared-model] [--timeline S]
 */
import { buildCluster, percentile } from "./burst/cluster.ts";
import { hasFlag, intFlag, strFlag } from "./lib/args.ts";
import type { Flavour } from "./burst/sim-node.ts";

const argv = process.argv.slice(2);

const nodeCount = intFlag(argv, "nodes", 200);
const perNode = intFlag(argv, "pods-per-node", 30);
const seed = intFlag(argv, "seed", 1);
const instanceType = strFlag(argv, "instance-type", "m5.xlarge");
const kubeletMs = intFlag(argv, "kubelet-retry-ms", 10_000);
const BOOT_SPREAD_MS = 60_000;
const LIMIT_MS = 4 * 3_600_000;
const sharedModel = hasFlag(argv, "shared-model");
/** --timeline S: per S simulated seconds, what each flavour's account served and throttled, and how far the nodes got. */
const timelineS = hasFlag(argv, "timeline") ? intFlag(argv, "timeline", 60) : 0;

interface ScaleResult {
  allAddressedS: number;
  halfAddressedS: number;
  allReadyS: number;
  p50S: number;
  p99S: number;
  failedAdds: number;
  /** Pods whose first ADD found an address (at once or within addr-broker's wait). */
  firstTry: number;
  /** Pod wait quartiles (s). */
  waitQ: [number, number, number];
  /** Pod address p50/p99 counted from its node's boot (s): includes the time before the node was Ready. */
  bootP50S: number;
  bootP99S: number;
  calls: number;
  mutating: number;
  throttled: number;
  errors: number;
  byAction: Record<string, { ok: number; throttled: number; error: number }>;
  quotaExhausted: number;
  clientWaitS: number;
  held: number;
  enis: number;
  /** ENIs the nodes created: attached, of them with DeleteOnTermination, and detached (leaked) at the end. */
  created: { attached: number; deleteOnTermination: number; detached: number };
  /** The run goes on after all pods have addresses until every created ENI has DeleteOnTermination (≤ 30 min): when that was (s), and the ENIs then. */
  dotAllS: number | undefined;
  createdAtDot: { attached: number; deleteOnTermination: number; detached: number };
  addressed: number;
  steps: number;
  wallS: number;
}

async function scale(flavour: Flavour): Promise<ScaleResult> {
  const wall = performance.now();
  const c = buildCluster({ flavour, seed, nodes: nodeCount, instanceType, ...(sharedModel ? { vpcCidr: "10.0.0.0/14", subnetCidr: "10.0.0.0/15" } : { modelPerNode: true }), quantumMs: 10, kubeletRetry: { ms: kubeletMs, jitter: kubeletMs >= 10_000 ? 0.5 : 0 } });
  const total = nodeCount * perNode;
  let addressed = 0;
  let half: number | undefined;
  const bootOf = new Map<(typeof c.nodes)[number], number>();
  for (const node of c.nodes) {
    node.onReady(() => {
      for (let i = 0; i < perNode; i++) node.bindPod(c.sim.t + 2_000, 1_000 + c.random() * 2_000);
    });
    const bootAt = c.random() * BOOT_SPREAD_MS;
    bootOf.set(node, bootAt);
    c.sim.at(bootAt, () => void node.start());
  }
  const count = () => {
    addressed = 0;
    for (const n of c.nodes) addressed += n.addressed();
    if (half === undefined && addressed * 2 >= total) half = c.sim.t;
    return addressed === total;
  };
  // Check progress once per simulated second (counting 30,000 pods each step would dominate).
  let done = false;
  const timeline: string[] = [];
  let lastCalls: Record<string, { ok: number; throttled: number }> = {};
  const snapshot = () => {
    const delta = Object.entries(c.account.calls)
      .map(([a, x]) => [a.replace(/^(Describe|Create|Assign|Modify|Attach|Delete|Unassign)/, (m) => m[0]!) .replace(/NetworkInterface(Attribute)?/, "Eni").replace(/PrivateIpAddresses/, "Ip"), x.ok - (lastCalls[a]?.ok ?? 0), x.throttled - (lastCalls[a]?.throttled ?? 0)] as const)
      .filter(([, ok, th]) => ok + th > 0)
      .map(([a, ok, th]) => `${a} ${ok}/${th}`)
      .join(" ");
    lastCalls = Object.fromEntries(Object.entries(c.account.calls).map(([a, x]) => [a, { ok: x.ok, throttled: x.throttled }]));
    const up = c.nodes.filter((n) => n.startedAt !== undefined).length;
    const byEnis = [0, 0, 0, 0, 0];
    for (const n of c.nodes) byEnis[Math.min(n.enis(), 4)]!++;
    timeline.push(`  ${String(c.sim.t / 1000).padStart(5)} s  addressed ${String(addressed).padStart(6)}  up ${String(up).padStart(5)}  nodes with 1/2/3/4 ENIs ${byEnis.slice(1).join("/")}  held ${c.nodes.reduce((m, x) => m + x.held(), 0)}  | ${delta}`);
  };
  const poll = () => {
    done = count();
    if (timelineS && c.sim.t % (timelineS * 1000) < 1_000) snapshot();
    if (!done) c.sim.after(1_000, poll);
  };
  c.sim.after(1_000, poll);
  await c.sim.run(LIMIT_MS, () => done);
  // Since the node booted: also counts the time pods could not be bound (node not Ready; upstream's pre-scale).
  const sinceBoot = c.nodes.flatMap((n) => n.pods.map((p) => ((p.addressedAt ?? c.sim.t) - bootOf.get(n)!) / 1000));
  const waits = c.nodes.flatMap((n) => n.pods.map((p) => ((p.addressedAt ?? c.sim.t) - (p.firstAddAt ?? p.boundAt)) / 1000));
  const createdNow = () => c.nodes.map((n) => n.createdEnis()).reduce((a, b) => ({ attached: a.attached + b.attached, deleteOnTermination: a.deleteOnTermination + b.deleteOnTermination, detached: a.detached + b.detached }));
  // Every number below is taken when all pods have addresses (or the limit struck) ...
  const atDone = {
    allAddressedS: c.sim.t / 1000,
    halfAddressedS: (half ?? c.sim.t) / 1000,
    allReadyS: Math.max(...c.nodes.map((n) => n.startedAt ?? c.sim.t)) / 1000,
    p50S: percentile(waits, 50),
    p99S: percentile(waits, 99),
    failedAdds: c.nodes.reduce((n, x) => n + x.failedAdds, 0),
    firstTry: c.nodes.reduce((n, x) => n + x.pods.filter((p) => p.addressedAt !== undefined && p.failures === 0).length, 0),
    waitQ: [percentile(waits, 25), percentile(waits, 50), percentile(waits, 75)] as [number, number, number],
    bootP50S: percentile(sinceBoot, 50),
    bootP99S: percentile(sinceBoot, 99),
    ...c.account.totals(),
    byAction: Object.fromEntries(Object.entries(c.account.calls).map(([k, v]) => [k, { ...v }])),
    quotaExhausted: c.quotaExhausted(),
    clientWaitS: c.clientWaitMs() / 1000,
    held: c.nodes.reduce((n, x) => n + x.held(), 0),
    enis: c.nodes.reduce((n, x) => n + x.enis(), 0),
    created: createdNow(),
    addressed,
    steps: c.sim.steps,
    wallS: (performance.now() - wall) / 1000,
  };
  // ... except when DeleteOnTermination was on every created ENI: the run goes on (≤ 30 min) until it is.
  const allAddressedAt = c.sim.t;
  let dotDone = false;
  const dotPoll = () => {
    const x = createdNow();
    dotDone = x.attached === x.deleteOnTermination;
    if (!dotDone) c.sim.after(1_000, dotPoll);
  };
  dotPoll();
  if (!dotDone) await c.sim.run(allAddressedAt + 1_800_000, () => dotDone);
  if (timelineS) {
    snapshot();
    console.log(`timeline, ${flavour} (per ${timelineS} s: calls served/throttled by the account in the window)\n${timeline.join("\n")}`);
  }
  return { ...atDone, dotAllS: dotDone ? c.sim.t / 1000 : undefined, createdAtDot: createdNow() };
}

const git = (args: string[]) => Bun.spawnSync(["git", ...args], { cwd: import.meta.dir }).stdout.toString().trim();
const dirty = git(["status", "--porcelain", "--", "services", "shared"]).split("\n").filter(Boolean).length;
const t0 = performance.now();
const p = await scale("project");
const u = await scale("upstream");
const elapsed = (performance.now() - t0) / 1000;

const total = nodeCount * perNode;
const ratio = (a: number, b: number) => (b === 0 ? (a === 0 ? "1.00" : "∞") : (a / b).toFixed(2));
const pad = (s: string | number, n: number) => String(s).padEnd(n);
console.log(`scale: ${nodeCount} ${instanceType} nodes of one account (boots over ${BOOT_SPREAD_MS / 1000} s), ${perNode} pods bound to each once it is up (${total} pods), AWS's per-account EC2 buckets, seed ${seed}`);
console.log(`measured on ${git(["rev-parse", "--short", "HEAD"])}${dirty ? ` + ${dirty} uncommitted file(s) in services/ and shared/` : ""}; simulated clock (10 ms steps), ${sharedModel ? "one sim-ec2 model for all nodes" : "one sim-ec2 model per node, one account's buckets"}, kubelet retry ${kubeletMs / 1000} s${kubeletMs >= 10_000 ? " +0–50%" : ""}`);
console.log("\nratios, project defaults ÷ upstream (WARM_ENI_TARGET=1, SDK retryer); below 1 is better");
console.log(`  time until all ${total} pods have addresses  ${ratio(p.allAddressedS, u.allAddressedS)}   (half of them: ${ratio(p.halfAddressedS, u.halfAddressedS)})`);
console.log(`  pod wait for an address p50 / p99          ${ratio(p.p50S, u.p50S)} / ${ratio(p.p99S, u.p99S)}`);
console.log(`  pod address since its node booted p50 / p99 ${ratio(p.bootP50S, u.bootP50S)} / ${ratio(p.bootP99S, u.bootP99S)}   (${p.bootP50S.toFixed(0)}/${p.bootP99S.toFixed(0)} s vs ${u.bootP50S.toFixed(0)}/${u.bootP99S.toFixed(0)} s)`);
console.log(`  throttled calls (RequestLimitExceeded)     ${ratio(p.throttled, u.throttled)}`);
console.log(`  EC2 calls (mutating)                       ${ratio(p.calls, u.calls)} (${ratio(p.mutating, u.mutating)})`);
console.log(`  failed ADDs                                ${ratio(p.failedAdds, u.failedAdds)}`);
console.log("\nabsolutes (s are simulated seconds from the first boot)");
console.log(pad("config", 18) + pad("all addr. s", 12) + pad("half s", 8) + pad("nodes up s", 12) + pad("wait p50/p99 s", 16) + pad("failed ADDs", 13) + pad("EC2 calls", 11) + pad("mutating", 10) + pad("throttled", 11) + pad("errors", 8) + pad("addr. held", 12) + "ENIs");
for (const [name, r] of [["project defaults", p], ["upstream", u]] as const) {
  console.log(
    pad(name, 18) + pad(r.addressed === total ? r.allAddressedS.toFixed(0) : `>${r.allAddressedS.toFixed(0)} (${r.addressed})`, 12) + pad(r.halfAddressedS.toFixed(0), 8) + pad(r.allReadyS.toFixed(0), 12) + pad(`${r.p50S.toFixed(1)}/${r.p99S.toFixed(1)}`, 16) + pad(r.failedAdds, 13) + pad(r.calls, 11) + pad(r.mutating, 10) + pad(r.throttled, 11) + pad(r.errors, 8) + pad(r.held, 12) + r.enis,
  );
}
for (const [name, r] of [["project defaults", p], ["upstream", u]] as const) {
  console.log(`  ${name} calls (ok/throttled/error): ${Object.entries(r.byAction).map(([a, x]) => `${a} ${x.ok}/${x.throttled}/${x.error}`).join(", ")}`);
  console.log(`  ${name}: pods addressed on their first ADD ${r.firstTry} of ${total}; pod wait quartiles ${r.waitQ.map((q) => q.toFixed(1)).join(" / ")} s`);
  console.log(`  ${name}: created ENIs attached ${r.created.attached}, with DeleteOnTermination ${r.created.deleteOnTermination}; detached (leaked) ${r.created.detached}`);
  console.log(`  ${name}: DeleteOnTermination on every created ENI ${r.dotAllS === undefined ? "not within 30 min after" : `at ${r.dotAllS.toFixed(0)} s`} (then attached ${r.createdAtDot.attached}, with DeleteOnTermination ${r.createdAtDot.deleteOnTermination}, detached ${r.createdAtDot.detached})`);
  console.log(`  ${name}: ${name === "upstream" ? `retries given up on a spent SDK retry quota ${r.quotaExhausted}` : `client-side bucket waits ${r.clientWaitS.toFixed(0)} s in total`}; ${r.steps} clock steps, ${r.wallS.toFixed(1)} s wall`);
}
console.log(`\n(${elapsed.toFixed(1)} s) reproduce: node_modules/.bin/bun bench/scale.ts --seed ${seed}${nodeCount !== 200 ? ` --nodes ${nodeCount}` : ""}${perNode !== 30 ? ` --pods-per-node ${perNode}` : ""}${instanceType !== "m5.xlarge" ? ` --instance-type ${instanceType}` : ""}${kubeletMs !== 10_000 ? ` --kubelet-retry-ms ${kubeletMs}` : ""}${sharedModel ? " --shared-model" : ""}`);
