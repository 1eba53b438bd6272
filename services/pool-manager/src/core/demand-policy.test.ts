// Demand policy tables. Assumptions unless a row says otherwise: m5.large (9 secondary slots
// per ENI, 3 ENIs), max pods 29, PROJECT_DEFAULTS (policy demand), DEMAND_TUNING (lead 10 s,
// floor 2, slack 4, headroom 2, release delay 5 min, ENI delay 30 min), now = 1 000 000 ms.
import { describe, expect, test } from "bun:test";
import { recordDemand, peakArrivals, peakAssigned, type DemandHistory } from "./demand-history.ts";
import { DEMAND_TUNING, planDemand } from "./demand-policy.ts";
import { FakePool, M5_LARGE, freshNode } from "./pool-fixture.ts";
import type { PoolState, PoolUsage } from "./pool-state.ts";
import { PROJECT_DEFAULTS, type PoolSettings } from "./settings.ts";

const NOW = 1_000_000;
const s = (o: Partial<PoolSettings> = {}): PoolSettings => ({ ...PROJECT_DEFAULTS, ...o });

/** Primary with `n` /32s, optionally a second ENI with `m` created at `at`. */
function node(n: number, m?: { count: number; at: number }): FakePool {
  const pool = new FakePool(freshNode());
  if (n > 0) pool.apply([{ kind: "assign", eniId: "eni-0", cidrKind: "address", count: n, reason: "" }], 0);
  if (m) pool.apply([{ kind: "createEni", cidrKind: "address", count: m.count, reason: "" }], m.at);
  return pool;
}

/** The first `assigned` CIDRs assigned, the next `cooling` cooling. */
function use(state: PoolState, assigned: number, cooling = 0, extra: Partial<PoolUsage> = {}): PoolUsage {
  const byCidr: PoolUsage["byCidr"] = {};
  state.enis.flatMap((e) => e.cidrs).forEach((c, i) => {
    if (i < assigned) byCidr[c.cidr] = { assigned: 1, cooling: 0 };
    else if (i < assigned + cooling) byCidr[c.cidr] = { assigned: 0, cooling: 1 };
  });
  return { byCidr, newMisses: 0, waiting: 0, pendingPods: 0, ...extra };
}

/** A history with `arrivals` pods arriving at `at` on top of `assigned` held since `since`. */
function history(points: Array<[at: number, assigned: number]>): DemandHistory {
  let h: DemandHistory | undefined;
  for (const [at, a] of points) h = recordDemand(h, at, a, 0, 3_600_000);
  return h!;
}

describe("demand history", () => {
  test("arrivals are rises of the assigned count; misses count once", () => {
    let h = recordDemand(undefined, 0, 0, 0, 60_000);
    h = recordDemand(h, 1_000, 3, 0, 60_000); // 3 arrived
    h = recordDemand(h, 2_000, 2, 0, 60_000); // 1 left
    h = recordDemand(h, 3_000, 2, 4, 60_000); // 4 missed
    h = recordDemand(h, 4_000, 6, 4, 60_000); // the 4 got addresses: not counted again
    expect(h.samples.map((x) => x.arrivals)).toEqual([0, 3, 0, 4, 4]);
    expect(peakArrivals(h, 4_000, 1_500, 60_000)).toBe(8);
    expect(peakAssigned(h, 4_000, 10_000, 0)).toBe(6);
  });

  test("samples older than the keep span are dropped", () => {
    let h = recordDemand(undefined, 0, 5, 0, 10_000);
    h = recordDemand(h, 20_000, 5, 0, 10_000);
    expect(h.samples.length).toBe(1);
  });
});

