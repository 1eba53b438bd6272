/**
 * Client-side token buckets mirroring EC2's per-API buckets (aws-ec2-buckets.ts). The
 * account's buckets are shared by every node, so a node's bucket of the account's size alone
 * never waits when a fleet scales up together; each bucket therefore adapts (AIMD): a
 * throttled answer halves its refill rate (down to a floor) and drops its tokens, each
 * success adds a small step back toward the configured rate, and so does each second the
 * bucket sits full with nothing to send. Many nodes thus converge on
 * the account's budget without knowing the cluster size. The burst size follows the rate
 * (a throttled node does not burst again at full size). The clock is injected; `take`
 * answers how long the caller must wait (0 when a token is there) and books the token.
 */
import { AWS_EC2_BUCKETS, awsBucketOf, type AwsBucketName, type BucketSpec } from "../../../../shared/aws-ec2-buckets.ts";

/** The client's buckets: AWS's, but for unfiltered Describe* (every Describe this client sends names ids or filters). */
export type BucketName = Exclude<AwsBucketName, "describeUnfiltered">;

export type { BucketSpec };

export function bucketOf(api: string): BucketName {
  return awsBucketOf(api, true) as BucketName;
}

/** How a bucket adapts to the account's throttling (AIMD). */
export interface AdaptSpec {
  /** A throttled answer multiplies the refill rate by this. */
  decrease: number;
  /** The rate never drops below this (calls/s). */
  floorPerSec: number;
  /** Each success adds this fraction of the configured rate back (never above it). */
  increaseFraction: number;
  /**
   * Each second the bucket sits full (no calls waiting on it) adds this fraction of the
   * configured rate back (default 0): a node that throttled and then had little to do is not
   * left slow (and counted as "busy") until it has made enough calls to recover. Time with
   * calls waiting does not count: under steady demand only successes recover the rate.
   */
  recoverPerSec?: number;
}

/**
 * Floor 0.1/s: a node cut down by a crowded account still makes a call every 10 s (at 0.02/s
 * a node with three calls to make waited 2.5 min). Idle recovery 1%/s: a node left with
 * nothing to do is back at the configured rate (no longer "busy") within ~100 s of calm.
 */
export const AIMD: AdaptSpec = { decrease: 0.5, floorPerSec: 0.1, increaseFraction: 0.02, recoverPerSec: 0.01 };

export class TokenBucket {
  private tokens: number;
  private last: number;
  /** The current (adapted) refill rate; `spec.refillPerSec` is the configured one. */
  private rate: number;
  /** When the account last answered this bucket's calls with throttling (undefined: never). */
  lastThrottledAt: number | undefined;
  constructor(
    readonly spec: BucketSpec,
    now: number,
    private readonly adapt: AdaptSpec = AIMD,
  ) {
    this.tokens = spec.capacity;
    this.last = now;
    this.rate = spec.refillPerSec;
  }

  /** The burst size follows the adapted rate (at least 1 token). */
  private capacity(): number {
    if (this.spec.refillPerSec <= 0) return this.spec.capacity;
    return Math.max(1, this.spec.capacity * (this.rate / this.spec.refillPerSec));
  }

  private refill(now: number): void {
    if (now > this.last) {
      const dt = (now - this.last) / 1000;
      const cap = this.capacity();
      // Time the bucket sat full (no calls waiting on it): the rate recovers over that time.
      const idle = this.rate > 0 ? Math.max(0, dt - Math.max(0, cap - this.tokens) / this.rate) : 0;
      this.tokens = Math.min(cap, this.tokens + dt * this.rate);
      this.last = now;
      const cfg = this.spec.refillPerSec;
      if (this.rate < cfg && this.adapt.recoverPerSec && idle > 0) this.rate = Math.min(cfg, this.rate + cfg * this.adapt.recoverPerSec * idle);
    }
  }

  /** Books `n` tokens (default one); answers the ms to wait before using them. */
  take(now: number, n = 1): number {
    this.refill(now);
    this.tokens -= n;
    if (this.tokens >= 0) return 0;
    if (this.rate <= 0) return Number.POSITIVE_INFINITY;
    return Math.ceil((-this.tokens / this.rate) * 1000);
  }

  /** The account answered RequestLimitExceeded: cut the rate, drop the tokens left. */
  throttled(now: number): void {
    this.refill(now);
    this.lastThrottledAt = now;
    const floor = Math.min(this.adapt.floorPerSec, this.spec.refillPerSec);
    this.rate = Math.max(floor, this.rate * this.adapt.decrease);
    this.tokens = Math.min(this.tokens, 0);
  }

  /** A call went through: recover additively toward the configured rate. */
  succeeded(now: number): void {
    if (this.rate >= this.spec.refillPerSec) return;
    this.refill(now);
    this.rate = Math.min(this.spec.refillPerSec, this.rate + this.spec.refillPerSec * this.adapt.increaseFraction);
  }

  /** The current refill rate (calls/s). */
  ratePerSec(): number {
    return this.rate;
  }

  level(now: number): number {
    this.refill(now);
    return this.tokens;
  }
}

export interface BucketState {
  capacity: number;
  /** Configured refill rate. */
  refillPerSec: number;
  /** Adapted refill rate now (below the configured one after throttling). */
  ratePerSec: number;
  tokens: number;
}

export class BucketSet {
  private readonly buckets = new Map<BucketName, TokenBucket>();
  constructor(specs: Record<BucketName, BucketSpec>, now: number, adapt: AdaptSpec = AIMD) {
    for (const [name, spec] of Object.entries(specs) as [BucketName, BucketSpec][]) this.buckets.set(name, new TokenBucket(spec, now, adapt));
  }
  private of(api: string): TokenBucket {
    return this.buckets.get(bucketOf(api))!;
  }
  take(api: string, now: number, n = 1): number {
    return this.of(api).take(now, n);
  }
  throttled(api: string, now: number): void {
    this.of(api).throttled(now);
  }
  succeeded(api: string, now: number): void {
    this.of(api).succeeded(now);
  }
  /** The account throttled calls of this bucket within the last `withinMs`, or its rate has not recovered since. */
  throttledWithin(bucket: BucketName, now: number, withinMs: number): boolean {
    const b = this.buckets.get(bucket);
    const at = b?.lastThrottledAt;
    if (!b || at === undefined) return false;
    b.level(now); // brings the rate's recovery up to now
    return now - at < withinMs || b.ratePerSec() < b.spec.refillPerSec;
  }
  rates(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, b] of this.buckets) out[name] = b.ratePerSec();
    return out;
  }
  state(now: number): Record<string, BucketState> {
    const out: Record<string, BucketState> = {};
    for (const [name, b] of this.buckets) out[name] = { ...b.spec, ratePerSec: Math.round(b.ratePerSec() * 1000) / 1000, tokens: Math.round(b.level(now) * 100) / 100 };
    return out;
  }
}

/** Scales every bucket (e.g. 0.1 for a shared account, or tests). */
export function scaledBuckets(scale: { capacity?: number; refill?: number } = {}): Record<BucketName, BucketSpec> {
  const scaled = (name: BucketName): BucketSpec => {
    const v = AWS_EC2_BUCKETS[name];
    return { capacity: Math.max(1, v.capacity * (scale.capacity ?? 1)), refillPerSec: v.refillPerSec * (scale.refill ?? 1) };
  };
  return { describe: scaled("describe"), mutating: scaled("mutating"), addressing: scaled("addressing"), tags: scaled("tags") };
}
