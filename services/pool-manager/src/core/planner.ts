/**
 * The pool planner: (state, usage, settings, limits, now) → actions. Pure: no I/O, no
 * clock reads. One call is one cycle of upstream's 5 s pool check (`updateIPPoolIfRequired`):
 * grow when too low, else release CIDRs when too high (at most every 30 s), then free one
 * unused ENI. Beyond upstream, each behind its setting: cooling addresses are not
 * available, growth follows unmet demand in one step, PD falls back to /32s.
 */
import type { PlanAction } from "./actions.ts";
import { countedCidrs, eniServesPods, poolStats, targetState, divCeil, type PoolStats, type TargetState } from "./pool-stats.ts";
import type { CidrKind, PoolEni, PoolState, PoolUsage } from "./pool-state.ts";
import { deriveLimits, IPV4_PREFIX_SIZE, type DerivedLimits, type PoolLimits, type PoolSettings } from "./settings.ts";
import { planShrink } from "./shrink.ts";

export const INSUFFICIENT_CIDR_WINDOW_MS = 120_000;
export const SHRINK_INTERVAL_MS = 30_000;
export const MIN_ENI_LIFETIME_MS = 60_000;

export interface Plan {
  actions: PlanAction[];
  stats: PoolStats;
  low: boolean;
  /** Why the pool is (not) low, e.g. "WARM_IP_TARGET=5: 3 available, short 2". */
  reason: string;
  /** Set when the pool needs addresses it cannot get, with what an operator can do. */
  shortage?: string;
}

export interface PlanContext {
  s: PoolSettings;
  state: PoolState;
  usage: PoolUsage;
  limits: PoolLimits;
  d: DerivedLimits;
  now: number;
  stats: PoolStats;
  target: TargetState | undefined;
}

export function plan(state: PoolState, usage: PoolUsage, s: PoolSettings, limits: PoolLimits, now: number): Plan {
  const stats = poolStats(s, state, usage);
  const ctx: PlanContext = { s, state, usage, limits, d: deriveLimits(s, limits), now, stats, target: targetState(s, stats) };
  if (s.family === "ipv6") return planIpv6(ctx);
  const low = lowDecision(ctx);
  const actions: PlanAction[] = [];
  let shortage: string | undefined;
  if (low.low) {
    const grown = planGrowth(ctx, low.reason);
    actions.push(...grown.actions);
    shortage = grown.shortage;
  } else {
    actions.push(...planShrink(ctx));
  }
  return { actions, stats, low: low.low, reason: low.reason, ...(shortage ? { shortage } : {}) };
}

/** Unmet demand in addresses: waiting ADDs, new misses, or scheduled pods beyond what is free. */
export function unmetDemand(ctx: PlanContext): number {
  if (!ctx.s.demandAware) return 0;
  const u = ctx.usage;
  return Math.max(u.waiting, u.newMisses, u.pendingPods - ctx.stats.available, 0);
}

/** upstream isDatastorePoolTooLow, plus demand. */
function lowDecision(ctx: PlanContext): { low: boolean; reason: string } {
  const { s, stats, target, d } = ctx;
  if (stats.total >= ctx.limits.maxPods) return { low: false, reason: `max pods ${ctx.limits.maxPods} reached: ${stats.total} addresses` };
  const demand = unmetDemand(ctx);
  if (demand > 0) return { low: true, reason: `demand: ${demand} address(es) wanted beyond ${stats.available} available` };
  if (target) {
    const unit = s.prefixDelegation ? " prefix(es)" : "";
    const names = [s.warmIpTarget ? `WARM_IP_TARGET=${s.warmIpTarget}` : "", s.minimumIpTarget ? `MINIMUM_IP_TARGET=${s.minimumIpTarget}` : ""].filter(Boolean).join(" ");
    return { low: target.short > 0, reason: `${names}: ${stats.available} available of ${stats.total}, short ${target.short}${unit}` };
  }
  const warm = s.prefixDelegation ? s.warmPrefixTarget : s.warmEniTarget;
  const name = s.prefixDelegation ? `WARM_PREFIX_TARGET=${warm}` : `WARM_ENI_TARGET=${warm}`;
  const want = d.addressesPerWarmUnit * warm;
  const low = stats.available < want || (warm === 0 && stats.available === 0);
  return { low, reason: `${name}: ${stats.available} available, want ${want}${low ? "" : " (met)"}` };
}