describe("grow", () => {
  test("empty node, no history: the floor plus headroom, in one call", () => {
    const pool = node(0);
    const p = planDemand(pool.state, use(pool.state, 0), s(), M5_LARGE, NOW);
    expect(p.actions).toEqual([expect.objectContaining({ kind: "assign", eniId: "eni-0", count: DEMAND_TUNING.floor + DEMAND_TUNING.growHeadroom })]);
  });

  test("a burst seen in the history sizes the buffer: 6 arrivals within the lead time → 6 free wanted", () => {
    const pool = node(8);
    pool.state.demand = history([[NOW - 60_000, 0], [NOW - 55_000, 6]]);
    // 6 assigned, 2 free: want 6 + 6 = 12 → grow 4 + headroom 2 = 6, primary has 1 slot, new ENI 5.
    const p = planDemand(pool.state, use(pool.state, 6), s(), M5_LARGE, NOW);
    expect(p.actions.map((a) => [a.kind, "count" in a ? a.count : 0])).toEqual([["assign", 1], ["createEni", 5]]);
  });

  test("cooling addresses are not free: 2 assigned + 2 cooling of 4 is short", () => {
    const pool = node(4);
    const p = planDemand(pool.state, use(pool.state, 2, 2), s(), M5_LARGE, NOW);
    expect(p.low).toBe(true);
    expect(p.actions[0]).toMatchObject({ kind: "assign", count: 4 });
  });

  test("waiting pods are added at once, without headroom, across ENIs in one step", () => {
    const pool = node(9);
    const p = planDemand(pool.state, use(pool.state, 9, 0, { waiting: 12 }), s(), M5_LARGE, NOW);
    // 9 assigned, want 12 + floor 2 = 14 free → two new ENIs (9 + 5) in the same plan.
    expect(p.actions.map((a) => [a.kind, "count" in a ? a.count : 0])).toEqual([["createEni", 9], ["createEni", 5]]);
  });

  test("pending pods (Kubernetes) count as urgent demand", () => {
    const pool = node(4);
    const p = planDemand(pool.state, use(pool.state, 0, 0, { pendingPods: 5 }), s(), M5_LARGE, NOW);
    expect(p.actions[0]).toMatchObject({ kind: "assign", count: 3 });
  });

  test("WARM_IP_TARGET and MINIMUM_IP_TARGET are floors", () => {
    const pool = node(0);
    expect(planDemand(pool.state, use(pool.state, 0), s({ warmIpTarget: 6 }), M5_LARGE, NOW).actions[0]).toMatchObject({ count: 8 });
    expect(planDemand(pool.state, use(pool.state, 0), s({ minimumIpTarget: 9 }), M5_LARGE, NOW).actions[0]).toMatchObject({ count: 9 });
  });

  test("not while the node terminates; the shortage says why", () => {
    const pool = node(0);
    pool.state.node.terminating = true;
    const p = planDemand(pool.state, use(pool.state, 0), s(), M5_LARGE, NOW);
    expect(p.actions).toEqual([]);
    expect(p.shortage).toContain("terminating");
  });
});

describe("release with hysteresis", () => {
  test("a surplus within the slack is kept (no call)", () => {
    const pool = node(8);
    // 0 assigned, buffer 2: keep 2, surplus 6 > slack 4 would release — but 5 min ago 4 were held.
    pool.state.demand = history([[NOW - 200_000, 4], [NOW - 100_000, 0]]);
    expect(planDemand(pool.state, use(pool.state, 0), s(), M5_LARGE, NOW).actions).toEqual([]);
  });

  test("a surplus that persisted past the delay is released in one call, down to the buffer", () => {
    const pool = node(9);
    pool.state.demand = history([[NOW - 400_000, 9], [NOW - 350_000, 1]]);
    // 1 assigned, buffer 2 → keep 3; 6 idle released, the assigned one stays.
    const p = planDemand(pool.state, use(pool.state, 1), s(), M5_LARGE, NOW);
    expect(p.actions.length).toBe(1);
    expect(p.actions[0]).toMatchObject({ kind: "release", eniId: "eni-0" });
    expect(p.actions[0]!.kind === "release" && p.actions[0]!.cidrs.length).toBe(6);
  });

  test("the same surplus held within the delay is kept (the peak is remembered)", () => {
    const pool = node(9);
    pool.state.demand = history([[NOW - 200_000, 9], [NOW - 150_000, 1]]);
    expect(planDemand(pool.state, use(pool.state, 1), s(), M5_LARGE, NOW).actions).toEqual([]);
  });

  test("cooling and assigned addresses are never released", () => {
    const pool = node(9);
    pool.state.demand = history([[NOW - 400_000, 1]]);
    // 1 assigned + 8 cooling: nothing free, so the pool grows instead of releasing anything.
    const p = planDemand(pool.state, use(pool.state, 1, 8), s(), M5_LARGE, NOW);
    expect(p.actions.filter((a) => a.kind === "release" || a.kind === "deleteEni")).toEqual([]);
    expect(p.low).toBe(true);
  });

  test("at most one release per 30 s", () => {
    const pool = node(9);
    pool.state.demand = history([[NOW - 400_000, 0]]);
    pool.state.lastShrinkAtMs = NOW - 10_000;
    expect(planDemand(pool.state, use(pool.state, 0), s(), M5_LARGE, NOW).actions).toEqual([]);
  });

  test("an empty secondary ENI goes only after the ENI delay and when older than a minute", () => {
    const young = node(9, { count: 0, at: NOW - 30_000 });
    young.state.demand = history([[NOW - 3_000_000, 0]]);
    expect(planDemand(young.state, use(young.state, 3), s(), M5_LARGE, NOW).actions).toEqual([]);
    const needed = node(9, { count: 0, at: 0 });
    needed.state.demand = history([[NOW - 600_000, 12], [NOW - 500_000, 3]]);
    expect(planDemand(needed.state, use(needed.state, 3), s(), M5_LARGE, NOW).actions).toEqual([]);
    const unneeded = node(9, { count: 0, at: 0 });
    unneeded.state.demand = history([[NOW - 3_000_000, 3]]);
    expect(planDemand(unneeded.state, use(unneeded.state, 3), s(), M5_LARGE, NOW).actions).toEqual([expect.objectContaining({ kind: "deleteEni", eniId: "eni-1" })]);
  });
});
