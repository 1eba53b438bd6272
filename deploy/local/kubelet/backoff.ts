// The kubelet's restart back-off (its flowcontrol.Backoff, as used for crashing containers and
// failing sandboxes). Pure: every call takes the time.
//
// A container that exits at `finishedAt` is restarted at once the first time; after that it
// waits `delay` since it exited, the delay doubling from `baseMs` to `maxMs` with each
// restart; an entry untouched for 2 × maxMs starts over from baseMs.

export interface BackoffEntry {
  delayMs: number;
  lastUpdateMs: number;
}

export class Backoff {
  private readonly entries = new Map<string, BackoffEntry>();

  constructor(
    readonly baseMs: number,
    readonly maxMs: number,
  ) {
    if (!(baseMs > 0) || !(maxMs >= baseMs)) throw new RangeError(`back-off: need 0 < base (${baseMs}) <= max (${maxMs})`);
  }

  private expired(entry: BackoffEntry, eventMs: number): boolean {
    return eventMs - entry.lastUpdateMs > 2 * this.maxMs;
  }

  /** When `key`, which failed at eventMs, may be retried (≤ nowMs: now). */
  retryAt(key: string, eventMs: number): number {
    const e = this.entries.get(key);
    if (!e || this.expired(e, eventMs)) return eventMs;
    return eventMs + e.delayMs;
  }

  /** Records a retry of `key` at nowMs: the next failure waits longer. */
  next(key: string, nowMs: number): number {
    const e = this.entries.get(key);
    const delayMs = !e || this.expired(e, nowMs) ? this.baseMs : Math.min(e.delayMs * 2, this.maxMs);
    this.entries.set(key, { delayMs, lastUpdateMs: nowMs });
    return delayMs;
  }

  reset(key: string): void {
    this.entries.delete(key);
  }

  /** Forgets every key that starts with `prefix` (a deleted pod's). */
  resetPrefix(prefix: string): void {
    for (const k of [...this.entries.keys()]) if (k.startsWith(prefix)) this.entries.delete(k);
  }

  get(key: string): BackoffEntry | undefined {
    const e = this.entries.get(key);
    return e && { ...e };
  }
}
