/**
 * Client-side token buckets mirroring EC2's per-API buckets (peers-and-limits.md), so one
 * node never burns the account's budget. The clock is injected; `take` answers how long
 * the caller must wait (0 when a token is there) and books the token.
 */

export type BucketName = "describe" | "mutating" | "addressing" | "tags";

export interface BucketSpec {
  capacity: number;
  refillPerSec: number;
}

/** AWS's published sizes: Describe* 100/20; default mutating (attach/detach) 50/5; addressing & ENI create/delete 100/5; tags 100/10. */
export const AWS_BUCKETS: Record<BucketName, BucketSpec> = {
  describe: { capacity: 100, refillPerSec: 20 },
  mutating: { capacity: 50, refillPerSec: 5 },
  addressing: { capacity: 100, refillPerSec: 5 },
  tags: { capacity: 100, refillPerSec: 10 },
};

const ADDRESSING = new Set([
  "AssignPrivateIpAddresses",
  "UnassignPrivateIpAddresses",
  "CreateNetworkInterface",
  "DeleteNetworkInterface",
  "ModifyNetworkInterfaceAttribute",
  "AssignIpv6Addresses",
  "UnassignIpv6Addresses",
]);

export function bucketOf(api: string): BucketName {
  if (api.startsWith("Describe")) return "describe";
  if (api === "CreateTags" || api === "DeleteTags") return "tags";
  if (ADDRESSING.has(api)) return "addressing";
  return "mutating";
}

export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    readonly spec: BucketSpec,
    now: number,
  ) {
    this.tokens = spec.capacity;
    this.last = now;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.spec.capacity, this.tokens + ((now - this.last) / 1000) * this.spec.refillPerSec);
      this.last = now;
    }
  }

  /** Books one token; answers the ms to wait before using it. */
  take(now: number): number {
    this.refill(now);
    this.tokens -= 1;
    if (this.tokens >= 0) return 0;
    if (this.spec.refillPerSec <= 0) return Number.POSITIVE_INFINITY;
    return Math.ceil((-this.tokens / this.spec.refillPerSec) * 1000);
  }

  level(now: number): number {
    this.refill(now);
    return this.tokens;
  }
}

export class BucketSet {
  private readonly buckets = new Map<BucketName, TokenBucket>();
  constructor(specs: Record<BucketName, BucketSpec>, now: number) {
    for (const [name, spec] of Object.entries(specs) as [BucketName, BucketSpec][]) this.buckets.set(name, new TokenBucket(spec, now));
  }
  take(api: string, now: number): number {
    return this.buckets.get(bucketOf(api))!.take(now);
  }
  state(now: number): Record<string, { capacity: number; refillPerSec: number; tokens: number }> {
    const out: Record<string, { capacity: number; refillPerSec: number; tokens: number }> = {};
    for (const [name, b] of this.buckets) out[name] = { ...b.spec, tokens: Math.round(b.level(now) * 100) / 100 };
    return out;
  }
}

/** Scales every bucket (e.g. 0.1 for a shared account, or tests). */
export function scaledBuckets(scale: { capacity?: number; refill?: number } = {}): Record<BucketName, BucketSpec> {
  const out = {} as Record<BucketName, BucketSpec>;
  for (const [k, v] of Object.entries(AWS_BUCKETS) as [BucketName, BucketSpec][]) {
    out[k] = { capacity: Math.max(1, v.capacity * (scale.capacity ?? 1)), refillPerSec: v.refillPerSec * (scale.refill ?? 1) };
  }
  return out;
}
