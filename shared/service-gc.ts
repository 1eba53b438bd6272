/**
 * Gives memory back once a service goes quiet. JavaScriptCore collects when its heap grows,
 * not when the process falls idle: the garbage of start-up (module loading, the initial
 * sync) and of a burst of requests stays resident until the next allocation pressure, which
 * on an idle node may never come. After a request-free `quietMs`, this runs one full,
 * synchronous collection (`Bun.gc(true)`, which also returns freed allocator pages; 3–20 ms on
 * these heaps) when any of these says there is garbage:
 * - the resident size grew by at least `growthBytes` over the lowest it was since the last
 *   collection (freed pages go back to the OS a little after a collection, so the low point
 *   follows them);
 * - the JS heap grew by at least `heapGrowthBytes` over its size right after the last
 *   collection. Work that is not a request (pool-manager's pool loop, EC2 and IMDS replies,
 *   the policy agent's watch) makes garbage that lands in pages freed before, so the resident
 *   size stays flat while the heap fills: pool-manager held 1.6 MiB of it, 2 MiB of its
 *   pages, that this signal collects;
 * - `requests` requests were served since.
 * The first collection is `Bun.shrink()`: besides the collection it drops every function's
 * compiled code, so the code that ran only at start-up (module bodies, configuration,
 * restoring state) goes; what runs again is compiled again on its next call. About 0.5–1.4 MiB
 * per service; later collections keep the code (dropping it after every burst would make the
 * next request compile its whole path again).
 * It never runs in the middle of a burst (requests keep the service from being quiet), and an
 * occasional scrape does not trigger it. Measured with bench/memory.ts (see bench/README.md).
 */
import { readFileSync } from "node:fs";
import { heapSize, heapStats } from "bun:jsc";

export interface IdleGcOptions {
  /** How often to look (default 2 s). */
  checkMs?: number;
  /** No request for this long before collecting (default 1 s). */
  quietMs?: number;
  /** Collect when RSS grew by this much over its low point since the last collection (default 512 KiB)... */
  growthBytes?: number;
  /** ...or when the JS heap grew by this much over its size right after it (default 1 MiB)... */
  heapGrowthBytes?: number;
  /** ...or when this many requests were served since it (default 32). */
  requests?: number;
  /** Injected for tests: the collector, the first collection, the resident size, the JS heap's size and the clock. */
  gc?: () => void;
  shrink?: () => void;
  rss?: () => number;
  heap?: () => number;
  now?: () => number;
}

export class IdleGc {
  /** When the last request started or ended (ms on the `now` clock). */
  private lastActivity = -Infinity;
  /** Lowest RSS seen since the last collection; 0 before the first, so start-up garbage is collected once the service is quiet. */
  private rssLow = 0;
  private requestsSinceGc = 0;
  /** The JS heap's size right after the last collection; 0 before the first. */
  private heapLow = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** Collections run so far. */
  runs = 0;
  private readonly checkMs: number;
  private readonly quietMs: number;
  private readonly growthBytes: number;
  private readonly heapGrowthBytes: number;
  private readonly requests: number;
  private readonly gc: () => void;
  private readonly shrink: () => void;
  private readonly rss: () => number;
  private readonly heap: () => number;
  private readonly now: () => number;

  constructor(opts: IdleGcOptions = {}) {
    this.checkMs = opts.checkMs ?? 2000;
    this.quietMs = opts.quietMs ?? 1000;
    this.growthBytes = opts.growthBytes ?? 512 << 10;
    this.heapGrowthBytes = opts.heapGrowthBytes ?? 1 << 20;
    this.requests = opts.requests ?? 32;
    this.gc = opts.gc ?? (() => Bun.gc(true));
    this.shrink = opts.shrink ?? (() => Bun.shrink());
    this.rss = opts.rss ?? (() => process.memoryUsage.rss());
    this.heap = opts.heap ?? heapSize;
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
    const grown = rss >= this.rssLow + this.growthBytes || this.heap() >= this.heapLow + this.heapGrowthBytes;
    this.rssLow = Math.min(this.rssLow, rss);
    if (this.now() - this.lastActivity < this.quietMs) return false;
    if (!grown && this.requestsSinceGc < this.requests) return false;
    if (this.runs === 0) this.shrink();
    else this.gc();
    this.runs++;
    this.requestsSinceGc = 0;
    this.rssLow = this.rss();
    this.heapLow = this.heap();
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

/** What /debug/memory answers: where a service's memory is, from the kernel's view and the JS heap's. */
export interface MemoryReport {
  /** From /proc/self/smaps_rollup (null where unreadable): resident, anonymous (heap, allocator and JIT pages), and private (USS) bytes. */
  residentBytes: number | null;
  anonymousBytes: number | null;
  privateBytes: number | null;
  /** JavaScriptCore's heap: bytes in live and not yet collected cells, bytes of blocks it holds, bytes held outside it for its cells (string and buffer contents). */
  jsHeap: { sizeBytes: number; capacityBytes: number; extraBytes: number; objects: number };
  /** The most numerous cell types, most first. */
  objectTypes: Array<[string, number]>;
  /** Idle collections run since start (shared/service-gc.ts). */
  idleCollections: number;
}

export function memoryReport(idleGc: Pick<IdleGc, "runs">): MemoryReport {
  let rollup = "";
  try {
    rollup = readFileSync("/proc/self/smaps_rollup", "utf8");
  } catch {
    // not Linux, or /proc not mounted: the kernel's figures are null
  }
  const kb = (...keys: string[]): number | null => {
    let total: number | null = null;
    for (const k of keys) {
      const m = new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(rollup);
      if (m) total = (total ?? 0) + Number(m[1]) * 1024;
    }
    return total;
  };
  const h = heapStats();
  return {
    residentBytes: kb("Rss"),
    anonymousBytes: kb("Anonymous"),
    privateBytes: kb("Private_Clean", "Private_Dirty"),
    jsHeap: { sizeBytes: h.heapSize, capacityBytes: h.heapCapacity, extraBytes: h.extraMemorySize, objects: h.objectCount },
    objectTypes: Object.entries(h.objectTypeCounts)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12),
    idleCollections: idleGc.runs,
  };
}
