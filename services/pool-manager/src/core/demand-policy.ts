/**
 * The `demand` pool policy: instead of upstream's fixed warm targets, keep a free buffer
 * sized from what the node has actually seen — the most pods that arrived within one
 * lead time (how long a grow takes: a cycle plus an assign, several seconds for an ENI)
 * over a recent horizon — plus pods waiting, missed or pending right now, never less than
 * a small floor (or WARM_IP_TARGET, which acts as a floor here). Growth is one batched call
 * per ENI. Release has hysteresis, like Cilium's watermark and release delay: only what
 * exceeds (the most pods held during the release delay + buffer + slack) is released, so a
 * surplus must persist for the whole delay; cooling and assigned addresses are never
 * released; a whole ENI is freed only when empty, older than the minimum lifetime, unused
 * for the ENI delay and not needed. Pure: `now` and the demand history come in as input.
 */
import type { PlanAction } from "./actions.ts";
import { peakArrivals, peakAssigned } from "./demand-history.ts";
import { allocatableEnis, growthBlocked, growthKind, MIN_ENI_LIFETIME_MS, plan, roomForEnis, SHRINK_INTERVAL_MS, type Plan, type PlanContext } from "./planner.ts";
import { cidrIsIdle, countedCidrs, divCeil, poolStats } from "./pool-stats.ts";
import { type PoolEni, type PoolState, type PoolUsage } from "./pool-state.ts";
import { deriveLimits, IPV4_PREFIX_SIZE, type PoolLimits, type PoolSettings } from "./settings.ts";

export interface DemandTuning {
  /** Arrivals within this span must be served from the buffer (5 s cycle + a grow). */
  leadMs: 10000,
  /** How far back arrival peaks are looked for. */
  horizonMs: 300000,
  /** A surplus is released only after it persisted this long (Cilium: 180 s). */
  releaseDelayMs: 300000,
  /** An empty secondary ENI is deleted only after the pool did not need it for this long. */
  eniReleaseDelayMs: 1800000,
  /** Free addresses kept at least. */
  floor: 2,
  /** A surplus up to this many addresses is not worth a release call. */
  slack: 4,
  /** Extra addresses added to a grow, so that one call also covers the next arrivals. */
  growHeadroom: 2,
}

export const DEMAND_TUNING: DemandTuning = {
  leadMs: 10000,
  horizonMs: 300000,
  releaseDelayMs: 300000,
  eniReleaseDelayMs: 1800000,
  floor: 2,
  slack: 4,
  growHeadroom: 2,
};

/** Samples the app must keep for this tuning. */
export function historyKeepMs(t: DemandTuning = DEMAND_TUNING): number {
  return Math.max(t.horizonMs, t.releaseDelayMs, t.eniReleaseDelayMs) + t.leadMs;
}

export interface DemandSizing {
  /** Free addresses wanted beyond current demand (peak arrivals in a lead time, floor). */
  buffer: number;
  /** Addresses wanted right now: waiting ADDs, new misses, pods scheduled without one. */
  urgent: number;
  /** The most addresses pods held during the release delay. */
  heldPeak: number;
  /** Pool size released down to (once the surplus exceeds the slack). */
  keep: number;
}

export function demandSizing(s: PoolSettings, state: PoolState, usage: PoolUsage, assigned: number, now: number, t: DemandTuning): DemandSizing {
  const peak = peakArrivals(state.demand, now, t.leadMs, t.horizonMs);
  const buffer = Math.max(t.floor, s.warmIpTarget, peak);
  const urgent = Math.max(usage.waiting, usage.newMisses, usage.pendingPods, 0);
  const heldPeak = peakAssigned(state.demand, now, t.releaseDelayMs, assigned);
  const keep = Math.max(heldPeak + buffer, s.minimumIpTarget);
  return { buffer, urgent, heldPeak, keep };
}

export function planDemand(state: PoolState, usage: PoolUsage, settings: PoolSettings, limits: PoolLimits, now: number, t: DemandTuning = DEMAND_TUNING): Plan {
  // Cooling addresses are never free in this policy; IPv6 needs only the one /80 (as upstream).
  const s: PoolSettings = { ...settings, coolingCountsAsAvailable: false };
  if (s.family === "ipv6") return plan(state, usage, s, limits, now);
  const stats = poolStats(s, state, usage);
  const ctx: PlanContext = { s, state, usage, limits, d: deriveLimits(s, limits), now, stats, target: undefined };
  const z = demandSizing(s, state, usage, stats.assigned, now, t);
  const wantAvailable = z.buffer + z.urgent;
  const wantTotal = Math.min(Math.max(stats.assigned + stats.cooling + wantAvailable, s.minimumIpTarget), limits.maxPods);
  const sizing = `buffer ${z.buffer} (peak arrivals per ${t.leadMs / 1000} s over ${t.horizonMs / 60_000} min, floor ${Math.max(t.floor, s.warmIpTarget)}), urgent ${z.urgent}`;
  if (stats.total < wantTotal) {
    const reason = `demand: ${stats.available} free of ${stats.total} (${stats.assigned} assigned, ${stats.cooling} cooling); want ${wantTotal}: ${sizing}`;
    const short = wantTotal - stats.total;
    const grow = Math.min(short + (z.urgent > 0 ? 0 : t.growHeadroom), Math.max(limits.maxPods - stats.total, 0));
    const grown = planGrowthBatched(ctx, grow, reason);
    return { actions: grown.actions, stats, low: true, reason, ...(grown.shortage ? { shortage: grown.shortage } : {}) };
  }
  const reason = `demand: ${stats.available} free of ${stats.total}; keep ${z.keep} (${z.heldPeak} held at peak in ${t.releaseDelayMs / 60_000} min + buffer; release beyond slack ${t.slack}): ${sizing}`;
  return { actions: planRelease(ctx, z, t), stats, low: false, reason };
}

