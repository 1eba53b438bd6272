/**
 * addr-broker's usage reports, pulled or pushed, taken into the model: the miss baseline of
 * this process, whether a report brings a new miss, and the demand history they feed.
 */
import type { PoolModel } from "./pool-model.ts";

export class UsageIntake {
  /** Whether a usage report reached this process yet (the first one sets the miss baseline). */
  private usageSeen = false;

  constructor(
    private readonly model: PoolModel,
    private readonly opts: { now: () => number },
  ) {}

  /**
   * A usage report, pulled or pushed. addr-broker's miss counter is cumulative over its own
   * life, not this process's: the first report this process sees is its baseline, so the
   * misses counted before it started (acted upon by the process before it, or long served)
   * are neither grown for again nor recorded as a burst. Without that, every pool-manager
   * restart on a node that ever had a miss assigned that many addresses again. Pods still
   * short show up as ADDs waiting now, or miss again when retried.
   */
  takeUsage(u: NonNullable<PoolModel["usage"]>): { newMiss: boolean } {
    if (!this.usageSeen) {
      this.usageSeen = true;
      this.model.missesSeen = u.misses;
      this.model.conditions.missBaseline(u.misses);
    }
    // A restarted addr-broker counts from 0 again: any miss of the new count is new.
    const newMiss = u.misses < this.model.missesSeen ? u.misses > 0 : u.misses > this.model.missesSeen;
    this.model.usage = u;
    this.recordDemand();
    return { newMiss };
  }

  /** The demand policy's input: the assigned count and misses over time (the planner reads no clock). */
  private recordDemand(): void {
    const u = this.model.usage;
    if (u) this.model.conditions.usageReported(this.opts.now(), u.assigned, u.misses, !this.model.podsWatched);
  }
}
