/**
 * Runs `fire` once changes stop coming: `quietMs` after the last one, and at most `maxMs` after
 * the first one still pending (a stream that never pauses is still served). With `quietMs` 0
 * it fires at once. The agent lets PolicyEndpoint changes settle this way (agent.ts).
 */
export class Settler {
  private pending: { timer: ReturnType<typeof setTimeout>; since: number } | undefined;

  constructor(
    private readonly quietMs: number,
    private readonly maxMs: number,
    private readonly fire: () => void,
  ) {}

  /** A change: fire once they settle. */
  touch(): void {
    if (this.quietMs <= 0) {
      this.fire();
      return;
    }
    const now = performance.now();
    const since = this.pending?.since ?? now;
    this.cancel();
    const wait = Math.max(0, Math.min(this.quietMs, since + this.maxMs - now));
    const timer = setTimeout(() => {
      this.pending = undefined;
      this.fire();
    }, wait);
    this.pending = { timer, since };
  }

  /** What is pending was taken care of another way: no fire for it. */
  cancel(): void {
    if (this.pending) clearTimeout(this.pending.timer);
    this.pending = undefined;
  }
}
