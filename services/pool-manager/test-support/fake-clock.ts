/**
 * A fake clock for in-process tests: `now` reads it, `sleep` sets a timer on it, and time
 * moves only when the test says so: `advance(ms)`, or `run(promise)`, which jumps from timer to
 * timer until the promise settles. Between two timers every promise chain runs to its next
 * wait (a macrotask comes after all microtasks), so a pool-manager, its fakes and the test
 * share one timeline and nothing sleeps for real.
 */

interface Timer {
  at: number;
  seq: number;
  fire: () => void;
}

/** Lets every pending promise reaction run. */
const drain = () => new Promise<void>((r) => setImmediate(r));

/** A fixed start (2030-01-01T00:00:00Z): timestamps in tags and logs read as dates. */
export const FAKE_EPOCH_MS = Date.UTC(2030, 0, 1);

export class FakeClock {
  private t: number;
  private seq = 0;
  private timers: Timer[] = [];

  constructor(startMs = FAKE_EPOCH_MS) {
    this.t = startMs;
  }

  now = (): number => this.t;

  sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      this.timers.push({ at: this.t + Math.max(0, ms), seq: this.seq++, fire: resolve });
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    });

  /** Timers not fired yet. */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing the timers due on the way in time order. */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new Error(`advance: ms must be a number ≥ 0 (got ${ms})`);
    const until = this.t + ms;
    for (;;) {
      await drain();
      const next = this.timers[0];
      if (!next || next.at > until) break;
      this.fireNext();
    }
    this.t = until;
    await drain();
  }

  /**
   * Drives time from timer to timer until `p` settles, and answers it. Throws when nothing is
   * left to wait for (the promise can never settle) or when `limitMs` of fake time has passed.
   */
  async run<T>(p: Promise<T>, limitMs = 3_600_000): Promise<T> {
    let settled = false;
    const watched = p.finally(() => {
      settled = true;
    });
    watched.catch(() => undefined);
    const until = this.t + limitMs;
    for (;;) {
      await drain();
      if (settled) return watched;
      const next = this.timers[0];
      if (!next) throw new Error("fake clock: the awaited work is stuck (no timer left to fire)");
      if (next.at > until) throw new Error(`fake clock: the awaited work did not finish within ${limitMs} ms of fake time`);
      this.fireNext();
    }
  }

  /** Drives time from timer to timer until `done()` holds; throws when it cannot come true. */
  async runUntil(done: () => boolean | Promise<boolean>, what: string, limitMs = 3_600_000): Promise<void> {
    const until = this.t + limitMs;
    for (;;) {
      await drain();
      if (await done()) return;
      const next = this.timers[0];
      if (!next || next.at > until) throw new Error(`fake clock: gave up waiting for ${what} (${next ? `nothing due within ${limitMs} ms` : "no timer left"})`);
      this.fireNext();
    }
  }

  private fireNext(): void {
    const next = this.timers.shift()!;
    this.t = Math.max(this.t, next.at);
    next.fire();
  }
}
