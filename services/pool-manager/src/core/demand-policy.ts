/**
 * The `demand` pool policy: instead of upstream's fixed warm targets, keep free just what
 * pods need. With the node's pods watched (Kubernetes), a pod is seen when it is scheduled,
 * a second or more before its CNI ADD: the pool grows then, for exactly the pods pending
 * not yet covered by addresses free or being added, plus a small floor and a headroom that
 * widens with the node's churn, so a deployment wave costs a few calls, not one per pod
 * (one call per ENI), and the same pods are never provisioned twice (nor those addressed
 * within kubelet's status lag, which still show pending). A burst still arriving is grown
 * at once by what the bursts seen brought once they got as far. Without the watch, the free
 * buffer is sized from the most pods that arrived within one lead time over a recent horizon.
 * ENIs are the slow part (create + attach + IMDS take seconds) but cost no pod address, so
 * the attached ENIs keep room for the biggest burst seen (one empty ENI is created ahead, in
 * a lull, when it completes that room) and an empty ENI is deleted only when the pool has
 * not needed its room for a long time: no create/delete churn. Addresses freed by pods are
 * kept for a short delay once cooled (pods that left may come back), then the surplus
 * beyond a slack goes in one call per ENI, highest device first, so low ENIs stay packed.
 * Releases and ENIs ahead wait for a lull: the cycle is serial, and while one runs no pod of
 * a burst gets an address. Cooling and assigned addresses are never released nor counted as
 * free. Pure: `now` and the demand history come in as input.
 */
import type { PlanAction } from "./actions.ts";
import { addressedWithin, arrivalsWithin, bursts, burstStillToCome, medianOf, peakArrivals, peakAssigned } from "./demand-history.ts";
import { allocatableEnis, growthBlocked, growthKind, MIN_ENI_LIFETIME_MS, plan, roomForEnis, SHRINK_INTERVAL_MS, type Plan, type PlanContext } from "./planner.ts";
import { cidrIsIdle, countedCidrs, divCeil, eniServesPods, poolStats } from "./pool-stats.ts";
import { useOf, type PoolEni, type PoolState, type PoolUsage } from "./pool-state.ts";
import { deriveLimits, IPV4_PREFIX_SIZE, type PoolLimits, type PoolSettings } from "./settings.ts";

export interface DemandTuning {
  /** Without the pod watch: arrivals within this span must be served from the buffer (a cycle + a grow). */
  leadMs: number;
  /** How far back arrival peaks are looked for (buffer without the watch). */
  horizonMs: number;
  /** Free addresses kept beyond the pods pending. */
  floor: number;
  /** A grow adds at least this many beyond what is wanted (more with churn: see bandSpacingMs). */
  growHeadroom: number;
  /** Addresses pods gave back are kept this long: the pods that left may come back. */
  releaseDelayMs: number;
  /** A surplus up to this many addresses is not worth a release call (at least). */
  slack: number;
  /**
   * Churn band: pods arriving and leaving move the free count like a random walk; a band
   * of width √(2 × arrival rate × spacing) is left by that walk about once per spacing, so
   * slack and grow headroom widen with the node's churn to bound noise-driven calls.
   */
  bandSpacingMs: number;
  /** The arrival rate is measured over this window. */
  rateWindowMs: number;
  /** The attached ENIs keep room for the biggest burst seen over this horizon. */
  roomHorizonMs: number;
  /** An empty secondary ENI is deleted only after the pool did not need its room for this long. */
  eniReleaseDelayMs: number;
  /** Pods scheduled within this of each other are one burst. */
  burstGapMs: number;
  /** Kubelet posts a pod's IP this long after its ADD got the address (the pod watch still sees it pending). */
  statusLagMs: number;
}

export const DEMAND_TUNING: DemandTuning = {
  leadMs: 10_000,
  horizonMs: 300_000,
  floor: 1,
  growHeadroom: 2,
  releaseDelayMs: 60_000,
  slack: 2,
  bandSpacingMs: 1_050_000,
  rateWindowMs: 900_000,
  roomHorizonMs: 3_600_000,
  eniReleaseDelayMs: 7_200_000,
  burstGapMs: 2_000,
  statusLagMs: 1_000,
};

/** Samples the app must keep for this tuning. */
export function historyKeepMs(t: DemandTuning = DEMAND_TUNING): number {
  return Math.max(t.horizonMs, t.releaseDelayMs, t.roomHorizonMs, t.eniReleaseDelayMs) + t.leadMs;
}

