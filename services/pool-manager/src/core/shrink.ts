/**
 * Shrinking, as upstream: when the pool is too high (only with WARM_IP_TARGET /
 * MINIMUM_IP_TARGET, or WARM_PREFIX_TARGET with PD; WARM_ENI_TARGET alone never frees
 * single addresses) release CIDRs no pod holds (cooling ones too, as upstream, unless
 * holdCoolingIps keeps them to the end of their cooldown), at most every 30 s; then free one whole ENI that
 * is not primary, not younger than a minute, holds no pod and no cooling address, and is
 * not needed for the targets. ENIs in excluded subnets are freed as soon as they are empty.
 */
import type { PlanAction } from "./actions.ts";
import type { PlanContext } from "./planner.ts";
import { MIN_ENI_LIFETIME_MS, SHRINK_INTERVAL_MS } from "./planner.ts";
import { cidrIsReleasable, countedCidrs, prefixIsFree } from "./pool-stats.ts";
import { useOf, type PoolEni } from "./pool-state.ts";
import { IPV4_PREFIX_SIZE, ipTargetsDefined, type PoolSettings } from "./settings.ts";

export function planShrink(ctx: PlanContext): PlanAction[] {
  const actions = planRelease(ctx);
  const released = new Set(actions.flatMap((a) => (a.kind === "release" ? a.cidrs : [])));
  const eni = planFreeEni(ctx, released);
  if (eni) actions.push(eni);
  return actions;
}

/** upstream isDatastorePoolTooHigh + tryUnassignCidrsFromAll; the budget is in addresses. */
function planRelease(ctx: PlanContext): PlanAction[] {
  const { s, state, stats, target, now, usage } = ctx;
  if (state.lastShrinkAtMs !== undefined && now - state.lastShrinkAtMs <= SHRINK_INTERVAL_MS) return [];
  let overUnits: number;
  let why: string;
  if (target) {
    overUnits = target.over;
    why = `${stats.available} available is over WARM_IP_TARGET=${s.warmIpTarget} / MINIMUM_IP_TARGET=${s.minimumIpTarget} by ${target.over}${s.prefixDelegation ? " prefix(es)" : ""}`;
  } else if (s.prefixDelegation) {
    overUnits = Math.max(stats.freePrefixes - s.warmPrefixTarget, 0);
    why = `${stats.freePrefixes} free prefixes, WARM_PREFIX_TARGET=${s.warmPrefixTarget}`;
  } else {
    return [];
  }
  let budget = s.prefixDelegation ? overUnits * IPV4_PREFIX_SIZE : overUnits;
  // Demand-aware: never release what the pods scheduled to the node are about to take (else
  // the next check grows it back).
  if (s.demandAware) budget = Math.min(budget, Math.max(stats.available - demandHeld(ctx) - s.warmIpTarget, 0));
  if (budget <= 0) return [];
  const actions: PlanAction[] = [];
  for (const eni of [...state.enis].sort((a, b) => b.deviceNumber - a.deviceNumber)) {
    // Prefixes first (the unit of PD), then /32s (PD fallback leftovers or secondary-IP mode).
    const idle = countedCidrs(s, eni)
      .filter((c) => cidrIsReleasable(s, usage, c))
      .sort((a, b) => b.size - a.size);
    const take: string[] = [];
    for (const c of idle) {
      if (c.size > budget) continue;
      take.push(c.cidr);
      budget -= c.size;
    }
    if (take.length > 0) actions.push({ kind: "release", eniId: eni.id, cidrs: take, reason: why });
    if (budget <= 0) break;
  }
  return actions;
}

