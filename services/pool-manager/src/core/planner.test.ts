// Planner tables. Assumptions unless a row says otherwise: m5.large (3 ENIs × 10 IPv4,
// so 9 secondary slots per ENI, trunking supported), max pods 29, a fresh node whose
// primary ENI has no secondary address yet, upstream settings (UPSTREAM_DEFAULTS).
import { describe, expect, test } from "bun:test";
import type { PlanAction } from "./actions.ts";
import { plan } from "./planner.ts";
import { FakePool, M5_LARGE, freshNode } from "./pool-fixture.test-support.ts";
import type { PoolState, PoolUsage } from "./pool-state.ts";
import { PROJECT_DEFAULTS, UPSTREAM_DEFAULTS, type PoolSettings } from "./settings.ts";

const up = (o: Partial<PoolSettings>): PoolSettings => ({ ...UPSTREAM_DEFAULTS, ...o });
const proj = (o: Partial<PoolSettings>): PoolSettings => ({ ...PROJECT_DEFAULTS, ...o });

describe("upstream's warm-target integration scenarios, driven to a fixed point", () => {
  const rows: Array<[string, Partial<PoolSettings>, { enis: number; addresses: number; prefixes: number }]> = [
    // WARM_ENI_TARGET=3 but MAX_ENI=2 caps it: primary 9 + one ENI 9.
    ["WARM_ENI_TARGET=3 MAX_ENI=2", { warmEniTarget: 3, maxEni: 2 }, { enis: 2, addresses: 18, prefixes: 0 }],
    // Three full ENIs of warm addresses (27 ≥ 3 × 9).
    ["WARM_ENI_TARGET=3", { warmEniTarget: 3 }, { enis: 3, addresses: 27, prefixes: 0 }],
    ["WARM_ENI_TARGET=2", { warmEniTarget: 2 }, { enis: 2, addresses: 18, prefixes: 0 }],
    // Default: one ENI's worth available; the primary's 9 satisfy it.
    ["WARM_ENI_TARGET=1 (default)", {}, { enis: 1, addresses: 9, prefixes: 0 }],
    // MAX_ENI=0 is ignored (instance limit).
    ["MAX_ENI=0 ignored", { warmEniTarget: 3, maxEni: 0 }, { enis: 3, addresses: 27, prefixes: 0 }],
    // WARM_IP_TARGET=2: exactly 2 secondary addresses.
    ["WARM_IP_TARGET=2", { warmIpTarget: 2 }, { enis: 1, addresses: 2, prefixes: 0 }],
    // WARM_IP_TARGET=16: primary full (9) then a new ENI with the 7 still short.
    ["WARM_IP_TARGET=16", { warmIpTarget: 16 }, { enis: 2, addresses: 16, prefixes: 0 }],
    ["MINIMUM_IP_TARGET=2", { minimumIpTarget: 2 }, { enis: 1, addresses: 2, prefixes: 0 }],
    ["MINIMUM_IP_TARGET=16", { minimumIpTarget: 16 }, { enis: 2, addresses: 16, prefixes: 0 }],
    // MIN 6 + WARM 10 → max(warm, min) = 10.
    ["MINIMUM_IP_TARGET=6 WARM_IP_TARGET=10", { minimumIpTarget: 6, warmIpTarget: 10 }, { enis: 2, addresses: 10, prefixes: 0 }],
    ["MINIMUM_IP_TARGET=10 WARM_IP_TARGET=6", { minimumIpTarget: 10, warmIpTarget: 6 }, { enis: 2, addresses: 10, prefixes: 0 }],
    // PD: every combination below needs one /28.
    ["PD, WARM_PREFIX_TARGET=1", { prefixDelegation: true, warmPrefixTarget: 1 }, { enis: 1, addresses: 0, prefixes: 1 }],
    ["PD, WARM_IP_TARGET=5", { prefixDelegation: true, warmIpTarget: 5 }, { enis: 1, addresses: 0, prefixes: 1 }],
    ["PD, MINIMUM_IP_TARGET=10", { prefixDelegation: true, minimumIpTarget: 10 }, { enis: 1, addresses: 0, prefixes: 1 }],
    ["PD, WARM_IP_TARGET=5 MINIMUM_IP_TARGET=5", { prefixDelegation: true, warmIpTarget: 5, minimumIpTarget: 5 }, { enis: 1, addresses: 0, prefixes: 1 }],
    ["PD, WARM_ENI_TARGET=3 (ignored with PD)", { prefixDelegation: true, warmEniTarget: 3, warmPrefixTarget: 1 }, { enis: 1, addresses: 0, prefixes: 1 }],
    // WARM_PREFIX_TARGET=2 → 2 free prefixes.
    ["PD, WARM_PREFIX_TARGET=2", { prefixDelegation: true, warmPrefixTarget: 2 }, { enis: 1, addresses: 0, prefixes: 2 }],
    // Trunk reservation: ENABLE_POD_ENI keeps one slot for the trunk ENI.
    ["ENABLE_POD_ENI, WARM_ENI_TARGET=3", { warmEniTarget: 3, podEni: true }, { enis: 2, addresses: 18, prefixes: 0 }],
  ];
  for (const [name, o, want] of rows) {
    for (const [label, base] of [["upstream", up], ["project", proj]] as const) {
      test(`${name} (${label} settings)`, () => {
        const pool = new FakePool(freshNode());
        pool.settle(base(o), M5_LARGE);
        expect(pool.counts()).toEqual(want);
      });
    }
  }

  test("deploy max pods then delete them: counts return to baseline", () => {
    const s = up({ warmIpTarget: 3 });
    const pool = new FakePool(freshNode());
    let now = pool.settle(s, M5_LARGE);
    const baseline = pool.counts();
    // Every address assigned, then a bigger demand walks the pool up to max pods.
    for (let i = 0; i < 12; i++) {
      const byCidr: PoolUsage["byCidr"] = {};
      for (const e of pool.state.enis) for (const c of e.cidrs) byCidr[c.cidr] = { assigned: 1, cooling: 0 };
      pool.usage = { byCidr, newMisses: 0, waiting: 0, pendingPods: 0 };
      now = pool.settle(s, M5_LARGE, now);
    }
    expect(pool.counts().addresses).toBeGreaterThanOrEqual(27);
    pool.usage = { byCidr: {}, newMisses: 0, waiting: 0, pendingPods: 0 };
    now = pool.settle(s, M5_LARGE, now + 120_000);
    expect(pool.counts()).toEqual(baseline);
  });
});

