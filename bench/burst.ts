/**
 * Burst benchmark: 100 pods bound at once to one node whose pool sits at
 * its default targets, on the simulated EC2 with realistic latencies (create + attach ≈ 1 s,
 * IMDS showing a new ENI 1–5 s after it attached), side by side in one run:
 *   project defaults  demand policy (AWS_VPC_CNI_POOL_POLICY unset), Kubernetes pending
 *                     pods (bound 1–3 s before their ADD), miss-triggered cycles, Ec2Guard
 *   upstream          compat, WARM_ENI_TARGET=1, a pool cycle every 5 s, the SDK's retryer
 * In-process replay (bench/burst/: the real PoolManager + Executor + planner over sim-ec2's
 * model on a simulated clock; addr-broker and kubelet modelled, failed ADDs retried after
 * 1 s). Measures time until every pod has its address, failed ADDs (CNI error 11), EC2 calls.
 *   node_modules/.bin/bun bench/burst.ts [--seed N] [--pods N] [--instance-type T]
 */
import { buildCluster, percentile } from "./burst/cluster.ts";
import { intFlag, strFlag } from "./lib/args.ts";
import type { Flavour } from "./burst/sim-node.ts";

const argv = process.argv.slice(2);

const seed = intFlag(argv, "seed", 1);
const podCount = intFlag(argv, "pods", 100);
const instanceType = strFlag(argv, "instance-type", "m5.4xlarge");
const SETTLE_MS = 120_000;
const AFTER_MS = 120_000;

interface BurstResult {
  allAddressedS: number;
  p50S: number;
  p99S: number;
  failedAdds: number;
  podsFailedOnce: number;
  calls: number;
  untilAll: number;
  mutating: number;
  throttled: number;
  byAction: Record<string, number>;
  heldBefore: number;
  enisBefore: number;
  heldAfter: number;
  enisAfter: number;
  created: { attached: number; deleteOnTermination: number; detached: number };
}

async function burst(flavour: Flavour): Promise<BurstResult> {
  const c = buildCluster({ flavour, seed, nodes: 1, instanceType });
  const node = c.nodes[0]!;
  void node.start();
  await c.sim.run(SETTLE_MS);
  if (!node.ready) throw new Error(`${flavour}: pool-manager not ready after ${SETTLE_MS / 1000} s`);
  const heldBefore = node.held();
  const enisBefore = node.enis();
  c.account.resetCounts();
  const t0 = c.sim.t;
  for (let i = 0; i < podCount; i++) node.bindPod(t0, 1_000 + c.random() * 2_000);
  await c.sim.run(t0 + 600_000, () => node.addressed() === podCount);
  const allAddressedS = (c.sim.t - t0) / 1000;
  const waits = node.pods.map((p) => ((p.addressedAt ?? c.sim.t) - (p.firstAddAt ?? t0)) / 1000);
  const untilAll = c.account.totals().calls;
  // What the burst still causes after the last pod (ENIs in flight, follow-up cycles).
  await c.sim.run(t0 + AFTER_MS);
  const tot = c.account.totals();
  const byAction = Object.fromEntries(Object.entries(c.account.calls).map(([a, x]) => [a, x.ok + x.throttled + x.error]));
  return {
    allAddressedS,
    p50S: percentile(waits, 50),
    p99S: percentile(waits, 99),
    failedAdds: node.failedAdds,
    podsFailedOnce: node.pods.filter((p) => p.failures > 0).length,
    ...tot,
    untilAll,
    byAction,
    heldBefore,
    enisBefore,
    heldAfter: node.held(),
    enisAfter: node.enis(),
    created: node.createdEnis(),
  };
}

const git = (args: string[]) => Bun.spawnSync(["git", ...args], { cwd: import.meta.dir }).stdout.toString().trim();
const dirty = git(["status", "--porcelain", "--", "services", "shared"]).split("\n").filter(Boolean).length;
const t0 = performance.now();
const p = await burst("project");
const u = await burst("upstream");
const elapsed = (performance.now() - t0) / 1000;

const ratio = (a: number, b: number) => (b === 0 ? (a === 0 ? "1.00" : "∞") : (a / b).toFixed(2));
const pad = (s: string | number, n: number) => String(s).padEnd(n);
console.log(`burst: ${podCount} pods bound at once to one ${instanceType} node (pool at its default targets), simulated EC2 (create+attach ≈ 1 s, IMDS lag 1–5 s), seed ${seed}`);
console.log(`measured on ${git(["rev-parse", "--short", "HEAD"])}${dirty ? ` + ${dirty} uncommitted file(s) in services/ and shared/` : ""}; ${navigator.hardwareConcurrency} CPUs`);
console.log("in-process replay: real PoolManager/Executor/planner over sim-ec2's model, simulated clock; addr-broker and kubelet modelled\n");
console.log("ratios, project defaults ÷ upstream (WARM_ENI_TARGET=1); below 1 is better");
console.log(`  time until every pod has its address  ${ratio(p.allAddressedS, u.allAddressedS)}`);
console.log(`  ADD latency p50 / p99                  ${ratio(p.p50S, u.p50S)} / ${ratio(p.p99S, u.p99S)}`);
console.log(`  failed ADDs (CNI error 11)             ${ratio(p.failedAdds, u.failedAdds)}`);
console.log(`  EC2 calls (mutating)                   ${ratio(p.calls, u.calls)} (${ratio(p.mutating, u.mutating)})`);
console.log(`\nabsolutes (EC2 calls: until every pod had its address / within ${AFTER_MS / 1000} s of the burst; pool: addresses held (ENIs) before → ${AFTER_MS / 1000} s after)`);
console.log(pad("config", 20) + pad("all addr. s", 13) + pad("ADD p50/p99 s", 15) + pad("failed ADDs", 13) + pad("pods failed", 13) + pad("EC2 calls", 16) + pad("mutating", 10) + pad("throttled", 11) + "pool before → after (ENIs)");
for (const [name, r] of [["project defaults", p], ["upstream", u]] as const) {
  console.log(
    pad(name, 20) + pad(r.allAddressedS.toFixed(1), 13) + pad(`${r.p50S.toFixed(1)}/${r.p99S.toFixed(1)}`, 15) + pad(r.failedAdds, 13) + pad(`${r.podsFailedOnce}/${podCount}`, 13) + pad(`${r.untilAll} / ${r.calls}`, 16) + pad(r.mutating, 10) + pad(r.throttled, 11) + `${r.heldBefore} (${r.enisBefore}) → ${r.heldAfter} (${r.enisAfter})`,
  );
}
for (const [name, r] of [["project defaults", p], ["upstream", u]] as const) console.log(`  ${name}: created ENIs attached ${r.created.attached}, with DeleteOnTermination ${r.created.deleteOnTermination}; detached (leaked) ${r.created.detached}`);
for (const [name, r] of [["project defaults", p], ["upstream", u]] as const) console.log(`  ${name} calls: ${Object.entries(r.byAction).map(([a, n]) => `${a} ${n}`).join(", ")}`);
console.log(`\n(${elapsed.toFixed(1)} s) reproduce: node_modules/.bin/bun bench/burst.ts --seed ${seed}${podCount !== 100 ? ` --pods ${podCount}` : ""}${instanceType !== "m5.4xlarge" ? ` --instance-type ${instanceType}` : ""}`);
