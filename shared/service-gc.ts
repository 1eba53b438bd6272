/**
 * Gives memory back once a service goes quiet. JavaScriptCore collects when its heap grows,
 * not when the process falls idle: the garbage of start-up (module loading, the initial
 * sync) and of a burst of requests stays resident until the next allocation pressure, which
 * on an idle node may never come. After a request-free `quietMs`, when the resident size
 * grew by at least `growthBytes` over the lowest it was since the last collection (freed
 * pages go back to the OS a little after a collection, so the low point follows them), or
 * when `requests` requests were served since, this runs one full, synchronous collection
 * (`Bun.gc(true)`, which also returns freed allocator pages; 3–20 ms on these heaps). It
 * never runs in the middle of a burst (requests keep the service from being quiet), and an
 * occasional scrape does not trigger it. Measured with bench/memory.ts (see bench/README.md).
 */

export interface IdleGcOptions {
  /** How often to look (default 2 s). */
  checkMs?: number;
  /** No request for this long before collecting (default 1 s). */
  quietMs?: number;
  /** Collect when RSS grew by this much over its low point since the last collection (default 512 KiB)... */
  growthBytes?: number;
  /** ...or when this many requests were served since it (default 32). */
  requests?: number;
  /** Injected for tests: the collector, the resident size and the clock. */
  gc?: () => void;
  rss?: () => number;
  now?: () => number;
}

export class IdleGc {
  /** When the last request started or ended (ms on the `now` clock). */
  private lastActivity = -Infinity;
  /** Lowest RSS seen since the last collection; 0 before the first, so start-up garbage is collected once the service is quiet. */
  private rssLow = 0;
  private requestsSinceGc = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** Collections run so far. */
  runs = 0;
  private readonly checkMs: number;
  private readonly quietMs: number;
  private readonly growthBytes: number;
  private readonly requests: number;
  private readonly gc: () => void;
  private readonly rss: () => number;
  private readonly now: () => number;

  constructor(opts: IdleGcOptions = {}) {
    this.checkMs = opts.checkMs ?? 2000;
    this.quietMs = opts.quietMs ?? 1000;
    this.growthBytes = opts.growthBytes ?? 512 << 10;
    this.requests = opts.requests ?? 32;
    this.gc = opts.gc ?? (() => Bun.gc(true));
    this.rss = opts.rss ?? (() => process.memoryUsage.rss());
    this.now = opts.now ?? (() => performance.now());
  }

  /** A request started (`started`) or ended. */
  touch(started = false): void {
    this.lastActivity = this.now();
    if (started) this.requestsSinceGc++;
  }

  /** Collects when quiet and grown (or after enough requests); returns whether it collected. */
  check(): boolean {
    const rss = this.rss();
    const grown = rss >= this.rssLow + this.growthBytes;
    this.rssLow = Math.min(this.rssLow, rss);
    if (this.now() - this.lastActivity < this.quietMs) return false;
    if (!grown && this.requestsSinceGc < this.requests) return false;
    this.gc();
    this.runs++;
    this.requestsSinceGc = 0;
    this.rssLow = this.rss();
    return true;
  }

  /** Checks every `checkMs` without keeping the process alive. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.check(), this.checkMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