/** Adds `addresses` in one call per ENI: existing ENIs with room first, then new ENIs. */
function planGrowthBatched(ctx: PlanContext, addresses: number, why: string): { actions: PlanAction[]; shortage?: string } {
  const blocked = growthBlocked(ctx);
  if (blocked) return { actions: [], shortage: `pool is low (${why}) but cannot grow: ${blocked}` };
  if (addresses <= 0) return { actions: [] };
  const { kind, fallback } = growthKind(ctx);
  const note = fallback ? " (PD fallback to /32s: no free /28 in the subnet)" : "";
  // Units: /32s, or /28s with PD (a /28 holds 16).
  let remaining = kind === "prefix" ? divCeil(addresses, IPV4_PREFIX_SIZE) : addresses;
  const actions: PlanAction[] = [];
  for (const eni of allocatableEnis(ctx)) {
    if (remaining <= 0) break;
    const count = Math.min(ctx.d.slotsPerEni - eni.cidrs.filter((c) => !c.draining).length, remaining);
    if (count <= 0) continue;
    actions.push({ kind: "assign", eniId: eni.id, cidrKind: kind, count, reason: why + note });
    remaining -= count;
  }
  let enisLeft = roomForEnis(ctx);
  if (remaining > 0 && (enisLeft === 0 || ctx.state.newEniBlocked)) {
    const reason = ctx.state.newEniBlocked ?? `all ${ctx.d.maxEni} ENIs are in use and full (MAX_ENI / instance limit, ${ctx.state.unmanagedEnis} unmanaged)`;
    return { actions, ...(actions.length === 0 ? { shortage: `pool is low (${why}) but cannot grow: ${reason}` } : {}) };
  }
  while (remaining > 0 && enisLeft > 0) {
    const count = Math.min(remaining, ctx.d.slotsPerEni);
    actions.push({ kind: "createEni", cidrKind: kind, count, reason: why + note });
    remaining -= count;
    enisLeft -= 1;
  }
  return { actions };
}

/** Releases the surplus beyond `keep`: idle CIDRs of the highest ENIs, or one whole unneeded ENI. */
function planRelease(ctx: PlanContext, z: DemandSizing, t: DemandTuning): PlanAction[] {
  const { state, stats, now, usage, s } = ctx;
  if (state.node.terminating || (state.node.unschedulable && !s.manageNonSchedulable)) return [];
  if (state.lastShrinkAtMs !== undefined && now - state.lastShrinkAtMs <= SHRINK_INTERVAL_MS) return [];
  const byDeviceDesc = [...state.enis].sort((a, b) => b.deviceNumber - a.deviceNumber);
  const empty = (e: PoolEni) => e.cidrs.every((c) => cidrIsIdle(usage, c));
  const deletable = (e: PoolEni) => !e.primary && !e.trunk && !e.efa && now - e.createdAtMs >= MIN_ENI_LIFETIME_MS && empty(e);
  // ENIs in an excluded subnet go as soon as they are empty.
  const excluded = byDeviceDesc.find((e) => e.excluded && deletable(e));
  if (excluded) return [{ kind: "deleteEni", eniId: excluded.id, reason: `its subnet ${excluded.subnetId} is excluded (kubernetes.io/role/cni=0) and it holds no pod` }];
  // Released only once the surplus exceeds the slack, then all of it in one call per ENI.
  let surplus = stats.total - z.keep;
  const actions: PlanAction[] = [];
  if (surplus > t.slack) {
    for (const eni of byDeviceDesc) {
      const idle = countedCidrs(s, eni).filter((c) => cidrIsIdle(usage, c)).sort((a, b) => b.size - a.size);
      const take: string[] = [];
      for (const c of idle) {
        if (c.size > surplus) continue;
        take.push(c.cidr);
        surplus -= c.size;
      }
      if (take.length > 0) actions.push({ kind: "release", eniId: eni.id, cidrs: take, reason: `${stats.total} held, ${z.keep} kept: surplus persisted ${t.releaseDelayMs / 60_000} min` });
      if (surplus <= 0) break;
    }
  }
  if (actions.length > 0) return actions;
  // No address to release: an empty secondary ENI whose capacity the pool has not needed for
  // the ENI delay goes (detach + delete), highest device first, one per cycle.
  const heldLong = peakAssigned(state.demand, now, t.eniReleaseDelayMs, stats.assigned);
  const capacity = (skip: PoolEni) => state.enis.filter((e) => e !== skip && !e.trunk && !e.efa && !(s.customNetwork && e.primary)).length * ctx.d.maxIpsPerEni;
  for (const eni of byDeviceDesc) {
    if (!deletable(eni)) continue;
    const holds = countedCidrs(s, eni).reduce((n, c) => n + c.size, 0);
    if (capacity(eni) < heldLong + z.buffer + t.slack || stats.total - holds < z.keep) continue;
    return [{ kind: "deleteEni", eniId: eni.id, reason: `empty, and the other ENIs held the peak of ${heldLong} pods of the last ${t.eniReleaseDelayMs / 60_000} min with room to spare` }];
  }
  return [];
}
