/**
 * Pushing addr-broker's usage to pool-manager: at once after a miss (so it grows the pool
 * without waiting for its cycle), else coalesced over 100 ms; again when the earliest
 * reported cooldown runs out. pool-manager being down is tolerated: the next push carries
 * the then current usage.
 */
import type { UsageReport } from "../../../../shared/contracts/usage.ts";
import type { Log, PoolManagerPort } from "../core/ports.ts";

export class UsagePush {
  private usageTimer: ReturnType<typeof setTimeout> | undefined;
  private coolingTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly pool: PoolManagerPort | undefined,
    private readonly report: () => UsageReport,
    private readonly log: Log,
    private readonly now: () => number,
  ) {}

  /** Usage changed: push at once when `immediate`, else within 100 ms together with other changes. */
  changed(immediate = false): void {
    if (!this.pool) return;
    if (immediate) {
      if (this.usageTimer) clearTimeout(this.usageTimer);
      this.usageTimer = undefined;
      this.push();
      return;
    }
    this.usageTimer ??= setTimeout(() => {
      this.usageTimer = undefined;
      this.push();
    }, 100);
  }

  stop(): void {
    if (this.usageTimer) clearTimeout(this.usageTimer);
    if (this.coolingTimer) clearTimeout(this.coolingTimer);
  }

  private push(): void {
    const report = this.report();
    this.pool?.postUsage(report).catch((err) => this.log.debug({ err: String(err) }, "usage not delivered to pool-manager"));
    this.pushWhenCoolingEnds(report);
  }

  /**
   * A cooldown running out changes usage without any event: push again once the earliest
   * reported cooling end has passed, or pool-manager keeps counting those addresses as
   * cooling and never shrinks the pool after the pods are gone.
   */
  private pushWhenCoolingEnds(report: UsageReport): void {
    const ends = report.cidrs.flatMap((c) => (c.coolingUntil !== undefined ? [c.coolingUntil] : []));
    if (this.coolingTimer) clearTimeout(this.coolingTimer);
    this.coolingTimer = undefined;
    if (ends.length === 0) return;
    const inMs = Math.max(0, Math.min(...ends) - this.now()) + 50;
    this.coolingTimer = setTimeout(() => {
      this.coolingTimer = undefined;
      this.changed();
    }, inMs);
    this.coolingTimer.unref?.();
  }
}