/** One plan on a given pool. */
function once(state: PoolState, s: PoolSettings, now = 1_000_000, usage: PoolUsage = { byCidr: {}, newMisses: 0, waiting: 0, pendingPods: 0 }) {
  return plan(state, usage, s, M5_LARGE, now);
}

/** A node whose primary has `n` /32s (and optionally a secondary ENI with `m`). */
function nodeWith(n: number, m?: { count: number; createdAtMs: number; excluded?: boolean }): PoolState {
  const pool = new FakePool(freshNode());
  pool.apply([{ kind: "assign", eniId: "eni-0", cidrKind: "address", count: n, reason: "" }], 0);
  if (m) {
    pool.apply([{ kind: "createEni", cidrKind: "address", count: m.count, reason: "" }], m.createdAtMs);
    pool.eni("eni-1").excluded = m.excluded ?? false;
  }
  return pool.state;
}

function cidrsOf(state: PoolState, eni: string): string[] {
  return state.enis.find((e) => e.id === eni)?.cidrs.map((c) => c.cidr) ?? [];
}

function usageAll(state: PoolState, eni: string, use: { assigned: number; cooling: number }, first = Infinity): PoolUsage {
  const byCidr: PoolUsage["byCidr"] = {};
  cidrsOf(state, eni).slice(0, first).forEach((c) => (byCidr[c] = use));
  return { byCidr, newMisses: 0, waiting: 0, pendingPods: 0 };
}

const kinds = (a: PlanAction[]) => a.map((x) => x.kind);

