/** Usage reports for pool-manager and the drain handshake. Pure. */
import type { CapacitySnapshot } from "../../../../shared/contracts/capacity.ts";
import type { UsageReport } from "../../../../shared/contracts/usage.ts";
import { contains, parseCidr } from "../../../../shared/ip.ts";
import type { BrokerState } from "./state.ts";

export interface CidrCount {
  cidr: string;
  assigned: number;
  cooling: number;
  coolingUntil?: number;
}

/** Assigned and cooling counts for each CIDR (capacity CIDRs and drained ones). */
export function countPerCidr(state: BrokerState, cidrs: Iterable<string>, now: number): CidrCount[] {
  const out: CidrCount[] = [];
  for (const text of new Set(cidrs)) {
    const c = parseCidr(text, false);
    if (!c) continue;
    let assigned = 0;
    for (const a of state.allocations.values()) if (contains(c, a.address)) assigned++;
    for (const r of state.reserved.values()) if (contains(c, r.address)) assigned++;
    let cooling = 0;
    let until = 0;
    for (const x of state.cooling.values()) {
      if (x.until > now && contains(c, x.address)) {
        cooling++;
        until = Math.max(until, x.until);
      }
    }
    out.push(until > 0 ? { cidr: text, assigned, cooling, coolingUntil: until } : { cidr: text, assigned, cooling });
  }
  return out;
}

export function capacityCidrs(capacity: CapacitySnapshot | undefined): string[] {
  return capacity ? capacity.enis.flatMap((e) => e.cidrs.map((c) => c.cidr)) : [];
}

export function usageReport(state: BrokerState, capacity: CapacitySnapshot | undefined, now: number, misses: number, waiting: number): UsageReport {
  const cidrs = countPerCidr(state, [...capacityCidrs(capacity), ...state.drained.keys()], now);
  let cooling = 0;
  for (const x of state.cooling.values()) if (x.until > now) cooling++;
  return {
    capacityVersion: capacity?.version ?? -1,
    capacityEpoch: capacity?.epoch,
    assigned: state.allocations.size + state.reserved.size,
    cooling,
    cidrs,
    misses,
    waiting,
  };
}

export interface DrainDecision {
  state: BrokerState;
  granted: string[];
  refused: Array<{ cidr: string; reason: string }>;
}

/**
 * Grants only CIDRs with no assigned or reserved address, and none cooling unless
 * `releaseCooling` (upstream's release: the cooling addresses of a granted CIDR leave with it);
 * granted ones are never handed out again.
 */
export function decideDrain(state: BrokerState, cidrs: string[], now: number, releaseCooling = false): DrainDecision {
  const drained = new Map(state.drained);
  let cooling = state.cooling;
  const granted: string[] = [];
  const refused: DrainDecision["refused"] = [];
  for (const count of countPerCidr(state, cidrs, now)) {
    if (count.assigned > 0) refused.push({ cidr: count.cidr, reason: `${count.assigned} address${count.assigned > 1 ? "es" : ""} assigned to pods` });
    else if (count.cooling > 0 && !releaseCooling) refused.push({ cidr: count.cidr, reason: `${count.cooling} address${count.cooling > 1 ? "es" : ""} cooling down until ${new Date(count.coolingUntil ?? now).toISOString()}` });
    else {
      granted.push(count.cidr);
      if (!drained.has(count.cidr)) drained.set(count.cidr, now);
      if (count.cooling > 0) cooling = withoutCoolingIn(cooling, count.cidr);
    }
  }
  return { state: granted.length > 0 ? { ...state, drained, cooling } : state, granted, refused };
}

function withoutCoolingIn(cooling: BrokerState["cooling"], text: string): BrokerState["cooling"] {
  const c = parseCidr(text, false);
  return c ? new Map([...cooling].filter(([, x]) => !contains(c, x.address))) : cooling;
}

/** Forgets drained CIDRs pool-manager no longer lists (they were released in EC2). */
export function forgetReleasedDrains(state: BrokerState, capacity: CapacitySnapshot): BrokerState {
  const present = new Set(capacityCidrs(capacity));
  const kept = [...state.drained].filter(([cidr]) => present.has(cidr));
  return kept.length === state.drained.size ? state : { ...state, drained: new Map(kept) };
}