export interface DemandSizing {
  /** Pods that want an address now: pending (scheduled, no IP), waiting ADDs, new misses. */
  need: number;
  /** Free addresses kept beyond `need`: the floor (watched) or the peak arrivals per lead time. */
  buffer: number;
  /** Pods that left within the release delay whose addresses cooled (kept free). */
  recentlyLeft: number;
  /** Room (free slots on attached ENIs) kept for the biggest burst seen. */
  room: number;
  /** Surplus kept before releasing, and headroom on a grow: from the churn band. */
  slack: number;
  headroom: number;
  /** Pods watched: more pods the burst now arriving is likely to bring (bursts seen). */
  toCome: number;
  /** Pods watched: the median size of the bursts seen (0 unwatched). */
  typicalBurst: number;
}

export function demandSizing(s: PoolSettings, state: PoolState, usage: PoolUsage, assigned: number, cooling: number, now: number, t: DemandTuning): DemandSizing {
  // With the pod watch, the pending pods are the count: misses are ADD attempts, and a pod
  // retried by kubelet misses again and again (all the more while cycles back off), so
  // counting them would provision the same pods many times over.
  // A pod stays pending until kubelet posts its IP, a moment after its ADD got the address:
  // those addressed within that lag are counted in `assigned` already, not again here.
  const posting = usage.podsWatched ? addressedWithin(state.demand, now, t.statusLagMs, assigned) : 0;
  const need = Math.max(usage.pendingPods - posting, usage.waiting, usage.podsWatched ? 0 : usage.newMisses, 0);
  const burst = peakArrivals(state.demand, now, t.leadMs, t.horizonMs);
  const buffer = Math.max(t.floor, s.warmIpTarget, usage.podsWatched ? 0 : burst);
  // Of the pods that left within the release delay, those whose addresses still cool are
  // held anyway (a cooling address is never free nor released): only the cooled ones are kept.
  const recentlyLeft = Math.max(peakAssigned(state.demand, now, t.releaseDelayMs, assigned) - assigned - cooling, 0);
  const ratePerS = arrivalsWithin(state.demand, now, t.rateWindowMs) / (t.rateWindowMs / 1000);
  const band = Math.ceil(Math.sqrt(2 * ratePerS * (t.bandSpacingMs / 1000)));
  const slack = Math.max(t.slack, band);
  const headroom = Math.max(t.growHeadroom, Math.ceil(band / 2));
  const room = Math.max(peakArrivals(state.demand, now, t.leadMs, t.roomHorizonMs), buffer + headroom);
  const b = usage.podsWatched ? bursts(state.demand, now, t.burstGapMs, t.roomHorizonMs) : undefined;
  const toCome = b ? burstStillToCome(b.sizes, b.current) : 0;
  const typicalBurst = b ? medianOf(b.sizes) : 0;
  return { need, buffer, recentlyLeft, room, slack, headroom, toCome, typicalBurst };
}

export function planDemand(state: PoolState, usage: PoolUsage, settings: PoolSettings, limits: PoolLimits, now: number, t: DemandTuning = DEMAND_TUNING): Plan {
  // Cooling addresses are never free in this policy; IPv6 needs only the one /80 (as upstream).
  const s: PoolSettings = { ...settings, coolingCountsAsAvailable: false };
  if (s.family === "ipv6") return plan(state, usage, s, limits, now);
  const stats = poolStats(s, state, usage);
  const ctx: PlanContext = { s, state, usage, limits, d: deriveLimits(s, limits), now, stats, target: undefined };
  const z = demandSizing(s, state, usage, stats.assigned, stats.cooling, now, t);
  const maxTotal = limits.maxPods;
  const wantFree = z.need + z.buffer;
  const wantTotal = Math.min(Math.max(stats.assigned + stats.cooling + wantFree, s.minimumIpTarget), maxTotal);
  const sizing = `${z.need} pod(s) pending or waiting, buffer ${z.buffer} (${usage.podsWatched ? "pods watched: floor" : `peak arrivals per ${t.leadMs / 1000} s over ${t.horizonMs / 60_000} min, floor`} ${Math.max(t.floor, s.warmIpTarget)})`;
  // With the pods watched and none pending, the floor alone is no reason for a call: the next
  // pod is seen when it is scheduled, before its ADD, and its grow carries the floor and the
  // headroom too (one call instead of two; at start-up, the pre-scale). WARM_IP_TARGET and
  // MINIMUM_IP_TARGET, when set, are kept as asked.
  const bufferOnly = usage.podsWatched === true && z.need === 0 && !s.warmIpTarget && stats.total >= s.minimumIpTarget;
  if (stats.total < wantTotal && !bufferOnly) {
    const reason = `demand: ${stats.available} free of ${stats.total} (${stats.assigned} assigned, ${stats.cooling} cooling); want ${wantTotal}: ${sizing}`;
    // The pods pending are counted once: against the addresses already free and those being
    // added (ENIs created, not yet in IMDS, are in the pool's total); only the rest is grown,
    // plus the headroom (not the pending count again: that provisioned the same pods twice).
    // A burst still arriving (pods watched): as many more as the bursts seen that got this far
    // brought, in this call, rather than one grow per cycle as its pods show up.
    const grow = Math.min(wantTotal - stats.total + Math.max(z.headroom, z.toCome), Math.max(maxTotal - stats.total, 0));
    // While the account throttles this node, calls are what is scarce, not addresses: each
    // call of the grow carries its ENI's whole room (no top-up calls later; the surplus goes
    // back in one release once the account is calm).
    const grown = planGrowthBatched(ctx, grow, reason + (state.ec2Busy ? " (account throttling: whole ENIs per call)" : ""), state.ec2Busy === true);
    return { actions: grown.actions, stats, low: true, reason, ...(grown.shortage ? { shortage: grown.shortage } : {}) };
  }
  const keepFree = wantFree + z.recentlyLeft;
  const reason = `demand: ${stats.available} free of ${stats.total}; keep ${keepFree} free (${z.recentlyLeft} given back within ${t.releaseDelayMs / 1000} s; release beyond slack ${z.slack}): ${sizing}`;
  return { actions: planQuiet(ctx, z, keepFree, t), stats, low: false, reason };
}

