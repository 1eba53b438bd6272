/**
 * Upstream's warm-pool scenarios replayed under AWS_VPC_CNI_POOL_POLICY=compat, each checked
 * against what upstream v1.23.1's ipamd does in that situation: every mutating EC2 call the
 * fake EC2 recorded, in order, and the node's ENIs, addresses and prefixes at the end.
 *
 * Assumptions: m5.large (3 ENIs × 10 IPv4 → 9 secondary addresses or 9 /28 prefixes per
 * ENI), max pods 29 (the kubelet's value for m5.large: the pool is not low once it holds
 * 29 addresses), a fresh node (the primary ENI without secondaries and without the
 * instance_id tag), a pool check every 5 s, settings read from the environment as the
 * DaemonSet's container would be (so compat's defaults are the ones under test). Pods are
 * placed lowest device first; "cooldown over" is IP_COOLDOWN_PERIOD ending for every
 * deleted pod's address.
 *
 * Upstream's arithmetic, in short (pkg/ipamd/ipamd.go): too low when available (total −
 * assigned, cooling counted as available) < WARM_ENI_TARGET × 9 (WARM_PREFIX_TARGET × 16
 * with PD) or, with WARM_IP_TARGET / MINIMUM_IP_TARGET, when short > 0; never once total ≥
 * max pods. Grow an ENI with room first (all 9, or the shortfall), else create one ENI with
 * the same count (create, attach, DeleteOnTermination). Release at most every 30 s, only
 * with IP targets or PD; free one unused ENI per check once available ≥ (target + 1) × 9,
 * never one with a cooling address or younger than a minute.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { loadConfig } from "../../../../shared/config/index.ts";
import { CompatNode } from "../../test-support/compat-node.ts";
import { FakeKube } from "../../test-support/fakes.ts";
import { poolSettingsFrom } from "./settings-from-config.ts";

let node: CompatNode | undefined;
afterEach(() => {
  node?.stop();
  node = undefined;
});

interface Row {
  name: string;
  env: Record<string, string>;
  /** Pods scheduled to the node and still pending, as the Kubernetes pod watch shows them. */
  pendingPods?: number;
  /** Done to the world before the node starts (faults, subnets). */
  before?: (n: CompatNode) => void;
  /** What happens after start-up (default: the pool settles). */
  script?: (n: CompatNode) => Promise<void>;
  /** Upstream's mutating calls, in order (with the script's marks). */
  calls: string[];
  final: { enis: number; addresses: number; prefixes: number };
  /** Where the project deliberately does otherwise under compat, upstream's calls and why (docs/DESIGN-NOTES.md). */
  differs?: { upstream: string[]; why: string };
}

const TAG = "CreateTags @0"; // upstream's TagENI on the primary ENI at start-up (instance_id missing)
const ASSIGN = (n: number, kind = "address", dev = 0) => `AssignPrivateIpAddresses @${dev} +${n} ${kind}`;
const UNASSIGN = (n: number, kind = "address", dev = 0) => `UnassignPrivateIpAddresses @${dev} -${n} ${kind}`;
/** upstream AllocENI: create with the addresses in the call, attach at the next device, DeleteOnTermination. */
const NEW_ENI = (n: number, dev: number, kind = "address") => [`CreateNetworkInterface +${n} ${kind}`, `AttachNetworkInterface @${dev}`, `ModifyNetworkInterfaceAttribute @${dev}`];
const FREE_ENI = (dev: number) => [`DetachNetworkInterface @${dev}`, "DeleteNetworkInterface"];

async function podsOneByOne(n: CompatNode, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    n.place(1);
    await n.tick();
  }
}

/** 3 pods, then 2 more, then all 5 deleted; the marks split the calls by step. */
async function fivePodsDeleted(n: CompatNode): Promise<void> {
  await podsThenDeleted(n, [3, 2]);
}

