// Demand policy tables. Assumptions unless a row says otherwise: m5.large (9 secondary slots
// per ENI, 3 ENIs), max pods 29, PROJECT_DEFAULTS (policy demand), the tuning T below (lead
// 10 s over 5 min, floor 1, headroom 2, release delay 60 s, slack 2, churn band spacing 20 min
// over a 15-min rate window, burst room over 1 h, ENI delay 2 h), pods not watched, now = 10 000 000 ms.
import { describe, expect, test } from "bun:test";
import { recordDemand, recordScheduled, type DemandHistory } from "./demand-history.ts";
import { planDemand, type DemandTuning } from "./demand-policy.ts";
import { FakePool, M5_LARGE, freshNode } from "./pool-fixture.test-support.ts";
import type { PoolState, PoolUsage } from "./pool-state.ts";
import { PROJECT_DEFAULTS, type PoolSettings } from "./settings.ts";

const NOW = 10_000_000;
const T: DemandTuning = { leadMs: 10_000, horizonMs: 300_000, floor: 1, growHeadroom: 2, releaseDelayMs: 60_000, slack: 2, bandSpacingMs: 1_200_000, rateWindowMs: 900_000, roomHorizonMs: 3_600_000, eniReleaseDelayMs: 7_200_000, burstGapMs: 2_000, statusLagMs: 1_000 };
const planOf = (pool: FakePool, usage: PoolUsage, o: Partial<PoolSettings> = {}) => planDemand(pool.state, usage, s(o), M5_LARGE, NOW, T);
const shape = (p: { actions: Array<{ kind: string; eniId?: string; count?: number; cidrs?: string[] }> }) =>
  p.actions.map((a) => [a.kind, a.eniId ?? "", a.count ?? a.cidrs?.length ?? 0]);
const s = (o: Partial<PoolSettings> = {}): PoolSettings => ({ ...PROJECT_DEFAULTS, ...o });