/** Adds `addresses` in one call per ENI: existing ENIs with room first, then new ENIs. */
function planGrowthBatched(ctx: PlanContext, addresses: number, why: string, wholeEnis = false): { actions: PlanAction[]; shortage?: string } {
  const blocked = growthBlocked(ctx);
  if (blocked) return { actions: [], shortage: `pool is low (${why}) but cannot grow: ${blocked}` };
  if (addresses <= 0) return { actions: [] };
  const { kind, fallback } = growthKind(ctx);
  const note = fallback ? " (PD fallback to /32s: no free /28 in the subnet)" : "";
  // Units: /32s, or /28s with PD (a /28 holds 16).
  let remaining = kind === "prefix" ? divCeil(addresses, IPV4_PREFIX_SIZE) : addresses;
  const actions: PlanAction[] = [];
  // One call if one ENI can take it all (the lowest such), else fill ENIs lowest device first.
  const roomOf = (e: PoolEni) => ctx.d.slotsPerEni - e.cidrs.filter((c) => !c.draining).length;
  const open = allocatableEnis(ctx);
  const whole = open.find((e) => roomOf(e) >= remaining);
  for (const eni of whole ? [whole] : open) {
    if (remaining <= 0) break;
    const count = wholeEnis ? roomOf(eni) : Math.min(roomOf(eni), remaining);
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
    const count = wholeEnis ? ctx.d.slotsPerEni : Math.min(remaining, ctx.d.slotsPerEni);
    actions.push({ kind: "createEni", cidrKind: kind, count, reason: why + note });
    remaining -= count;
    enisLeft -= 1;
  }
  return { actions };
}

/** Free slots (in addresses) on the ENIs pods may use. */
function roomOnEnis(ctx: PlanContext, skip?: PoolEni): number {
  const perSlot = ctx.s.prefixDelegation ? IPV4_PREFIX_SIZE : 1;
  let room = 0;
  for (const e of ctx.state.enis) if (e !== skip && eniServesPods(ctx.s, e)) room += Math.max(ctx.d.slotsPerEni - e.cidrs.filter((c) => !c.draining).length, 0) * perSlot;
  return room;
}

