/**
 * Pool arithmetic: which CIDRs count, how many addresses are available, and how far the
 * pool is short of or over its WARM_IP_TARGET / MINIMUM_IP_TARGET (upstream
 * `GetIPStats` and `datastoreTargetState`, as pure functions).
 */
import type { PoolCidr, PoolEni, PoolState, PoolUsage } from "./pool-state.ts";
import { useOf } from "./pool-state.ts";
import { IPV4_PREFIX_SIZE, ipTargetsDefined, type PoolSettings } from "./settings.ts";

/**
 * Pods may take addresses from this ENI. An EFA ENI (InterfaceType efa) does, as upstream's
 * datastore hands out its addresses; it is only never deleted. efa-only ENIs are not adopted.
 */
export function eniServesPods(s: PoolSettings, eni: PoolEni): boolean {
  return !eni.trunk && !eni.excluded && !(s.customNetwork && eni.primary);
}

/**
 * A CIDR counts when its kind is the current mode's: /28s with PD (and /32s too when the
 * PD fallback is on, since the fallback puts them there), /32s otherwise.
 */
export function cidrCounts(s: PoolSettings, c: PoolCidr): boolean {
  if (c.draining) return false;
  if (s.family === "ipv6") return true;
  if (s.prefixDelegation) return c.kind === "prefix" || (s.pdFallbackToIps && c.kind === "address");
  return c.kind === "address";
}

export function countedCidrs(s: PoolSettings, eni: PoolEni): PoolCidr[] {
  return eniServesPods(s, eni) ? eni.cidrs.filter((c) => cidrCounts(s, c)) : [];
}

/** Unused by pods and not cooling: safe to ask addr-broker to drain. */
export function cidrIsIdle(usage: PoolUsage, c: PoolCidr): boolean {
  const u = useOf(usage, c.cidr);
  return u.assigned === 0 && u.cooling === 0;
}

/**
 * May go back to EC2 when the pool is over its targets: idle, or, without holdCoolingIps,
 * holding no pod even if addresses still cool (upstream's FindFreeableCidrs counts only
 * assigned addresses).
 */
export function cidrIsReleasable(s: PoolSettings, usage: PoolUsage, c: PoolCidr): boolean {
  return s.holdCoolingIps ? cidrIsIdle(usage, c) : useOf(usage, c.cidr).assigned === 0;
}

/** Free in the sense of WARM_PREFIX_TARGET: nothing assigned (nor cooling, unless cooling counts as available). */
export function prefixIsFree(s: PoolSettings, usage: PoolUsage, c: PoolCidr): boolean {
  const u = useOf(usage, c.cidr);
  return c.kind === "prefix" && u.assigned === 0 && (s.coolingCountsAsAvailable || u.cooling === 0);
}

export interface PoolStats {
  total: number;
  assigned: number;
  cooling: number;
  /** total − assigned (− cooling unless cooling counts as available). */
  available: number;
  totalPrefixes: number;
  freePrefixes: number;
}

export function poolStats(s: PoolSettings, state: PoolState, usage: PoolUsage, skip?: ReadonlySet<string>): PoolStats {
  const st: PoolStats = { total: 0, assigned: 0, cooling: 0, available: 0, totalPrefixes: 0, freePrefixes: 0 };
  for (const eni of state.enis) {
    if (skip?.has(eni.id)) continue;
    for (const c of countedCidrs(s, eni)) {
      if (skip?.has(c.cidr)) continue;
      const u = useOf(usage, c.cidr);
      st.total += c.size;
      st.assigned += Math.min(u.assigned, c.size);
      st.cooling += Math.min(u.cooling, c.size);
      if (c.kind === "prefix") {
        st.totalPrefixes += 1;
        if (prefixIsFree(s, usage, c)) st.freePrefixes += 1;
      }
    }
  }
  st.available = st.total - st.assigned - (s.coolingCountsAsAvailable ? 0 : st.cooling);
  return st;
}

export interface TargetState {
  /** In addresses; in prefixes with PD. */
  short: number;
  over: number;
}

/** upstream datastoreTargetState; undefined when neither WARM_IP_TARGET nor MINIMUM_IP_TARGET is set. */
export function targetState(s: PoolSettings, st: PoolStats): TargetState | undefined {
  if (!ipTargetsDefined(s)) return undefined;
  let short = Math.max(s.warmIpTarget - st.available, 0);
  short = Math.max(short, s.minimumIpTarget - st.total);
  let over = Math.max(st.available - s.warmIpTarget, 0);
  over = Math.max(Math.min(over, st.total - s.minimumIpTarget), 0);
  if (!s.prefixDelegation) return { short, over };
  const shortPrefix = divCeil(short, IPV4_PREFIX_SIZE);
  const needWarm = divCeil(st.assigned + s.warmIpTarget, IPV4_PREFIX_SIZE);
  const needMin = divCeil(s.minimumIpTarget, IPV4_PREFIX_SIZE);
  let overPrefix = Math.max(Math.min(st.freePrefixes, st.totalPrefixes - needWarm), 0);
  overPrefix = Math.max(Math.min(overPrefix, st.totalPrefixes - needMin), 0);
  return { short: shortPrefix, over: overPrefix };
}

export function divCeil(x: number, y: number): number {
  return Math.floor((x + y - 1) / y);
}
