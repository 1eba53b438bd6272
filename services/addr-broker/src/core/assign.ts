/**
 * Picking an address from the capacity pool-manager gave. Pure: the caller passes `now`.
 *
 * Order of preference: the CIDR already most used, then the ENI already most used, then
 * the lowest device number. Packing pods together keeps the other CIDRs and ENIs empty,
 * so pool-manager can drain and release them without waiting for pods to go away.
 */
import type { CapacitySnapshot } from "../../../../shared/contracts/capacity.ts";
import { bits, contains, nth, parseCidr, parseIp, size, type Cidr } from "../../../../shared/ip.ts";
import { addressesInUse, type BrokerState } from "./state.ts";

/**
 * Why no address could be picked: no capacity published yet; pool-manager not ready; every
 * free address cooling down; the pool holds no address at all ("empty"); every address of
 * the pool assigned ("exhausted").
 */
export type MissKind = "no-capacity" | "not-ready" | "cooling" | "empty" | "exhausted";

export interface Miss {
  kind: MissKind;
  message: string;
}

export interface Pick {
  address: string;
  cidr: string;
  eniId: string;
  routeTable: number;
}

interface Candidate {
  cidr: Cidr;
  text: string;
  eniId: string;
  deviceNumber: number;
  routeTable: number;
}

/**
 * CIDRs that addresses may be handed out from: usable ENIs of card 0, not draining, not
 * granted to a drain. With `card` > 0 (ENABLE_MULTI_NIC, a multi-homed pod's other
 * interfaces): that card's set-up ENIs, which pool-manager publishes as not usable by
 * ordinary pods.
 */
export function usableCidrs(state: BrokerState, capacity: CapacitySnapshot, card = 0): Candidate[] {
  const out: Candidate[] = [];
  for (const eni of capacity.enis) {
    // Other network cards' ENIs serve multi-homed pods only, never an ordinary pod.
    if (eni.networkCard !== card || (card === 0 && !eni.usable)) continue;
    for (const c of eni.cidrs) {
      if (c.draining || state.drained.has(c.cidr)) continue;
      const cidr = parseCidr(c.cidr, false);
      if (!cidr) continue;
      out.push({ cidr, text: c.cidr, eniId: eni.id, deviceNumber: eni.deviceNumber, routeTable: eni.routeTable });
    }
  }
  return out;
}

/** First index handed out: the whole /28 for IPv4 (as upstream); IPv6 prefixes skip the all-zero address. */
function firstIndex(c: Cidr): bigint {
  return c.family === 6 && size(c) > 1n ? 1n : 0n;
}

function firstFree(c: Cidr, used: Set<string>): string | undefined {
  const end = size(c);
  // At most |used| addresses are taken, so the scan stops within |used| + 1 steps.
  for (let i = firstIndex(c), steps = 0; i < end && steps <= used.size; i++, steps++) {
    const ip = nth(c, i);
    if (!used.has(ip)) return ip;
  }
  return undefined;
}

/** Used addresses per candidate CIDR, in O(|used| × distinct prefix lengths). */
function countPerCandidate(candidates: Candidate[], used: Iterable<string>): Map<string, number> {
  const byPrefix = new Map<string, Map<bigint, Candidate>>();
  for (const c of candidates) {
    const key = `${c.cidr.family}/${c.cidr.prefix}`;
    let m = byPrefix.get(key);
    if (!m) byPrefix.set(key, (m = new Map()));
    m.set(c.cidr.base, c);
  }
  const counts = new Map<string, number>(candidates.map((c) => [c.text, 0]));
  for (const a of used) {
    const ip = parseIp(a);
    if (!ip) continue;
    for (const [key, m] of byPrefix) {
      const [family, prefix] = key.split("/").map(Number) as [number, number];
      if (family !== ip.family) continue;
      const host = BigInt(bits(ip.family) - prefix);
      const c = m.get((ip.value >> host) << host);
      if (c) counts.set(c.text, (counts.get(c.text) ?? 0) + 1);
    }
  }
  return counts;
}

export function pickAddress(state: BrokerState, capacity: CapacitySnapshot | undefined, now: number, cooldownSeconds: number, card = 0): Pick | Miss {
  if (!capacity) return { kind: "no-capacity", message: "no capacity from pool-manager yet (pool-manager is not reachable or has not published its pool)" };
  const shortage = capacity.shortage ? `; pool-manager says: ${capacity.shortage}` : "";
  if (!capacity.ready) return { kind: "not-ready", message: `pool-manager is not ready yet (it has not read the node's ENIs from EC2)${shortage}` };
  const used = addressesInUse(state, now);
  const candidates = usableCidrs(state, capacity, card);
  const usedPerCidr = countPerCandidate(candidates, used);
  const usedPerEni = new Map<string, number>();
  for (const c of candidates) usedPerEni.set(c.eniId, (usedPerEni.get(c.eniId) ?? 0) + (usedPerCidr.get(c.text) ?? 0));
  const ordered = candidates
    .map((c, i) => ({ c, i }))
    .sort(
      (a, b) =>
        (usedPerCidr.get(b.c.text) ?? 0) - (usedPerCidr.get(a.c.text) ?? 0) ||
        (usedPerEni.get(b.c.eniId) ?? 0) - (usedPerEni.get(a.c.eniId) ?? 0) ||
        a.c.deviceNumber - b.c.deviceNumber ||
        a.i - b.i,
    );
  for (const { c } of ordered) {
    const ip = firstFree(c.cidr, used);
    if (ip) return { address: ip, cidr: c.text, eniId: c.eniId, routeTable: c.routeTable };
  }
  // Nothing free: say why, in words an operator can act on.
  const cooling = [...state.cooling.values()].filter((x) => x.until > now && candidates.some((c) => contains(c.cidr, x.address)));
  if (cooling.length > 0) {
    const next = Math.min(...cooling.map((x) => x.until));
    return {
      kind: "cooling",
      message: `all ${cooling.length} free address${cooling.length > 1 ? "es are" : " is"} cooling down (IP_COOLDOWN_PERIOD=${cooldownSeconds}s); the next is free in ${Math.ceil((next - now) / 1000)}s${shortage}`,
    };
  }
  const total = candidates.reduce((n, c) => n + Number(size(c.cidr) - firstIndex(c.cidr)), 0);
  return {
    kind: total === 0 ? "empty" : "exhausted",
    message: `no free address${card > 0 ? ` on network card ${card}` : ""}: ${total === 0 ? "the pool is empty" : `all ${total} addresses are assigned`}${shortage || "; pool-manager has been asked for more"}`,
  };
}

export function isMiss(x: Pick | Miss): x is Miss {
  return (x as Miss).kind !== undefined;
}
