/**
 * The pool planner the app calls: upstream's warm targets exactly (`compat`, planner.ts)
 * or the demand policy (`demand`, demand-policy.ts), by `settings.policy`. Both produce the
 * same actions, so the executor does not care which one planned. Either way, CIDRs of the
 * kind the node no longer uses (after ENABLE_PREFIX_DELEGATION was switched) are given back
 * as soon as no pod holds them.
 */
import type { PlanAction } from "./actions.ts";
import { planDemand } from "./demand-policy.ts";
import { INSUFFICIENT_CIDR_WINDOW_MS, plan, type Plan } from "./planner.ts";
import { cidrCounts, cidrIsIdle, eniServesPods } from "./pool-stats.ts";
import type { PoolCidr, PoolState, PoolUsage } from "./pool-state.ts";
import type { PoolLimits, PoolSettings } from "./settings.ts";

export function planPool(state: PoolState, usage: PoolUsage, settings: PoolSettings, limits: PoolLimits, now: number): Plan {
  const s = effectiveSettings(settings, state, now);
  const p = s.policy === "demand" ? planDemand(state, usage, s, limits, now) : plan(state, usage, s, limits, now);
  const taken = new Set(p.actions.flatMap((a) => (a.kind === "release" ? a.cidrs : a.kind === "deleteEni" ? state.enis.find((e) => e.id === a.eniId)?.cidrs.map((c) => c.cidr) ?? [] : [])));
  const switched = planLeftoverRelease(state, usage, s).map((a) => (a.kind === "release" ? { ...a, cidrs: a.cidrs.filter((c) => !taken.has(c)) } : a));
  return { ...p, actions: [...p.actions, ...switched.filter((a) => a.kind !== "release" || a.cidrs.length > 0)] };
}

/**
 * The settings a plan works with: with prefix delegation, /32s are the pool's kind only while
 * the /32 fallback is in force (a /28 could not be had within the last 120 s); otherwise they
 * are left over from before (ENABLE_PREFIX_DELEGATION switched on, or an earlier fallback).
 */
export function effectiveSettings(s: PoolSettings, state: Pick<PoolState, "insufficientPrefixesAtMs">, now: number): PoolSettings {
  if (!s.prefixDelegation || !s.pdFallbackToIps) return s;
  const p = state.insufficientPrefixesAtMs;
  const inForce = p !== undefined && now - p < INSUFFICIENT_CIDR_WINDOW_MS;
  return inForce ? s : { ...s, pdFallbackToIps: false };
}

/** A CIDR of the kind the node no longer hands out (IPv4 only): never given to a new pod. */
export function isSwitchedKind(s: PoolSettings, c: PoolCidr): boolean {
  return s.family === "ipv4" && !c.draining && !cidrCounts(s, c);
}

/**
 * Releases of the idle CIDRs of the other kind, one per ENI; and, as upstream does for an
 * ENI in a subnet tagged kubernetes.io/role/cni=0, of every idle CIDR of the primary ENI
 * there (it gives pods nothing any more and cannot be freed as a whole).
 */
export function planLeftoverRelease(state: PoolState, usage: PoolUsage, s: PoolSettings): PlanAction[] {
  const actions: PlanAction[] = [];
  for (const eni of state.enis) {
    if (eni.primary && eni.excluded) {
      const idle = eni.cidrs.filter((c) => !c.draining && cidrIsIdle(usage, c)).map((c) => c.cidr);
      if (idle.length > 0) actions.push({ kind: "release", eniId: eni.id, cidrs: idle, leftover: true, reason: `the node's subnet ${eni.subnetId} is excluded (kubernetes.io/role/cni=0): its idle addresses go back` });
      continue;
    }
    if (!eniServesPods(s, eni)) continue;
    const idle = eni.cidrs.filter((c) => isSwitchedKind(s, c) && cidrIsIdle(usage, c)).map((c) => c.cidr);
    if (idle.length === 0) continue;
    const was = s.prefixDelegation ? "/32 secondary addresses" : "/28 prefixes";
    actions.push({ kind: "release", eniId: eni.id, cidrs: idle, leftover: true, reason: `${was} left from before ENABLE_PREFIX_DELEGATION=${s.prefixDelegation}: no pod holds them` });
  }
  return actions;
}