/** Why growth is not allowed now, or undefined. */
export function growthBlocked(ctx: PlanContext): string | undefined {
  const { state, s, now } = ctx;
  if (state.node.terminating) return "node is terminating";
  if (state.node.unschedulable && !s.manageNonSchedulable) {
    return "node is tainted unschedulable; set AWS_MANAGE_ENIS_NON_SCHEDULABLE=true to grow the pool anyway";
  }
  const a = state.insufficientAddressesAtMs;
  if (a !== undefined && now - a < INSUFFICIENT_CIDR_WINDOW_MS) {
    return `the subnet had no free addresses ${Math.round((now - a) / 1000)} s ago (InsufficientFreeAddressesInSubnet); retrying in ${Math.ceil((a + INSUFFICIENT_CIDR_WINDOW_MS - now) / 1000)} s — add a subnet (tag kubernetes.io/role/cni=1) or free addresses`;
  }
  const p = state.insufficientPrefixesAtMs;
  if (p !== undefined && now - p < INSUFFICIENT_CIDR_WINDOW_MS && !(s.prefixDelegation && s.pdFallbackToIps)) {
    return `the subnet had no free aligned /28 ${Math.round((now - p) / 1000)} s ago (InsufficientCidrBlocks); retrying in ${Math.ceil((p + INSUFFICIENT_CIDR_WINDOW_MS - now) / 1000)} s — create a subnet CIDR reservation or enable the /32 fallback`;
  }
  return undefined;
}

/** The kind of CIDR to add: /28 with PD unless the fallback to /32s is in force. */
export function growthKind(ctx: PlanContext): { kind: CidrKind; fallback: boolean } {
  const { s, state, now } = ctx;
  if (!s.prefixDelegation) return { kind: "address", fallback: false };
  const p = state.insufficientPrefixesAtMs;
  if (s.pdFallbackToIps && p !== undefined && now - p < INSUFFICIENT_CIDR_WINDOW_MS) return { kind: "address", fallback: true };
  return { kind: "prefix", fallback: false };
}

/** Units (addresses, or prefixes with PD) to add to an existing ENI: upstream tryAssignIPs / getPrefixesNeeded. */
function unitsWanted(ctx: PlanContext): number {
  const { s, target, stats, d } = ctx;
  let units: number;
  if (s.prefixDelegation) {
    units = target ? Math.max(1, target.short) : Math.max(1, s.warmPrefixTarget - stats.freePrefixes);
  } else {
    units = target ? target.short : d.maxIpsPerEni;
  }
  const demand = unmetDemand(ctx);
  if (demand > 0) {
    const demandUnits = s.prefixDelegation ? divCeil(demand, IPV4_PREFIX_SIZE) : demand;
    // Demand comes on top of what the warm rule keeps free, capped by max pods.
    const room = Math.max(ctx.limits.maxPods - stats.total, 0);
    const roomUnits = s.prefixDelegation ? divCeil(room, IPV4_PREFIX_SIZE) : room;
    units = Math.max(units, Math.min(demandUnits + (target ? target.short : 0), roomUnits));
  }
  return units;
}

/** ENIs that may receive more CIDRs (upstream GetAllocatableENIs), lowest device first. */
export function allocatableEnis(ctx: PlanContext): PoolEni[] {
  return ctx.state.enis
    .filter((e) => eniServesPods(ctx.s, e) && e.cidrs.filter((c) => !c.draining).length < ctx.d.slotsPerEni)
    .sort((a, b) => a.deviceNumber - b.deviceNumber);
}

/**
 * Upstream's tryEnableSecurityGroupsForPods: the CNINode feature (which makes the resource
 * controller attach a trunk) is asked for only while an ENI slot is free for the trunk, or
 * once the trunk is there; an instance type that cannot trunk never asks.
 */
export function trunkSlotAvailable(state: Pick<PoolState, "enis" | "unmanagedEnis">, s: PoolSettings, limits: PoolLimits): boolean {
  if (!s.podEni || !limits.trunking) return false;
  if (state.enis.some((e) => e.trunk)) return true;
  return state.enis.length < deriveLimits(s, limits).maxEni - state.unmanagedEnis;
}