/** upstream shouldRemoveExtraENIs + getDeletableENI (one ENI per cycle). */
function planFreeEni(ctx: PlanContext, released: ReadonlySet<string>): PlanAction | undefined {
  const { s, state, usage, now, d } = ctx;
  if (state.node.terminating || (state.node.unschedulable && !s.manageNonSchedulable)) return undefined;
  const byDeviceDesc = [...state.enis].sort((a, b) => b.deviceNumber - a.deviceNumber);
  const empty = (e: PoolEni) => e.cidrs.every((c) => released.has(c.cidr) || (useOf(usage, c.cidr).assigned === 0 && useOf(usage, c.cidr).cooling === 0));
  const old = (e: PoolEni) => now - e.createdAtMs >= MIN_ENI_LIFETIME_MS;
  const excluded = byDeviceDesc.find((e) => e.excluded && !e.primary && !e.trunk && old(e) && empty(e));
  if (excluded) return { kind: "deleteEni", eniId: excluded.id, reason: `its subnet ${excluded.subnetId} is excluded (kubernetes.io/role/cni=0) and it holds no pod` };
  const shouldRemove = ipTargetsDefined(s) || ctx.stats.available >= ((s.prefixDelegation ? s.warmPrefixTarget : s.warmEniTarget) + 1) * d.maxIpsPerEni || s.prefixDelegation;
  if (!shouldRemove) return undefined;
  for (const eni of byDeviceDesc) {
    if (eni.primary || eni.trunk || eni.efa || !old(eni) || !empty(eni)) continue;
    const need = requiredFor(s, ctx, eni, released);
    if (need) continue;
    const size = countedCidrs(s, eni).filter((c) => !released.has(c.cidr)).reduce((n, c) => n + c.size, 0);
    if (s.demandAware && ctx.stats.available - size < demandHeld(ctx)) continue; // pods scheduled here need it
    
    const why = ipTargetsDefined(s)
      ? `not needed for WARM_IP_TARGET=${s.warmIpTarget} / MINIMUM_IP_TARGET=${s.minimumIpTarget}`
      : s.prefixDelegation
        ? `not needed for WARM_PREFIX_TARGET=${s.warmPrefixTarget}`
        : `${ctx.stats.available} available ≥ (WARM_ENI_TARGET=${s.warmEniTarget} + 1) × ${d.maxIpsPerEni}`;
    return { kind: "deleteEni", eniId: eni.id, reason: `unused ENI, ${why}` };
  }
  return undefined;
}

/** The targets this ENI is needed for (upstream isRequiredFor*), or undefined. */
function requiredFor(s: PoolSettings, ctx: PlanContext, eni: PoolEni, released: ReadonlySet<string>): string | undefined {
  let otherWarm = 0;
  let otherTotal = 0;
  let otherFreePrefixes = 0;
  for (const other of ctx.state.enis) {
    if (other.id === eni.id) continue;
    for (const c of countedCidrs(s, other)) {
      if (released.has(c.cidr)) continue;
      const u = useOf(ctx.usage, c.cidr);
      otherTotal += c.size;
      otherWarm += c.size - u.assigned - (s.coolingCountsAsAvailable ? 0 : u.cooling);
      if (prefixIsFree(s, ctx.usage, c)) otherFreePrefixes += 1;
    }
  }
  const round = (n: number) => (s.prefixDelegation ? Math.ceil(n / IPV4_PREFIX_SIZE) * IPV4_PREFIX_SIZE : n);
  if (s.warmIpTarget !== 0 && otherWarm < round(s.warmIpTarget)) return "WARM_IP_TARGET";
  if (s.minimumIpTarget !== 0 && otherTotal < round(s.minimumIpTarget)) return "MINIMUM_IP_TARGET";
  if (s.prefixDelegation && s.warmPrefixTarget !== 0 && otherFreePrefixes < s.warmPrefixTarget) return "WARM_PREFIX_TARGET";
  // WARM_ENI_TARGET alone: shouldRemoveExtraENIs already guaranteed the rest keeps the target.
  return undefined;
}

/** Addresses the pods scheduled to the node or waiting for an ADD will take (demand-aware only). */
function demandHeld(ctx: PlanContext): number {
  return Math.max(ctx.usage.pendingPods, ctx.usage.waiting, 0);
}
