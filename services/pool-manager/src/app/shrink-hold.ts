/**
 * What a pool-manager restart must not give back: a plan's releases and ENI deletes are held
 * while addr-broker's usage does not place every assigned address, and (demand policy) while
 * the demand history, which died with the process before this one, is rebuilt.
 */
import { describeAction, type PlanAction } from "../core/actions.ts";
import { DEMAND_TUNING } from "../core/demand-policy.ts";
import type { Plan } from "../core/planner.ts";
import type { PoolSettings } from "../core/settings.ts";
import type { PoolModel } from "./pool-model.ts";

export class ShrinkHold {
  /** When start() found a pool kept by an earlier process (this process's demand history begins then). */
  inheritedPoolAtMs: number | undefined;
  private shrinkHoldNoted = false;

  constructor(
    private readonly model: PoolModel,
    private readonly settings: PoolSettings,
    private readonly log: (msg: string, fields?: Record<string, unknown>) => void,
  ) {}

  /**
   * Demand policy, after a restart (start-up found addresses on the ENIs): what the process
   * before this one kept free on purpose (room for the
   * pods' recent burst, the addresses of pods that just left) was in its demand history, and
   * that died with it; this process rebuilds the history from addr-broker's reports. Until the
   * history covers the span a release looks back over (the release delay with the pod watch,
   * the arrival horizon without) no release, and until it covers the ENI delay no ENI delete
   * (but an empty ENI of an excluded subnet, which needs no history): else every restart would
   * give back what the pool was keeping, and grow it again at the next burst. Compat plans
   * from the warm targets alone and is never held.
   */
  holdShrinkAfterStart(p: Plan, now: number): Plan {
    const shrinking = (a: PlanAction) => a.kind === "release" || (a.kind === "deleteEni" && !this.model.enis.get(a.eniId)?.pool.excluded);
    // Any policy: a usage report that counts pods' addresses under no CIDR of it (addr-broker
    // without the pool's capacity yet: it restarted, or holds a not-ready snapshot) shows their
    // addresses free. Nothing is given back on that view; the next report is complete.
    const u = this.model.usage;
    if (u && u.assigned > u.cidrs.reduce((n, c) => n + c.assigned, 0) && p.actions.some(shrinking)) {
      this.log("pool shrink held: addr-broker's usage does not place every assigned address yet", { assigned: u.assigned, held: p.actions.filter(shrinking).map(describeAction) });
      return { ...p, actions: p.actions.filter((a) => !shrinking(a)) };
    }
    if (this.settings.policy !== "demand" || this.inheritedPoolAtMs === undefined) return p;
    const age = now - this.inheritedPoolAtMs;
    const releaseSpan = this.model.podsWatched ? DEMAND_TUNING.releaseDelayMs : DEMAND_TUNING.horizonMs;
    // CIDRs of the kind no longer used (ENABLE_PREFIX_DELEGATION switched) are no surplus the demand history could want back.
    const held = p.actions.filter((a) => shrinking(a) && !(a.kind === "release" && a.leftover) && age < (a.kind === "release" ? releaseSpan : DEMAND_TUNING.eniReleaseDelayMs));
    if (held.length === 0) return p;
    if (!this.shrinkHoldNoted) {
      this.shrinkHoldNoted = true;
      this.log("pool shrink held: the demand history restarts with this process", { held: held.map(describeAction), startedSecondsAgo: Math.round(age / 1000) });
    }
    return { ...p, actions: p.actions.filter((a) => !held.includes(a)) };
  }
}
