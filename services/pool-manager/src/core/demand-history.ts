/**
 * Observed demand, as plain data the demand policy reads: timestamped samples of how many
 * addresses pods held, and how many new pods arrived since the previous sample. The app
 * records a sample whenever addr-broker reports usage (`recordDemand`, `now` passed in);
 * the planner never reads a clock. Samples older than the longest window are dropped.
 */

export interface DemandSample {
  atMs: number;
  /** Addresses assigned to pods at that moment. */
  assigned: number;
  /** Pods that arrived since the previous sample: assigned count rising, plus ADDs that found no address. */
  arrivals: number;
}

export interface DemandHistory {
  /** Oldest first. */
  samples: DemandSample[];
  /** Cumulative misses at the last sample (addr-broker's counter), to count only new ones. */
  missesSeen: number;
}

export const EMPTY_HISTORY: DemandHistory = { samples: [], missesSeen: 0 };

/**
 * Adds a sample: `assigned` now, `missesTotal` = addr-broker's cumulative miss counter.
 * A pod that missed and later got its address is counted once (as a miss), since its
 * later assignment only brings `assigned` back to where the miss left it short.
 */
export function recordDemand(h: DemandHistory | undefined, atMs: number, assigned: number, missesTotal: number, keepMs: number, arrivalsFromUsage = true): DemandHistory {
  const prev = h ?? EMPTY_HISTORY;
  const last = prev.samples[prev.samples.length - 1];
  // A restarted addr-broker resets its counter: count from the new value. With the pod watch
  // live (`arrivalsFromUsage` false) arrivals are the pods seen scheduled (recordScheduled):
  // a miss is an ADD attempt (kubelet retries the same pod many times), and the pace at which
  // addresses reach pods is the pool's, not the burst's.
  const newMisses = missesTotal >= prev.missesSeen ? missesTotal - prev.missesSeen : missesTotal;
  const rise = last ? Math.max(assigned - last.assigned, 0) : 0;
  const arrivals = arrivalsFromUsage ? Math.max(rise, newMisses) : 0;
  const samples = prev.samples.filter((s) => atMs - s.atMs <= keepMs);
  if (last && last.atMs === atMs && samples.length > 0) {
    const merged = samples[samples.length - 1]!;
    samples[samples.length - 1] = { atMs, assigned, arrivals: merged.arrivals + arrivals };
  } else {
    samples.push({ atMs, assigned, arrivals });
  }
  return { samples, missesSeen: missesTotal };
}

/** Pods newly scheduled to the node (the pod watch's pending count rose by `count`): arrivals at `atMs`. */
export function recordScheduled(h: DemandHistory | undefined, atMs: number, count: number, keepMs: number): DemandHistory {
  const prev = h ?? EMPTY_HISTORY;
  if (count <= 0) return prev;
  const last = prev.samples[prev.samples.length - 1];
  const samples = prev.samples.filter((s) => atMs - s.atMs <= keepMs);
  if (last && last.atMs === atMs && samples.length > 0) samples[samples.length - 1] = { ...last, arrivals: last.arrivals + count };
  else samples.push({ atMs, assigned: last?.assigned ?? 0, arrivals: count });
  return { samples, missesSeen: prev.missesSeen };
}

/** The most pods that arrived within any `windowMs` span of the last `horizonMs`. */
export function peakArrivals(h: DemandHistory | undefined, now: number, windowMs: number, horizonMs: number): number {
  const s = (h?.samples ?? []).filter((x) => now - x.atMs <= horizonMs && x.atMs <= now);
  let best = 0;
  let sum = 0;
  let lo = 0;
  for (let hi = 0; hi < s.length; hi++) {
    sum += s[hi]!.arrivals;
    while (s[hi]!.atMs - s[lo]!.atMs > windowMs) sum -= s[lo++]!.arrivals;
    if (sum > best) best = sum;
  }
  return best;
}

/** The most addresses pods held at any sample of the last `windowMs` (at least `current`). */
export function peakAssigned(h: DemandHistory | undefined, now: number, windowMs: number, current: number): number {
  let best = current;
  for (const x of h?.samples ?? []) if (now - x.atMs <= windowMs && x.assigned > best) best = x.assigned;
  return best;
}

/** Pods that arrived within the last `windowMs`. */
export function arrivalsWithin(h: DemandHistory | undefined, now: number, windowMs: number): number {
  let n = 0;
  for (const x of h?.samples ?? []) if (now - x.atMs < windowMs && x.atMs <= now) n += x.arrivals;
  return n;
}

/**
 * Bursts of arrivals: runs of samples each within `gapMs` of the previous one. `current` is
 * the size of the run still going at `now` (its last arrival within `gapMs`), 0 if none;
 * `sizes` those of the bursts (2 pods or more: a lone pod is none) that ended within the
 * last `horizonMs`, oldest first.
 */
export function bursts(h: DemandHistory | undefined, now: number, gapMs: number, horizonMs: number): { sizes: number[]; current: number } {
  const sizes: number[] = [];
  let size = 0;
  let lastAt = -Infinity;
  for (const x of h?.samples ?? []) {
    if (x.arrivals <= 0 || x.atMs > now || now - x.atMs > horizonMs) continue;
    if (x.atMs - lastAt > gapMs && size > 0) {
      if (size >= 2) sizes.push(size);
      size = 0;
    }
    size += x.arrivals;
    lastAt = x.atMs;
  }
  if (size > 0 && now - lastAt > gapMs) return { sizes: size >= 2 ? [...sizes, size] : sizes, current: 0 };
  return { sizes, current: size };
}

/**
 * How many more pods a burst of `current` so far is likely to bring: the median of the
 * bursts seen that reached at least that size, less `current` (0 when none did, or for a
 * lone pod: a burst is 2 pods or more).
 */
export function burstStillToCome(sizes: number[], current: number): number {
  if (current < 2) return 0;
  return Math.max(medianOf(sizes.filter((n) => n >= current)) - current, 0);
}

/** The median burst (the lower middle), 0 if none. */
export function medianOf(sizes: number[]): number {
  const sorted = [...sizes].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/**
 * Pods given an address within the last `windowMs`, at least: the assigned count's rise over
 * its lowest point since then, the count at the window's start included (a pod leaving
 * meanwhile makes it smaller, never larger).
 */
export function addressedWithin(h: DemandHistory | undefined, now: number, windowMs: number, current: number): number {
  let low = current;
  let atStart: number | undefined;
  for (const x of h?.samples ?? []) {
    if (x.atMs > now) break;
    if (now - x.atMs > windowMs) atStart = x.assigned;
    else if (x.assigned < low) low = x.assigned;
  }
  return current - Math.min(low, atStart ?? low);
}