describe("one rule per row", () => {
  test("max pods: Total ≥ maxPods is never low, whatever the targets", () => {
    const state = nodeWith(9, { count: 9, createdAtMs: 0 });
    state.enis.push({ ...state.enis[1]!, id: "eni-9", deviceNumber: 2, cidrs: state.enis[1]!.cidrs.map((c) => ({ ...c, cidr: c.cidr.replace("10.0", "10.9") })) });
    // 27 addresses, all assigned; max pods 27 → not low even though 0 are available.
    const usage: PoolUsage = { byCidr: Object.fromEntries(state.enis.flatMap((e) => e.cidrs).map((c) => [c.cidr, { assigned: 1, cooling: 0 }])), newMisses: 0, waiting: 0, pendingPods: 0 };
    const p = plan(state, usage, up({}), { ...M5_LARGE, maxPods: 27 }, 1_000_000);
    expect(p.low).toBe(false);
    expect(p.actions).toEqual([]);
  });

  test("grow order: an existing ENI with room first, in one call for the whole shortfall", () => {
    const p = once(nodeWith(2), up({ warmIpTarget: 5 }));
    expect(p.actions).toEqual([{ kind: "assign", eniId: "eni-0", cidrKind: "address", count: 3, reason: expect.stringContaining("WARM_IP_TARGET=5: 2 available of 2, short 3") }]);
  });

  test("grow order: a new ENI with its addresses in the same call when the others are full", () => {
    const state = nodeWith(9);
    const p = once(state, up({}), 1_000_000, usageAll(state, "eni-0", { assigned: 1, cooling: 0 }));
    expect(p.actions).toEqual([{ kind: "createEni", cidrKind: "address", count: 9, reason: expect.stringContaining("WARM_ENI_TARGET=1: 0 available") }]);
  });

  test("unschedulable node: no growth unless AWS_MANAGE_ENIS_NON_SCHEDULABLE", () => {
    const state = freshNode();
    state.node.unschedulable = true;
    const blocked = once(state, up({}));
    expect(blocked.actions).toEqual([]);
    expect(blocked.shortage).toContain("AWS_MANAGE_ENIS_NON_SCHEDULABLE");
    expect(kinds(once(state, up({ manageNonSchedulable: true })).actions)).toEqual(["assign"]);
  });

  test("terminating: no growth", () => {
    const state = freshNode();
    state.node.terminating = true;
    expect(once(state, up({})).actions).toEqual([]);
  });

  test("InsufficientFreeAddressesInSubnet: no growth for 120 s, then growth again", () => {
    const state = freshNode();
    state.insufficientAddressesAtMs = 1_000_000 - 119_000;
    const p = once(state, up({}));
    expect(p.actions).toEqual([]);
    expect(p.shortage).toContain("InsufficientFreeAddressesInSubnet");
    state.insufficientAddressesAtMs = 1_000_000 - 120_000;
    expect(kinds(once(state, up({})).actions)).toEqual(["assign"]);
  });

  test("InsufficientCidrBlocks with PD: upstream waits 120 s; the project falls back to /32s", () => {
    const state = freshNode();
    state.insufficientPrefixesAtMs = 1_000_000 - 10_000;
    const upstream = once(state, up({ prefixDelegation: true }));
    expect(upstream.actions).toEqual([]);
    expect(upstream.shortage).toContain("InsufficientCidrBlocks");
    // One prefix wanted = 16 addresses, capped by the ENI's 9 free slots.
    const project = once(state, proj({ prefixDelegation: true }));
    expect(project.actions).toEqual([{ kind: "assign", eniId: "eni-0", cidrKind: "address", count: 9, reason: expect.stringContaining("PD fallback") }]);
  });

  test("30 s shrink interval: no release 30 s after the last, a release after 31 s", () => {
    const state = nodeWith(9);
    state.lastShrinkAtMs = 1_000_000 - 30_000;
    expect(once(state, up({ warmIpTarget: 2 })).actions).toEqual([]);
    state.lastShrinkAtMs = 1_000_000 - 31_000;
    const p = once(state, up({ warmIpTarget: 2 }));
    expect(p.actions).toHaveLength(1);
    expect(p.actions[0]).toMatchObject({ kind: "release", eniId: "eni-0" });
    expect((p.actions[0] as { cidrs: string[] }).cidrs).toHaveLength(7);
  });

  test("shrink order with AWS_VPC_CNI_HOLD_COOLING_IPS: only CIDRs with nothing assigned and nothing cooling are released", () => {
    const state = nodeWith(9);
    const [a, b, c] = cidrsOf(state, "eni-0");
    const usage: PoolUsage = { byCidr: { [a!]: { assigned: 1, cooling: 0 }, [b!]: { assigned: 0, cooling: 1 } }, newMisses: 0, waiting: 0, pendingPods: 0 };
    // WARM_IP_TARGET=1: 7 free + 1 cooling (counted by upstream) → over 7; the 7 idle CIDRs released.
    const p = once(state, up({ warmIpTarget: 1, holdCoolingIps: true }), 1_000_000, usage);
    const released = (p.actions[0] as { cidrs: string[] }).cidrs;
    expect(released).not.toContain(a);
    expect(released).not.toContain(b);
    expect(released).toContain(c!);
    expect(released).toHaveLength(7);
  });

  test("shrink order as upstream: a cooling CIDR is released as well, an assigned one never", () => {
    const state = nodeWith(9);
    const [a, b] = cidrsOf(state, "eni-0");
    const usage: PoolUsage = { byCidr: { [a!]: { assigned: 1, cooling: 0 }, [b!]: { assigned: 0, cooling: 1 } }, newMisses: 0, waiting: 0, pendingPods: 0 };
    // Over 7 as above; upstream's FindFreeableCidrs offers the cooling one too (device order).
    const p = once(state, up({ warmIpTarget: 1 }), 1_000_000, usage);
    const released = (p.actions[0] as { cidrs: string[] }).cidrs;
    expect(released).not.toContain(a);
    expect(released).toContain(b!);
    expect(released).toHaveLength(7);
  });

  test("WARM_ENI_TARGET mode never frees single addresses", () => {
    const state = nodeWith(9, { count: 9, createdAtMs: 0 });
    // 18 available, WARM_ENI_TARGET=1: an ENI may go (18 ≥ 2×9) but no /32 is released.
    const p = once(state, up({}));
    expect(p.actions).toEqual([{ kind: "deleteEni", eniId: "eni-1", reason: expect.stringContaining("WARM_ENI_TARGET=1") }]);
  });

  test("1-minute minimum ENI lifetime", () => {
    const young = nodeWith(9, { count: 9, createdAtMs: 1_000_000 - 59_000 });
    expect(once(young, up({})).actions).toEqual([]);
    const old = nodeWith(9, { count: 9, createdAtMs: 1_000_000 - 60_000 });
    expect(kinds(once(old, up({})).actions)).toEqual(["deleteEni"]);
  });

  test("an ENI holding a pod or a cooling address is never freed", () => {
    const state = nodeWith(9, { count: 9, createdAtMs: 0 });
    expect(once(state, up({}), 1_000_000, usageAll(state, "eni-1", { assigned: 0, cooling: 1 }, 1)).actions).toEqual([]);
    expect(once(state, up({}), 1_000_000, usageAll(state, "eni-1", { assigned: 1, cooling: 0 }, 1)).actions).toEqual([]);
  });

  test("an ENI needed for WARM_IP_TARGET is kept; not needed, it goes", () => {
    const state = nodeWith(9, { count: 9, createdAtMs: 0 });
    state.lastShrinkAtMs = 1_000_000; // no /32 release in this cycle
    // Primary fully assigned: the secondary's 9 are the only warm ones; WARM_IP_TARGET=5 needs it.
    expect(once(state, up({ warmIpTarget: 5 }), 1_000_000, usageAll(state, "eni-0", { assigned: 1, cooling: 0 })).actions).toEqual([]);
    // Primary all free: the secondary is surplus.
    expect(kinds(once(state, up({ warmIpTarget: 5 })).actions)).toEqual(["deleteEni"]);
  });

  test("primary ENI and trunk ENI are never freed", () => {
    const state = nodeWith(0, { count: 0, createdAtMs: 0 });
    state.enis[1]!.trunk = true;
    expect(once(state, up({ warmIpTarget: 1 })).actions.filter((a) => a.kind === "deleteEni")).toEqual([]);
  });

  test("an ENI in an excluded subnet is freed once empty and its CIDRs do not count", () => {
    const state = nodeWith(9, { count: 9, createdAtMs: 0, excluded: true });
    const p = once(state, up({ warmEniTarget: 1 }));
    expect(p.stats.total).toBe(9);
    expect(p.actions).toEqual([{ kind: "deleteEni", eniId: "eni-1", reason: expect.stringContaining("excluded") }]);
  });

  test("cooling addresses: counted as available by upstream, not by the project", () => {
    const state = nodeWith(5);
    const usage = usageAll(state, "eni-0", { assigned: 0, cooling: 1 }, 3);
    expect(once(state, up({ warmIpTarget: 5 }), 1_000_000, usage).low).toBe(false);
    const p = once(state, proj({ warmIpTarget: 5 }), 1_000_000, usage);
    expect(p.reason).toBe("WARM_IP_TARGET=5: 2 available of 5, short 3");
    expect(p.actions).toMatchObject([{ kind: "assign", count: 3 }]);
  });

  test("demand-aware: waiting ADDs grow the pool by that amount in one step, across ENIs", () => {
    const state = nodeWith(9);
    const usage = { ...usageAll(state, "eni-0", { assigned: 1, cooling: 0 }), waiting: 15 };
    // Upstream: one ENI per cycle. Project: 15 addresses now, as 9 + 6 on two new ENIs.
    expect(once(state, up({}), 1_000_000, usage).actions).toMatchObject([{ kind: "createEni", count: 9 }]);
    expect(once(state, proj({}), 1_000_000, usage).actions).toMatchObject([
      { kind: "createEni", count: 9 },
      { kind: "createEni", count: 6 },
    ]);
  });

  test("demand-aware: pods scheduled to the node beyond the free addresses", () => {
    const state = nodeWith(9);
    // 9 free, 14 pods on their way → 5 more in one call on a new ENI (primary is full).
    const p = once(state, proj({}), 1_000_000, { byCidr: {}, newMisses: 0, waiting: 0, pendingPods: 14 });
    expect(p.actions).toMatchObject([{ kind: "createEni", cidrKind: "address", count: 9 }]);
    expect(p.reason).toContain("demand: 5");
  });

  test("demand-aware growth is capped by max pods", () => {
    const p = plan(freshNode(), { byCidr: {}, newMisses: 0, waiting: 50, pendingPods: 0 }, proj({}), { ...M5_LARGE, maxPods: 12 }, 0);
    const added = p.actions.reduce((n, a) => n + ("count" in a ? a.count : 0), 0);
    expect(added).toBe(12);
  });

  test("custom networking: the primary ENI gets no pod addresses; no ENIConfig → a shortage reason", () => {
    const state = freshNode();
    const p = once(state, up({ customNetwork: true }));
    expect(p.actions).toEqual([{ kind: "createEni", cidrKind: "address", count: 9, reason: expect.any(String) }]);
    state.newEniBlocked = "no ENIConfig for this node (looked for label vpc.amazonaws.com/externalEniConfig, annotation k8s.amazonaws.com/eniConfig, ENIConfig \"default\")";
    const blocked = once(state, up({ customNetwork: true }));
    expect(blocked.actions).toEqual([]);
    expect(blocked.shortage).toContain("no ENIConfig");
  });

  test("all ENIs full: a shortage that names the limit", () => {
    const pool = new FakePool(freshNode());
    pool.settle(up({ warmEniTarget: 3 }), M5_LARGE);
    const usage: PoolUsage = { byCidr: Object.fromEntries(pool.state.enis.flatMap((e) => e.cidrs).map((c) => [c.cidr, { assigned: 1, cooling: 0 }])), newMisses: 0, waiting: 0, pendingPods: 0 };
    const p = plan(pool.state, usage, up({ warmEniTarget: 3 }), M5_LARGE, 10_000_000);
    expect(p.actions).toEqual([]);
    expect(p.shortage).toContain("all 3 ENIs are in use");
  });

  test("PD with WARM_PREFIX_TARGET=1: a free prefix beyond the target is released after 30 s", () => {
    const pool = new FakePool(freshNode());
    pool.apply([{ kind: "assign", eniId: "eni-0", cidrKind: "prefix", count: 3, reason: "" }], 0);
    const p = once(pool.state, up({ prefixDelegation: true, warmPrefixTarget: 1 }));
    expect(p.actions).toMatchObject([{ kind: "release", eniId: "eni-0" }]);
    expect((p.actions[0] as { cidrs: string[] }).cidrs).toHaveLength(2);
  });

  test("PD, WARM_PREFIX_TARGET=0 and no IP target: low only when nothing is available, then one prefix", () => {
    // Upstream's code default; the manifest sets 1 because 0 alone releases that prefix again (freePrefixes 1 > 0).
    const p = once(freshNode(), up({ prefixDelegation: true }));
    expect(p.actions).toEqual([{ kind: "assign", eniId: "eni-0", cidrKind: "prefix", count: 1, reason: "WARM_PREFIX_TARGET=0: 0 available, want 0" }]);
  });

  test("IPv6: the primary ENI gets one /80 and nothing else", () => {
    const s = up({ family: "ipv6", prefixDelegation: true });
    const pool = new FakePool(freshNode());
    pool.settle(s, M5_LARGE);
    expect(pool.counts()).toEqual({ enis: 1, addresses: 0, prefixes: 1 });
  });

  test("the planner does not mutate its inputs", () => {
    const state = nodeWith(3);
    const copy = structuredClone(state);
    once(state, proj({ warmIpTarget: 10 }));
    expect(state).toEqual(copy);
  });
});