/** 16 pods (a full prefix), then 4 more, then all 20 deleted. */
async function twentyPodsDeleted(n: CompatNode): Promise<void> {
  await podsThenDeleted(n, [16, 4]);
}

async function podsThenDeleted(n: CompatNode, batches: number[]): Promise<void> {
  await n.settle();
  let placed = 0;
  for (const b of batches) {
    n.place(b);
    placed += b;
    await n.settle();
    n.mark(`${placed} pods`);
  }
  n.remove(placed);
  await n.settle();
  n.mark("pods deleted, cooling");
  n.cooled();
  await n.settle();
}

const ROWS: Row[] = [
  // WARM_ENI_TARGET=1 with no pod: 9 free addresses on the primary ENI already meet "1 ENI's worth".
  { name: "WARM_ENI_TARGET=1 (upstream's manifest)", env: { WARM_ENI_TARGET: "1" }, calls: [TAG, ASSIGN(9)], final: { enis: 1, addresses: 9, prefixes: 0 } },
  { name: "WARM_ENI_TARGET=2", env: { WARM_ENI_TARGET: "2" }, calls: [TAG, ASSIGN(9), ...NEW_ENI(9, 1)], final: { enis: 2, addresses: 18, prefixes: 0 } },
  { name: "WARM_ENI_TARGET=3", env: { WARM_ENI_TARGET: "3" }, calls: [TAG, ASSIGN(9), ...NEW_ENI(9, 1), ...NEW_ENI(9, 2)], final: { enis: 3, addresses: 27, prefixes: 0 } },
  // MAX_ENI caps the ENIs; the pool stays "low" for ever and makes no further call.
  { name: "WARM_ENI_TARGET=3 MAX_ENI=2", env: { WARM_ENI_TARGET: "3", MAX_ENI: "2" }, calls: [TAG, ASSIGN(9), ...NEW_ENI(9, 1)], final: { enis: 2, addresses: 18, prefixes: 0 } },
  // short = max(2 − 0, 16 − 0) = 16: the primary takes 9; then short = 16 − 9 = 7 → a new ENI with 7.
  { name: "WARM_IP_TARGET=2 MINIMUM_IP_TARGET=16", env: { WARM_IP_TARGET: "2", MINIMUM_IP_TARGET: "16" }, calls: [TAG, ASSIGN(9), ...NEW_ENI(7, 1)], final: { enis: 2, addresses: 16, prefixes: 0 } },
  // short = max(10, 6) = 10: 9 on the primary, then an ENI with the last 1 (upstream does not round up to a full ENI).
  { name: "WARM_IP_TARGET=10 MINIMUM_IP_TARGET=6", env: { WARM_IP_TARGET: "10", MINIMUM_IP_TARGET: "6" }, calls: [TAG, ASSIGN(9), ...NEW_ENI(1, 1)], final: { enis: 2, addresses: 10, prefixes: 0 } },
  // MINIMUM_IP_TARGET alone: short = 6 − total; over = min(available, total − 6) = 0: stable at 6.
  { name: "MINIMUM_IP_TARGET=6 alone", env: { MINIMUM_IP_TARGET: "6" }, calls: [TAG, ASSIGN(6)], final: { enis: 1, addresses: 6, prefixes: 0 } },
  { name: "PD, WARM_PREFIX_TARGET=1", env: { ENABLE_PREFIX_DELEGATION: "true", WARM_PREFIX_TARGET: "1" }, calls: [TAG, ASSIGN(1, "prefix")], final: { enis: 1, addresses: 0, prefixes: 1 } },
  { name: "PD, WARM_PREFIX_TARGET=2: two free prefixes", env: { ENABLE_PREFIX_DELEGATION: "true", WARM_PREFIX_TARGET: "2" }, calls: [TAG, ASSIGN(2, "prefix")], final: { enis: 1, addresses: 0, prefixes: 2 } },
  // WARM_IP_TARGET wins over WARM_PREFIX_TARGET: ceil(5 / 16) = 1 prefix.
  { name: "PD, WARM_IP_TARGET=5 WARM_PREFIX_TARGET=3", env: { ENABLE_PREFIX_DELEGATION: "true", WARM_IP_TARGET: "5", WARM_PREFIX_TARGET: "3" }, calls: [TAG, ASSIGN(1, "prefix")], final: { enis: 1, addresses: 0, prefixes: 1 } },
  { name: "PD, WARM_IP_TARGET=5 MINIMUM_IP_TARGET=10", env: { ENABLE_PREFIX_DELEGATION: "true", WARM_IP_TARGET: "5", MINIMUM_IP_TARGET: "10" }, calls: [TAG, ASSIGN(1, "prefix")], final: { enis: 1, addresses: 0, prefixes: 1 } },
  // short 20 → 2 prefixes; over = min(free 2, 2 − ceil(0/16)) then min(·, 2 − ceil(20/16)) = 0: kept.
  { name: "PD, MINIMUM_IP_TARGET=20", env: { ENABLE_PREFIX_DELEGATION: "true", MINIMUM_IP_TARGET: "20" }, calls: [TAG, ASSIGN(2, "prefix")], final: { enis: 1, addresses: 0, prefixes: 2 } },
  {
    // Tricky: WARM_PREFIX_TARGET=0 (upstream's code default) and no IP target. Low when nothing
    // is available → one prefix; then 1 free prefix > 0 is "too high" → released; low again →
    // assigned... Upstream churns one prefix, paced only by the 30 s between releases.
    name: "PD, WARM_PREFIX_TARGET=0 (code default): upstream churns a prefix every 30 s",
    env: { ENABLE_PREFIX_DELEGATION: "true", WARM_PREFIX_TARGET: "0", AWS_VPC_CNI_POOL_POLICY: "compat" },
    script: async (n) => {
      for (let i = 0; i < 9; i++) await n.tick();
    },
    calls: [TAG, ASSIGN(1, "prefix"), UNASSIGN(1, "prefix"), ASSIGN(1, "prefix"), UNASSIGN(1, "prefix"), ASSIGN(1, "prefix")],
    final: { enis: 1, addresses: 0, prefixes: 1 },
  },
  {
    // Max pods, one at a time, then all deleted. The first pod makes available 8 < 9 → ENI 1;
    // the 10th → ENI 2. Deleted pods' addresses cool: upstream never frees an ENI with a
    // cooling address, so nothing happens until the cooldown is over; then one ENI per check
    // while available ≥ (1 + 1) × 9: 27 → 18 → 9, back to the baseline.
    name: "WARM_ENI_TARGET=1: max pods, then all deleted (cooldown)",
    env: { WARM_ENI_TARGET: "1" },
    script: async (n) => {
      await n.settle();
      await podsOneByOne(n, 27);
      await n.settle();
      n.mark("27 pods");
      n.remove(27);
      await n.settle();
      n.mark("pods deleted, cooling");
      n.cooled();
      await n.settle();
    },
    calls: [TAG, ASSIGN(9), ...NEW_ENI(9, 1), ...NEW_ENI(9, 2), "-- 27 pods", "-- pods deleted, cooling", ...FREE_ENI(2), ...FREE_ENI(1)],
    final: { enis: 1, addresses: 9, prefixes: 0 },
  },
  {
    // WARM_IP_TARGET=3: each placement leaves < 3 available → exactly the shortfall is added.
    // Deleted: 8 available, over 5 (cooling counted as available, as upstream); the 5 go back
    // at once, cooling or not (upstream's FindFreeableCidrs counts only assigned addresses).
    name: "WARM_IP_TARGET=3: 5 pods, then deleted (cooldown)",
    env: { WARM_IP_TARGET: "3" },
    script: fivePodsDeleted,
    calls: [TAG, ASSIGN(3), ASSIGN(3), "-- 3 pods", ASSIGN(2), "-- 5 pods", UNASSIGN(5), "-- pods deleted, cooling"],
    final: { enis: 1, addresses: 3, prefixes: 0 },
  },
  {
    // PD: 16 pods fill the prefix → one more; 20 pods: total 32 ≥ max pods 29 → not low, no
    // third prefix. Deleted: 2 free prefixes > WARM_PREFIX_TARGET=1 → one is released at
    // once, though its addresses still cool.
    name: "PD, WARM_PREFIX_TARGET=1: 20 pods, then deleted (cooldown)",
    env: { ENABLE_PREFIX_DELEGATION: "true", WARM_PREFIX_TARGET: "1" },
    script: twentyPodsDeleted,
    calls: [TAG, ASSIGN(1, "prefix"), ASSIGN(1, "prefix"), "-- 16 pods", "-- 20 pods", UNASSIGN(1, "prefix"), "-- pods deleted, cooling"],
    final: { enis: 1, addresses: 0, prefixes: 1 },
  },
  {
    // No PD→/32 fallback under compat: InsufficientCidrBlocks, the retry with 1 fails too,
    // then no allocation for 120 s (upstream's insufficient-CIDR window), then one prefix.
    name: "PD on a fragmented subnet: no /32 fallback, 120 s pause",
    env: { ENABLE_PREFIX_DELEGATION: "true", WARM_PREFIX_TARGET: "1" },
    before: (n) => void n.h.w.ec2.faults.fail("AssignPrivateIpAddresses", "InsufficientCidrBlocks", { times: 2 }),
    script: async (n) => {
      for (let i = 0; i < 23; i++) await n.tick(); // 115 s
      n.mark("115 s");
      for (let i = 0; i < 2; i++) await n.tick();
    },
    calls: [TAG, `${ASSIGN(1, "prefix")} !InsufficientCidrBlocks`, `${ASSIGN(1, "prefix")} !InsufficientCidrBlocks`, "-- 115 s", ASSIGN(1, "prefix")],
    final: { enis: 1, addresses: 0, prefixes: 1 },
  },
  {
    // The project's switch keeps a cooling address until its cooldown is over. After the
    // deletes 8 are free (3 idle, 5 cooling), over by 5: only the 3 idle ones can go; once
    // cooled, 5 available is over by 2, released then.
    name: "WARM_IP_TARGET=3, 5 pods deleted, with AWS_VPC_CNI_HOLD_COOLING_IPS=true (the project's switch)",
    env: { WARM_IP_TARGET: "3", AWS_VPC_CNI_HOLD_COOLING_IPS: "true" },
    script: fivePodsDeleted,
    calls: [TAG, ASSIGN(3), ASSIGN(3), "-- 3 pods", ASSIGN(2), "-- 5 pods", UNASSIGN(3), "-- pods deleted, cooling", UNASSIGN(2)],
    final: { enis: 1, addresses: 3, prefixes: 0 },
    differs: {
      upstream: [TAG, ASSIGN(3), ASSIGN(3), "-- 3 pods", ASSIGN(2), "-- 5 pods", UNASSIGN(5), "-- pods deleted, cooling"],
      why: "a cooling address is released only after its cooldown, so the 5 go in two calls",
    },
  },
  {
    name: "PD, WARM_PREFIX_TARGET=1, 20 pods deleted, with AWS_VPC_CNI_HOLD_COOLING_IPS=true",
    env: { ENABLE_PREFIX_DELEGATION: "true", WARM_PREFIX_TARGET: "1", AWS_VPC_CNI_HOLD_COOLING_IPS: "true" },
    script: twentyPodsDeleted,
    calls: [TAG, ASSIGN(1, "prefix"), ASSIGN(1, "prefix"), "-- 16 pods", "-- 20 pods", "-- pods deleted, cooling", UNASSIGN(1, "prefix")],
    final: { enis: 1, addresses: 0, prefixes: 1 },
    differs: {
      upstream: [TAG, ASSIGN(1, "prefix"), ASSIGN(1, "prefix"), "-- 16 pods", "-- 20 pods", UNASSIGN(1, "prefix"), "-- pods deleted, cooling"],
      why: "the prefix is released once its addresses have cooled, not while they cool",
    },
  },
  {
    // No growth from the pod watch: 20 pods scheduled and pending change nothing upstream
    // (ipamd does not watch pods for sizing).
    name: "WARM_ENI_TARGET=1 with 20 pods pending in the pod watch: no growth for them",
    env: { WARM_ENI_TARGET: "1" },
    pendingPods: 20,
    calls: [TAG, ASSIGN(9)],
    final: { enis: 1, addresses: 9, prefixes: 0 },
  },
  {
    // The project's switch turns it on under compat: the 20 pending pods are grown for at once.
    name: "the same with AWS_VPC_CNI_DEMAND_AWARE_POOL=true (the project's switch)",
    env: { WARM_ENI_TARGET: "1", AWS_VPC_CNI_DEMAND_AWARE_POOL: "true" },
    pendingPods: 20,
    // Demand 20 in one plan: the primary's 9, then two ENIs for the other 11, created together.
    calls: [TAG, ASSIGN(9), "CreateNetworkInterface +9 address", "CreateNetworkInterface +2 address", "AttachNetworkInterface @1", "AttachNetworkInterface @2", "ModifyNetworkInterfaceAttribute @1", "ModifyNetworkInterfaceAttribute @2"],
    final: { enis: 3, addresses: 20, prefixes: 0 },
  },
  {
    // The project's fallback switch: after InsufficientCidrBlocks the shortfall is taken as
    // /32s at once instead of pausing 120 s.
    name: "PD on a fragmented subnet with AWS_VPC_CNI_PREFIX_DELEGATION_FALLBACK_TO_IPS=true",
    env: { ENABLE_PREFIX_DELEGATION: "true", WARM_PREFIX_TARGET: "1", AWS_VPC_CNI_PREFIX_DELEGATION_FALLBACK_TO_IPS: "true" },
    before: (n) => void n.h.w.ec2.faults.fail("AssignPrivateIpAddresses", "InsufficientCidrBlocks", { times: 2 }),
    // The wanted prefix becomes 16 /32s: the primary's 9, then a new ENI with 9 (one ENI per check, as for prefixes).
    calls: [TAG, `${ASSIGN(1, "prefix")} !InsufficientCidrBlocks`, `${ASSIGN(1, "prefix")} !InsufficientCidrBlocks`, ASSIGN(9), ...NEW_ENI(9, 1)],
    final: { enis: 2, addresses: 18, prefixes: 0 },
  },
];

