/**
 * Pool churn benchmark: one seeded day of pod
 * churn (diurnal load, deployment waves, cron jobs; bench/pool-churn/trace.ts), compressed
 * into 6 simulated hours, replayed on three instance types against the pool planner and
 * the pool-manager's real Executor over the simulated EC2 (in-process, simulated clock;
 * bench/pool-churn/replay.ts). Side by side, in one run, on the same trace:
 *   upstream defaults  compat, WARM_ENI_TARGET=1, cooling counted as available (as upstream)
 *   upstream tuned     compat, WARM_IP_TARGET=5, MINIMUM_IP_TARGET=10 (cooling as upstream)
 *   project defaults   the demand policy (AWS_VPC_CNI_POOL_POLICY unset, no upstream target set)
 * Counts: time-weighted mean held-but-unused addresses, EC2 mutating calls (every attempt,
 * "in use" retries of DeleteNetworkInterface included), throttled calls, pods whose ADD
 * found no free address while the node could have held one more (waits with every address
 * the instance can hold assigned or cooling are shown apart: no policy avoids them).
 * Pods are scheduled 1–3 s before their ADD; the project's app sees them through its pod
 * watch, upstream's ipamd does not look. Prints ratios first, then absolutes, then the command.
 * With --bound, also the least idle any policy could reach with as many address calls as the
 * project made, and as upstream defaults made (bench/pool-churn/bound.ts: clairvoyant, each
 * call free to add or release any number of addresses; no pod waits), to read the idle
 * figures against what is possible at all.
 *   node_modules/.bin/bun bench/pool-churn.ts [--seed N] [--nodes-sharing-account N] [--bound] [--calls]
 */
import { instanceTypeLimits } from "../deploy/local/sim-ec2/index.ts";
import { maxPods as kubeletMaxPods } from "../services/pool-manager/src/core/max-pods.ts";
import { PROJECT_DEFAULTS, UPSTREAM_DEFAULTS, type PoolSettings } from "../services/pool-manager/src/core/settings.ts";
import { hasFlag, intFlag } from "./lib/args.ts";
import { idleLowerBound } from "./pool-churn/bound.ts";
import { replay, type ReplayResult } from "./pool-churn/replay.ts";
import { podTrace } from "./pool-churn/trace.ts";

const argv = process.argv.slice(2);
const seed = intFlag(argv, "seed", 42);
const sharing = intFlag(argv, "nodes-sharing-account", 1);
const DAY_MS = 6 * 3_600_000;
const TYPES = ["t3.medium", "m5.large", "c5.4xlarge"];
const CONFIGS: { name: string; settings: PoolSettings; projectApp: boolean }[] = [
  { name: "upstream defaults", settings: { ...UPSTREAM_DEFAULTS }, projectApp: false },
  { name: "upstream tuned", settings: { ...UPSTREAM_DEFAULTS, warmIpTarget: 5, minimumIpTarget: 10 }, projectApp: false },
  { name: "project defaults", settings: { ...PROJECT_DEFAULTS }, projectApp: true },
];

const t0 = performance.now();
const results: { type: string; pods: number; maxPods: number; byConfig: Map<string, ReplayResult>; bound?: { project: number; defaults: number } }[] = [];
for (const type of TYPES) {
  const lim = instanceTypeLimits(type)!;
  const maxPods = kubeletMaxPods(lim, { prefixDelegation: false, customNetworking: false });
  const capacity = Math.min(maxPods, lim.maxEnis * (lim.ipv4PerEni - 1));
  const pods = podTrace({ seed, capacity, dayMs: DAY_MS });
  const byConfig = new Map<string, ReplayResult>();
  for (const c of CONFIGS) {
    byConfig.set(c.name, await replay({ instanceType: type, settings: c.settings, projectApp: c.projectApp, pods, endMs: DAY_MS + 30 * 60_000, maxPods, capacity, cooldownMs: 30_000, bucketScale: 1 / sharing, seed }));
  }
  let bound: { project: number; defaults: number } | undefined;
  if (hasFlag(argv, "bound")) {
    const least = (calls: number) => {
      const b = idleLowerBound(pods, 30_000, DAY_MS + 30 * 60_000, calls);
      return b.meanCooling + b.meanFree;
    };
    bound = { project: least(byConfig.get("project defaults")!.mutatingCalls), defaults: least(byConfig.get("upstream defaults")!.mutatingCalls) };
  }
  results.push({ type, pods: pods.length, maxPods, byConfig, ...(bound ? { bound } : {}) });
}
const elapsed = (performance.now() - t0) / 1000;

const ratio = (a: number, b: number) => (b === 0 ? (a === 0 ? "1.00" : "∞") : (a / b).toFixed(2));
const pad = (s: string, n: number) => s.padEnd(n);
console.log(`pool-churn: seed ${seed}, a day of churn compressed into 6 simulated hours, ${sharing} node(s) sharing the account's EC2 buckets`);
console.log("\nratios, project defaults ÷ upstream (below 1 is better; waited pods: no more than the fewer of the two upstream configurations is the target)");
console.log(pad("instance", 12) + pad("vs", 20) + pad("idle addr", 11) + pad("EC2 mut.", 10) + pad("throttled", 11) + "waited pods");
for (const r of results) {
  const p = r.byConfig.get("project defaults")!;
  for (const base of ["upstream defaults", "upstream tuned"]) {
    const u = r.byConfig.get(base)!;
    console.log(pad(r.type, 12) + pad(base, 20) + pad(ratio(p.meanIdle, u.meanIdle), 11) + pad(ratio(p.mutatingCalls, u.mutatingCalls), 10) + pad(ratio(p.throttled, u.throttled), 11) + ratio(p.waitedPods, u.waitedPods));
  }
}
console.log("\nabsolutes");
console.log(pad("instance", 12) + pad("config", 20) + pad("idle addr", 11) + pad("cooling", 9) + pad("ENIs", 7) + pad("EC2 mut.", 10) + pad("throttled", 11) + pad("waited pods", 13) + pad("wait s*", 8) + "waited at capacity");
for (const r of results) {
  for (const [name, x] of r.byConfig) {
    console.log(pad(r.type, 12) + pad(name, 20) + pad(x.meanIdle.toFixed(1), 11) + pad(x.meanCooling.toFixed(1), 9) + pad(x.meanEnis.toFixed(2), 7) + pad(String(x.mutatingCalls), 10) + pad(String(x.throttled), 11) + pad(`${x.waitedPods}/${x.pods}`, 13) + pad(x.waitSeconds.toFixed(0), 8) + x.waitedAtCapacity);
  }
}
if (hasFlag(argv, "calls")) {
  for (const r of results) for (const [name, x] of r.byConfig) console.log(`${r.type} ${name}: ${JSON.stringify(x.byAction)}`);
}
console.log("* wait s: seconds all waiting pods waited, those at capacity included");
if (results.some((r) => r.bound)) {
  console.log("\nleast idle any policy could reach (clairvoyant, no pod waiting; cooling addresses included), with as many calls as");
  console.log(pad("instance", 12) + pad("project", 10) + "upstream defaults");
  for (const r of results) if (r.bound) console.log(pad(r.type, 12) + pad(r.bound.project.toFixed(1), 10) + r.bound.defaults.toFixed(1));
}
console.log(`\n(${elapsed.toFixed(1)} s) reproduce: node_modules/.bin/bun bench/pool-churn.ts --seed ${seed}${sharing > 1 ? ` --nodes-sharing-account ${sharing}` : ""}`);