/** Not low: release the surplus, else keep ENI room for a burst, else free an ENI not needed for long. */
function planQuiet(ctx: PlanContext, z: DemandSizing, keepFree: number, t: DemandTuning): PlanAction[] {
  const { state, stats, now, usage, s } = ctx;
  if (state.node.terminating || (state.node.unschedulable && !s.manageNonSchedulable)) return [];
  const byDeviceDesc = [...state.enis].sort((a, b) => b.deviceNumber - a.deviceNumber);
  const empty = (e: PoolEni) => e.cidrs.every((c) => cidrIsIdle(usage, c));
  const deletable = (e: PoolEni) => !e.primary && !e.trunk && !e.efa && now - e.createdAtMs >= MIN_ENI_LIFETIME_MS && empty(e);
  const shrinkOk = state.lastShrinkAtMs === undefined || now - state.lastShrinkAtMs > SHRINK_INTERVAL_MS;
  // ENIs in an excluded subnet go as soon as they are empty.
  const excluded = byDeviceDesc.find((e) => e.excluded && deletable(e));
  if (excluded && shrinkOk) return [{ kind: "deleteEni", eniId: excluded.id, reason: `its subnet ${excluded.subnetId} is excluded (kubernetes.io/role/cni=0) and it holds no pod` }];
  // Calls that take the cycle a while (a release, an ENI) wait for a lull: a cycle is serial,
  // and while it runs no pod of a burst still arriving is given an address.
  const lull = usage.pendingPods === 0 && usage.waiting === 0 && arrivalsWithin(state.demand, now, t.leadMs) === 0;
  // The surplus beyond the slack goes at once, in one call per ENI, highest device first.
  let surplus = Math.min(stats.available - keepFree, stats.total - s.minimumIpTarget);
  // Not while the account throttles this node, nor within 10 min of it: a release takes from
  // the same shared budget, and a fleet still scaling flips nodes in and out of "busy".
  // Nor while pods are arriving: the cycle a release takes may be the one a burst needed.
  if (lull && shrinkOk && surplus > z.slack && !state.ec2Busy && !state.ec2BusyLately) {
    // One call: the ENI with the most idle CIDRs (highest device on a tie); the rest, if any, next time.
    const idleOf = (e: PoolEni) => countedCidrs(s, e).filter((c) => cidrIsIdle(usage, c)).sort((a, b) => b.size - a.size);
    const eni = byDeviceDesc.map((e) => ({ e, idle: idleOf(e) })).sort((a, b) => b.idle.length - a.idle.length)[0];
    const take: string[] = [];
    for (const c of eni?.idle ?? []) {
      if (c.size > surplus) continue;
      take.push(c.cidr);
      surplus -= c.size;
    }
    if (eni && take.length > 0) return [{ kind: "release", eniId: eni.e.id, cidrs: take, reason: `${stats.available} free, ${keepFree} kept free: surplus beyond slack ${z.slack}` }];
  }
  // Room for the biggest burst seen: an empty ENI is created ahead, while nothing is urgent.
  // Only when that one ENI completes the room: a repeat burst needing more ENIs than that
  // waits for a create round anyway (a grow creates its ENIs together), so an ENI ahead
  // would save it nothing and cost three calls of the account's shared budget. One at most
  // (never a second empty ENI), and not while the account throttles this node.
  const room = roomOnEnis(ctx);
  const eniRoom = ctx.d.slotsPerEni * (s.prefixDelegation ? IPV4_PREFIX_SIZE : 1);
  const spare = state.enis.some((e) => !e.primary && eniServesPods(s, e) && e.cidrs.every((c) => useOf(usage, c.cidr).assigned === 0));
  // And with free addresses for a typical burst (pods watched): one arriving during the
  // seconds the ENI takes is served from them. Until then a burst's grow comes first.
  if (lull && stats.available >= z.typicalBurst && room < z.room && room + eniRoom >= z.room && !spare && !state.ec2Busy && roomForEnis(ctx) > 0 && !state.newEniBlocked && !growthBlocked(ctx)) {
    return [{ kind: "createEni", cidrKind: growthKind(ctx).kind, count: 0, reason: `ENI room ${room} < ${z.room} (biggest burst in ${t.roomHorizonMs / 60_000} min): an empty ENI ahead of need` }];
  }
  if (!shrinkOk) return [];
  // An empty secondary ENI goes when the others held the peak of the ENI delay with the burst room to spare.
  const heldLong = peakAssigned(state.demand, now, t.eniReleaseDelayMs, stats.assigned);
  const perSlot = s.prefixDelegation ? IPV4_PREFIX_SIZE : 1;
  for (const eni of byDeviceDesc) {
    if (!deletable(eni)) continue;
    const others = state.enis.filter((e) => e !== eni && eniServesPods(s, e)).length * ctx.d.slotsPerEni * perSlot;
    // Hysteresis against the room rule above: without it, the others keep a whole ENI beyond the burst room.
    if (others < heldLong + stats.cooling + z.room + z.slack || roomOnEnis(ctx, eni) < z.room + ctx.d.maxIpsPerEni) continue;
    return [{ kind: "deleteEni", eniId: eni.id, reason: `empty, and the other ENIs hold the peak of ${heldLong} pods of the last ${t.eniReleaseDelayMs / 60_000} min with room ${z.room} to spare` }];
  }
  return [];
}