/** Addresses a call list releases ("-N address", "-N prefix" × 16). */
function released(calls: string[]): number {
  return calls.reduce((n, c) => {
    const m = /^Unassign\S* @\d+ -(\d+) (address|prefix)/.exec(c);
    return m ? n + Number(m[1]) * (m[2] === "prefix" ? 16 : 1) : n;
  }, 0);
}

describe("compat replays upstream's warm pool", () => {
  for (const row of ROWS) {
    test(row.name, async () => {
      const kube = new FakeKube();
      kube.pending = row.pendingPods ?? 0;
      node = new CompatNode(poolSettingsFrom(loadConfig(row.env).config), { maxPods: 29, ...(row.pendingPods !== undefined ? { kube } : {}) });
      row.before?.(node);
      await node.start();
      await (row.script ?? ((n) => n.settle()))(node);
      const t = node.timeline();
      expect(t.calls).toEqual(row.calls);
      expect(node.counts()).toEqual(row.final);
      // A delete refused "in use" is only ever a retry right after a detach.
      if (!row.calls.includes("DeleteNetworkInterface")) expect(t.deleteRetries).toBe(0);
      // A documented difference only moves releases in time: upstream released as much in all.
      if (row.differs) expect(released(row.calls)).toBe(released(row.differs.upstream));
    });
  }
});