/** Primary with `n` /32s, optionally more ENIs with `m.count` /32s each created at `at`. */
function node(n: number, m?: { count: number; at: number; enis?: number }): FakePool {
  const pool = new FakePool(freshNode());
  if (n > 0) pool.apply([{ kind: "assign", eniId: "eni-0", cidrKind: "address", count: n, reason: "" }], 0);
  for (let i = 0; m && i < (m.enis ?? 1); i++) pool.apply([{ kind: "createEni", cidrKind: "address", count: m.count, reason: "" }], m.at);
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

describe("grow", () => {
  test("empty node, no history: the floor plus headroom, in one call", () => {
    const pool = node(0);
    // want 1 free (floor) → 1 + headroom 2.
    expect(shape(planOf(pool, use(pool.state, 0)))).toEqual([["assign", "eni-0", 3]]);
  });

  test("pods not watched: a burst seen in the history sizes the buffer (6 arrivals within the lead time → 6 free)", () => {
    const pool = node(8);
    pool.state.demand = history([[NOW - 60_000, 0], [NOW - 55_000, 6]]);
    // 6 assigned, 2 free: want 12 → grow 4 + headroom 2 = 6; the primary has 1 slot, so 1 there and a new ENI with 5.
    expect(shape(planOf(pool, use(pool.state, 6)))).toEqual([["assign", "eni-0", 1], ["createEni", "", 5]]);
  });

  test("pods watched: the same burst buys no buffer (pods are seen before their ADD), only ENI room ahead once free addresses carry a burst", () => {
    const pool = node(8);
    pool.state.demand = history([[NOW - 60_000, 0], [NOW - 55_000, 6]]);
    // 2 free ≥ floor 1: no grow. The attached ENIs have room 1 < the burst of 6, but 2 free
    // would not carry a burst of 6 through the ENI's creation: the ENI waits.
    const p = planOf(pool, use(pool.state, 6, 0, { podsWatched: true }));
    expect(p.low).toBe(false);
    expect(p.actions).toEqual([]);
    // 6 free (9 held, 3 assigned), room 0: the empty ENI is created ahead.
    const carried = node(9);
    carried.state.demand = history([[NOW - 60_000, 0], [NOW - 55_000, 6], [NOW - 50_000, 3]]);
    expect(shape(planOf(carried, use(carried.state, 3, 0, { podsWatched: true })))).toEqual([["createEni", "", 0]]);
  });

  test("pods watched, none pending: no call for the floor alone (the next pod's grow carries it), unless WARM/MINIMUM_IP_TARGET ask", () => {
    const pool = node(0);
    expect(planOf(pool, use(pool.state, 0, 0, { podsWatched: true })).actions).toEqual([]);
    // One pod scheduled: its grow brings the floor and the headroom in the same call.
    expect(shape(planOf(pool, use(pool.state, 0, 0, { podsWatched: true, pendingPods: 1 })))).toEqual([["assign", "eni-0", 4]]);
    expect(shape(planOf(pool, use(pool.state, 0, 0, { podsWatched: true }), { warmIpTarget: 2 }))).toEqual([["assign", "eni-0", 4]]);
    expect(shape(planOf(pool, use(pool.state, 0, 0, { podsWatched: true }), { minimumIpTarget: 3 }))).toEqual([["assign", "eni-0", 5]]);
  });

  test("account throttling this node: a grow fills each ENI it calls on (calls are scarce, not addresses), and nothing is released", () => {
    const pool = node(2);
    pool.state.ec2Busy = true;
    // 3 pending, 2 free: 4 wanted as above, but the call fills eni-0's 7 free slots.
    expect(shape(planOf(pool, use(pool.state, 0, 0, { pendingPods: 3, podsWatched: true })))).toEqual([["assign", "eni-0", 7]]);
    const surplus = node(9);
    surplus.state.demand = history([[NOW - 400_000, 0]]);
    surplus.state.ec2Busy = true;
    expect(planOf(surplus, use(surplus.state, 0, 0, { podsWatched: true })).actions).toEqual([]);
    surplus.state.ec2Busy = false;
    expect(planOf(surplus, use(surplus.state, 0, 0, { podsWatched: true })).actions.map((a) => a.kind)).toEqual(["release"]);
  });

  test("ENI room ahead: not while the account throttles this node, and never a second empty ENI", () => {
    const burst = (pool: FakePool) => (pool.state.demand = history([[NOW - 60_000, 0], [NOW - 55_000, 6]]));
    // The same node as above, but the account is throttling its addressing calls: other nodes' pods first.
    const busy = node(8);
    burst(busy);
    busy.state.ec2Busy = true;
    expect(planOf(busy, use(busy.state, 6, 0, { podsWatched: true })).actions).toEqual([]);
    // One empty ENI is there already (young, so not deleted): the room rule adds no second one.
    const spare = node(8, { count: 0, at: NOW - 30_000 });
    spare.state.demand = history([[NOW - 60_000, 0], [NOW - 55_000, 40]]);
    expect(planOf(spare, use(spare.state, 6, 0, { podsWatched: true })).actions).toEqual([]);
    // A burst of 20 after which the ENIs have room 1: one more ENI (9 slots) would not hold a
    // repeat, which would wait for a create round all the same: no ENI ahead.
    const big = node(8);
    big.state.demand = history([[NOW - 60_000, 0], [NOW - 55_000, 20]]);
    expect(planOf(big, use(big.state, 6, 0, { podsWatched: true })).actions).toEqual([]);
  });

  test("ENI room ahead only in a lull: not while pods of a burst are still being scheduled (a cycle creating an ENI serves no pod)", () => {
    const burstThenNow = (pool: FakePool, lastArrivalAgoMs: number) =>
      (pool.state.demand = history([[NOW - 60_000, 0], [NOW - 55_000, 6], [NOW - lastArrivalAgoMs, 8]]));
    // 2 pods arrived 3 s ago (a wave still arriving): the ENI waits.
    const arriving = node(9);
    burstThenNow(arriving, 3_000);
    expect(planOf(arriving, use(arriving.state, 3, 0, { podsWatched: true })).actions).toEqual([]);
    // A pod pending (scheduled, no address yet), free addresses enough: no ENI either.
    const pending = node(9);
    burstThenNow(pending, 30_000);
    expect(planOf(pending, use(pending.state, 3, 0, { podsWatched: true, pendingPods: 1 })).actions).toEqual([]);
    // Quiet for the lead time (10 s), 6 free (more than the typical burst): the ENI ahead is created.
    const quiet = node(9);
    burstThenNow(quiet, 30_000);
    expect(shape(planOf(quiet, use(quiet.state, 3, 0, { podsWatched: true })))).toEqual([["createEni", "", 0]]);
  });

  test("scheduled pods: exactly the pending pods plus the floor and headroom, not the pending count again", () => {
    const pool = node(2);
    // 3 pending, 2 free: want 3 + 1 = 4 free → 2 short + headroom 2 = 4, in one call.
    expect(shape(planOf(pool, use(pool.state, 0, 0, { pendingPods: 3, podsWatched: true })))).toEqual([["assign", "eni-0", 4]]);
  });

  // Pending pods are counted once, against addresses already free or being added (an ENI
  // created in an earlier cycle, not yet in IMDS, is in the pool with its addresses).
  const covered: Array<[string, { free: number; inFlight: number; pending: number; misses?: number }, Array<[string, string, number]>]> = [
    ["none free, none in flight: pending + floor + headroom", { free: 0, inFlight: 0, pending: 4 }, [["assign", "eni-0", 7]]],
    ["3 free: only the rest is grown", { free: 3, inFlight: 0, pending: 4 }, [["assign", "eni-0", 4]]],
    ["an ENI with 6 being added covers the 4 pending: no grow", { free: 0, inFlight: 6, pending: 4 }, []],
    ["an ENI with 4 being added: 5 pending + floor − 4 + headroom", { free: 0, inFlight: 4, pending: 5 }, [["assign", "eni-0", 4]]],
    ["pods watched: 40 misses of the 4 pending pods' retried ADDs count as 4", { free: 0, inFlight: 0, pending: 4, misses: 40 }, [["assign", "eni-0", 7]]],
  ];
  for (const [name, c, want] of covered) {
    test(`pending pods counted once: ${name}`, () => {
      // Primary: 2 assigned + `free` free; a second ENI (created just now) with `inFlight` addresses.
      const pool = node(2 + c.free, c.inFlight ? { count: c.inFlight, at: NOW - 1_000 } : undefined);
      expect(shape(planOf(pool, use(pool.state, 2, 0, { pendingPods: c.pending, podsWatched: true, newMisses: c.misses ?? 0 })))).toEqual(want);
    });
  }

  test("100 pods scheduled at once on an m5.4xlarge-like node: one grow of ~100, not 200", () => {
    const pool = node(0);
    const limits = { ...M5_LARGE, maxEnis: 8, ipv4PerEni: 30, maxPods: 234 };
    const p = planDemand(pool.state, use(pool.state, 0, 0, { pendingPods: 100, podsWatched: true }), s(), limits, NOW, T);
    const added = p.actions.reduce((n, a) => n + (a.kind === "assign" || a.kind === "createEni" ? a.count : 0), 0);
    expect(added).toBeGreaterThanOrEqual(101);
    expect(added).toBeLessThanOrEqual(101 + 29);
    expect(p.actions.filter((a) => a.kind === "createEni").length).toBe(3);
  });

  test("pods watched: pods addressed within the status lag (1 s) still show pending; they are not provisioned again", () => {
    const pool = node(9);
    // 4 assigned (2 of them 0.5 s ago), 5 free; the watch still sees those 2 pending.
    pool.state.demand = history([[NOW - 5_000, 2], [NOW - 500, 4]]);
    // 5 pending, 2 of them addressed: 3 + floor 1 = 4 ≤ 5 free → no grow (counted twice: 6 > 5).
    expect(planOf(pool, use(pool.state, 4, 0, { pendingPods: 5, podsWatched: true })).low).toBe(false);
    // With no address given within the lag, 6 pending are short: 7 wanted of 5 free → grow.
    const later = node(9);
    later.state.demand = history([[NOW - 5_000, 4]]);
    expect(planOf(later, use(later.state, 4, 0, { pendingPods: 6, podsWatched: true })).low).toBe(true);
    // Addressed 0.5 s ago, but now waiting ADDs: those always count.
    expect(planOf(pool, use(pool.state, 4, 0, { pendingPods: 2, waiting: 6, podsWatched: true })).low).toBe(true);
  });

  // A burst still arriving (pods watched): the grow brings what the bursts that got as far
  // brought, in this call, instead of one grow per cycle as its pods show up.
  const arriving: Array<[string, number[], number, number]> = [
    // [name, bursts seen (sizes), pods of this burst so far (all pending), addresses added]
    ["no burst seen: pending + floor + headroom", [], 4, 4 + 1 + 2],
    ["bursts of 8 seen, 4 so far: 4 more expected", [8, 8, 8], 4, 4 + 1 + 4],
    ["bursts of 8 and one of 20, 10 so far: only the 20 got this far → 10 more", [8, 8, 20], 10, 10 + 1 + 10],
    ["a lone pod is no burst: headroom only", [8, 8], 1, 1 + 1 + 2],
  ];
  for (const [name, seen, soFar, added] of arriving) {
    test(`burst arriving: ${name}`, () => {
      const pool = new FakePool(freshNode());
      let h: DemandHistory | undefined;
      // Seen 50 min ago: within the burst horizon (1 h), before the rate window (15 min), so the churn band stays at its least.
      seen.forEach((n, i) => (h = recordScheduled(h, NOW - 3_000_000 + i * 150_000, n, 3_600_000)));
      h = recordScheduled(h, NOW - 500, soFar, 3_600_000);
      pool.state.demand = h;
      const limits = { ...M5_LARGE, maxEnis: 4, ipv4PerEni: 30, maxPods: 110 };
      const p = planDemand(pool.state, use(pool.state, 0, 0, { pendingPods: soFar, podsWatched: true }), s(), limits, NOW, T);
      expect(p.actions.reduce((n, a) => n + (a.kind === "assign" || a.kind === "createEni" ? a.count : 0), 0)).toBe(added);
    });
  }

  test("a grow goes into one ENI when one can take it all (one call)", () => {
    const pool = node(8, { count: 0, at: 0 });
    // 8 assigned on eni-0 (1 slot left), 3 pending: want 4 + headroom 2 = 6 → all on eni-1, not 1 + 5.
    expect(shape(planOf(pool, use(pool.state, 8, 0, { pendingPods: 3, podsWatched: true })))).toEqual([["assign", "eni-1", 6]]);
  });

  test("cooling addresses are not free: 2 assigned + 2 cooling of 4 is short", () => {
    const pool = node(4);
    const p = planOf(pool, use(pool.state, 2, 2));
    expect(p.low).toBe(true);
    // 5 wanted (2 + 2 + floor 1) − 4 held + headroom 2.
    expect(shape(p)).toEqual([["assign", "eni-0", 3]]);
  });

  test("waiting pods are added at once, across ENIs in one step, capped by max pods", () => {
    const capped = node(9);
    // 9 assigned, 25 waiting: want 35 + 2, capped at 29 − 9 = 20.
    expect(shape(planOf(capped, use(capped.state, 9, 0, { waiting: 25 })))).toEqual([["createEni", "", 9], ["createEni", "", 9]]);
    const pool = node(9);
    // 9 assigned, 12 waiting: want 22 + headroom 2 = 24 → 15 more: two new ENIs (the instance allows 2 more) in one step.
    expect(shape(planOf(pool, use(pool.state, 9, 0, { waiting: 12 })))).toEqual([["createEni", "", 9], ["createEni", "", 6]]);
  });

  test("WARM_IP_TARGET and MINIMUM_IP_TARGET are floors", () => {
    const pool = node(0);
    expect(shape(planOf(pool, use(pool.state, 0), { warmIpTarget: 6 }))).toEqual([["assign", "eni-0", 8]]);
    // MINIMUM 9 + headroom 2 = 11: 9 on the primary, 2 on a new ENI.
    expect(shape(planOf(pool, use(pool.state, 0), { minimumIpTarget: 9 }))).toEqual([["assign", "eni-0", 9], ["createEni", "", 2]]);
  });

  test("not while the node terminates; the shortage says why", () => {
    const pool = node(0);
    pool.state.node.terminating = true;
    const p = planOf(pool, use(pool.state, 0));
    expect(p.actions).toEqual([]);
    expect(p.shortage).toContain("terminating");
  });
});

const releases = (p: { actions: Array<{ kind: string }> }) => p.actions.filter((a) => a.kind === "release" || a.kind === "deleteEni");

describe("release with hysteresis", () => {
  test("a surplus within the slack is kept (no call)", () => {
    const pool = node(3);
    // 3 free, keep 1 (floor): surplus 2 = slack 2.
    expect(planOf(pool, use(pool.state, 0)).actions).toEqual([]);
  });

  test("a surplus that persisted past the delay is released in one call, down to the floor", () => {
    const pool = node(9);
    pool.state.demand = history([[NOW - 400_000, 9], [NOW - 350_000, 1]]);
    // 1 assigned, 8 free, keep 1 → 7 released in one call; the assigned one stays.
    expect(shape(planOf(pool, use(pool.state, 1)))).toEqual([["release", "eni-0", 7]]);
  });

  test("addresses pods gave back within the release delay are kept (they may come back)", () => {
    const pool = node(9);
    pool.state.demand = history([[NOW - 50_000, 9], [NOW - 40_000, 1]]);
    expect(releases(planOf(pool, use(pool.state, 1)))).toEqual([]);
  });

  test("churn widens the band: 300 arrivals in the last 15 min keep a surplus of 8 that a quiet node releases", () => {
    const busy = node(9);
    busy.state.demand = history([[NOW - 800_000, 0], [NOW - 700_000, 300], [NOW - 600_000, 0]]);
    // rate 1/3 per s → band ⌈√(2 × 1/3 × 1200)⌉ = 29 > surplus 8.
    expect(releases(planOf(busy, use(busy.state, 0)))).toEqual([]);
    const quiet = node(9);
    expect(shape(planOf(quiet, use(quiet.state, 0)))).toEqual([["release", "eni-0", 8]]);
  });

  test("pods that left within the delay: only their cooled addresses are kept on top (cooling ones are held anyway)", () => {
    // 9 held, peak 8 assigned 40 s ago, now 1 assigned + 4 cooling (left 20 s ago) + 4 free (left 40 s ago, cooled).
    const pool = node(9);
    pool.state.demand = history([[NOW - 400_000, 8], [NOW - 40_000, 8], [NOW - 39_000, 5], [NOW - 20_000, 1]]);
    const p = planOf(pool, use(pool.state, 1, 4));
    // Kept free: floor 1 + 3 (7 left, of which 4 still cool) = 4 ≥ 4 free: no release.
    expect(releases(p)).toEqual([]);
    expect(p.reason).toContain("keep 4 free (3 given back");
    // Once the delay has passed, the surplus beyond the slack goes: 4 free, keep 1 → 3 > slack 2.
    const later = node(9);
    later.state.demand = history([[NOW - 400_000, 8], [NOW - 100_000, 1]]);
    expect(shape(planOf(later, use(later.state, 1, 4)))).toEqual([["release", "eni-0", 3]]);
  });

  test("no release while pods are arriving (pending, or scheduled within the lead time): the cycle it takes may be the burst's", () => {
    const surplus = (lastArrivalAgoMs: number) => {
      const pool = node(9);
      pool.state.demand = history([[NOW - 400_000, 0]]);
      pool.state.demand = recordScheduled(pool.state.demand, NOW - lastArrivalAgoMs, 1, 3_600_000);
      return pool;
    };
    const recent = surplus(5_000);
    expect(releases(planOf(recent, use(recent.state, 0, 0, { podsWatched: true })))).toEqual([]);
    const pending = surplus(60_000);
    expect(releases(planOf(pending, use(pending.state, 0, 0, { podsWatched: true, pendingPods: 1 })))).toEqual([]);
    const quiet = surplus(60_000);
    expect(shape(planOf(quiet, use(quiet.state, 0, 0, { podsWatched: true })))).toEqual([["release", "eni-0", 8]]);
  });

  test("one release call, on the ENI with the most idle addresses", () => {
    const pool = node(9, { count: 6, at: 0 });
    // 5 assigned on eni-0 (4 idle there), 6 idle on eni-1: surplus 9 → all 6 of eni-1 now, the rest later.
    expect(shape(planOf(pool, use(pool.state, 5)))).toEqual([["release", "eni-1", 6]]);
  });

  test("cooling and assigned addresses are never released", () => {
    const pool = node(9);
    pool.state.demand = history([[NOW - 400_000, 1]]);
    // 1 assigned + 8 cooling: nothing free, so the pool grows instead of releasing anything.
    const p = planOf(pool, use(pool.state, 1, 8));
    expect(releases(p)).toEqual([]);
    expect(p.low).toBe(true);
  });

  test("at most one release per 30 s", () => {
    const pool = node(9);
    pool.state.demand = history([[NOW - 400_000, 0]]);
    pool.state.lastShrinkAtMs = NOW - 10_000;
    expect(releases(planOf(pool, use(pool.state, 0)))).toEqual([]);
  });
});

describe("ENIs: room ahead, no churn", () => {
  test("an empty ENI goes only when older than a minute, unneeded for the ENI delay, with a whole ENI of room to spare", () => {
    // eni-0 with 3 free, eni-1 and eni-2 empty.
    const young = node(3, { count: 0, at: NOW - 30_000, enis: 2 });
    expect(releases(planOf(young, use(young.state, 0)))).toEqual([]);
    // 14 pods held within the last 2 h: the other ENIs (18 slots) cannot hold 14 + room 3 + slack 2.
    const needed = node(3, { count: 0, at: 0, enis: 2 });
    needed.state.demand = history([[NOW - 3_000_000, 14], [NOW - 2_900_000, 0]]);
    expect(releases(planOf(needed, use(needed.state, 0)))).toEqual([]);
    // The peak is older than 2 h: the highest ENI goes (the others keep 15 free slots ≥ room 3 + one ENI 9).
    const unneeded = node(3, { count: 0, at: 0, enis: 2 });
    unneeded.state.demand = history([[NOW - 7_300_000, 14], [NOW - 7_250_000, 0]]);
    expect(shape(planOf(unneeded, use(unneeded.state, 0)))).toEqual([["deleteEni", "eni-2", 0]]);
  });

  test("with one empty ENI and little room elsewhere, the empty ENI stays (no delete/re-create churn)", () => {
    const pool = node(3, { count: 0, at: 0 });
    pool.state.demand = history([[NOW - 7_300_000, 0]]);
    // Without eni-1 the room would be 6 < room 3 + 9.
    expect(planOf(pool, use(pool.state, 0)).actions).toEqual([]);
  });
});