/** upstream hasRoomForEni: `enis < maxENI − unmanaged − trunkReserve`. */
export function roomForEnis(ctx: PlanContext): number {
  const { s, state, limits, d } = ctx;
  const trunkReserve = s.podEni && limits.trunking && !state.enis.some((e) => e.trunk) ? 1 : 0;
  return Math.max(d.maxEni - state.unmanagedEnis - trunkReserve - state.enis.length, 0);
}

function planGrowth(ctx: PlanContext, why: string): { actions: PlanAction[]; shortage?: string } {
  const blocked = growthBlocked(ctx);
  if (blocked) return { actions: [], shortage: `pool is low (${why}) but cannot grow: ${blocked}` };
  const { kind, fallback } = growthKind(ctx);
  const perSlot = fallback ? IPV4_PREFIX_SIZE : 1; // a wanted prefix becomes 16 /32s under the fallback
  let remaining = unitsWanted(ctx) * perSlot;
  const multi = unmetDemand(ctx) > 0; // demand-aware: several ENIs in one step
  const note = fallback ? " (PD fallback to /32s: no free /28 in the subnet)" : "";
  const actions: PlanAction[] = [];
  for (const eni of allocatableEnis(ctx)) {
    if (remaining <= 0) break;
    const room = ctx.d.slotsPerEni - eni.cidrs.filter((c) => !c.draining).length;
    const count = Math.min(room, remaining);
    if (count <= 0) continue;
    actions.push({ kind: "assign", eniId: eni.id, cidrKind: kind, count, reason: why + note });
    remaining -= count;
    if (!multi) return { actions };
  }
  if (actions.length > 0 && (!multi || remaining <= 0)) return { actions };
  let enisLeft = roomForEnis(ctx);
  if (enisLeft === 0 || ctx.state.newEniBlocked) {
    if (actions.length > 0) return { actions };
    const reason = ctx.state.newEniBlocked ?? `all ${ctx.d.maxEni} ENIs are in use and full (MAX_ENI / instance limit, ${ctx.state.unmanagedEnis} unmanaged)`;
    return { actions, shortage: `pool is low (${why}) but cannot grow: ${reason}` };
  }
  // A new ENI gets upstream's GetENIResourcesToAllocate, or the remaining demand.
  let first = Math.min(newEniUnits(ctx) * perSlot, ctx.d.slotsPerEni);
  if (multi) first = Math.min(remaining, ctx.d.slotsPerEni);
  do {
    const count = actions.some((a) => a.kind === "createEni") ? Math.min(remaining, ctx.d.slotsPerEni) : first;
    if (count <= 0) break;
    actions.push({ kind: "createEni", cidrKind: kind, count, reason: why + note });
    remaining -= count;
    enisLeft -= 1;
  } while (multi && remaining > 0 && enisLeft > 0);
  return { actions };
}

/** upstream GetENIResourcesToAllocate (in units). */
function newEniUnits(ctx: PlanContext): number {
  const { s, target, d, stats } = ctx;
  if (s.prefixDelegation) {
    const needed = target ? Math.max(1, target.short) : Math.max(1, s.warmPrefixTarget - stats.freePrefixes);
    return Math.min(needed, d.slotsPerEni);
  }
  return target ? Math.min(target.short, d.maxIpsPerEni) : d.maxIpsPerEni;
}

/** IPv6: upstream gives the primary ENI one /80 and does nothing else. */
function planIpv6(ctx: PlanContext): Plan {
  const primary = ctx.state.enis.find((e) => e.primary);
  const has = primary && countedCidrs(ctx.s, primary).some((c) => c.kind === "prefix");
  const base = { stats: ctx.stats, low: !has };
  if (!primary || has) return { ...base, actions: [], reason: has ? "IPv6: the primary ENI has its /80" : "IPv6: no primary ENI known" };
  const blocked = growthBlocked(ctx);
  if (blocked) return { ...base, actions: [], reason: "IPv6: the primary ENI needs a /80", shortage: `cannot assign an IPv6 /80: ${blocked}` };
  return { ...base, reason: "IPv6: the primary ENI needs a /80", actions: [{ kind: "assign", eniId: primary.id, cidrKind: "prefix", count: 1, reason: "IPv6: one /80 on the primary ENI" }] };
}
