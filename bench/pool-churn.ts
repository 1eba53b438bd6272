/**
 * Pool churn benchmark: one seeded pod-churn trace (bursty arrivals, random lifetimes,
 * 30 s address cooldown) replayed on a simulated clock against the pool planner, once
 * with upstream's defaults (WARM_ENI_TARGET=1, cooling counted as available, no demand
 * awareness) and once with the project's defaults. EC2 calls are counted per action as
 * the executor makes them (assign/release 1, create ENI 3: create+attach+modify,
 * delete ENI 2: detach+delete). Prints ratios first, then absolutes and the command.
 *   bun bench/pool-churn.ts [seed]
 * Note: the planner and a counting pool model run here, not the executor over the
 * simulated EC2 (that variant is not built yet).
 */
import { plan } from "../services/pool-manager/src/core/planner.ts";
import { FakePool, M5_LARGE, freshNode } from "../services/pool-manager/src/core/pool-fixture.ts";
import { PROJECT_DEFAULTS, UPSTREAM_DEFAULTS, type PoolSettings } from "../services/pool-manager/src/core/settings.ts";

const seed = Number(process.argv[2] ?? 42);
function rng(s: number) {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Pod { start: number; life: number }
function trace(): Pod[] {
  const r = rng(seed);
  const pods: Pod[] = [];
  for (let t = 0; t < 2 * 3600_000; t += 5_000) {
    const burst = r() < 0.004 ? 6 + Math.floor(r() * 6) : r() < 0.12 ? 1 : 0;
    for (let i = 0; i < burst; i++) pods.push({ start: t, life: 30_000 + Math.floor(r() * 300_000) });
  }
  return pods;
}

function run(s: PoolSettings) {
  const pool = new FakePool(freshNode());
  const assigned = new Map<string, number>(); // cidr → pod end time
  const cooling = new Map<string, number>(); // cidr → cooling until
  const queue: Pod[] = [];
  let calls = 0, idleSum = 0, steps = 0, waited = 0;
  const pods = trace();
  let next = 0;
  for (let now = 0; now < 2 * 3600_000 + 900_000; now += 5_000) {
    for (const [c, end] of assigned) if (end <= now) { assigned.delete(c); cooling.set(c, now + 30_000); }
    for (const [c, until] of cooling) if (until <= now) cooling.delete(c);
    while (next < pods.length && pods[next]!.start <= now) queue.push(pods[next++]!);
    const place = () => {
      const free = pool.state.enis.flatMap((e) => e.cidrs).filter((c) => !assigned.has(c.cidr) && !cooling.has(c.cidr) && !c.draining);
      while (queue.length && free.length) { const p = queue.shift()!; assigned.set(free.shift()!.cidr, now + p.life); }
    };
    const before = queue.length;
    place();
    waited += queue.length > 0 && before > 0 ? queue.length : 0;
    const byCidr: Record<string, { assigned: number; cooling: number }> = {};
    for (const c of assigned.keys()) byCidr[c] = { assigned: 1, cooling: 0 };
    for (const c of cooling.keys()) byCidr[c] = { assigned: 0, cooling: 1 };
    const p = plan(pool.state, { byCidr, newMisses: queue.length, waiting: queue.length, pendingPods: 0 }, s, M5_LARGE, now);
    for (const a of p.actions) calls += a.kind === "createEni" ? 3 : a.kind === "deleteEni" ? 2 : 1;
    pool.apply(p.actions, now);
    place();
    const total = pool.state.enis.reduce((n, e) => n + e.cidrs.length, 0);
    idleSum += total - assigned.size;
    steps++;
  }
  return { calls, meanIdle: idleSum / steps, waited };
}

const upstream = run({ ...UPSTREAM_DEFAULTS });
const project = run({ ...PROJECT_DEFAULTS });
const ratio = (a: number, b: number) => (b === 0 ? (a === 0 ? "1.00" : "∞") : (a / b).toFixed(2));
console.log(`pool-churn (seed ${seed}, m5.large, 2 h trace, ${trace().length} pods), project / upstream:`);
console.log(`  EC2 calls             ${ratio(project.calls, upstream.calls)}`);
console.log(`  mean idle addresses   ${ratio(project.meanIdle, upstream.meanIdle)}`);
console.log(`  pod-waits (5 s steps) ${ratio(project.waited, upstream.waited)}`);
console.log("absolutes:");
console.log(`  upstream: calls ${upstream.calls}, mean idle ${upstream.meanIdle.toFixed(1)}, pod-waits ${upstream.waited}`);
console.log(`  project:  calls ${project.calls}, mean idle ${project.meanIdle.toFixed(1)}, pod-waits ${project.waited}`);
console.log(`command: bun bench/pool-churn.ts ${seed}`);
