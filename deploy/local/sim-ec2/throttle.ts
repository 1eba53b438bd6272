/**
 * The account's EC2 token buckets, of AWS's published sizes (pool-manager's
 * aws-ec2-buckets.ts, the product's knowledge of them): each action draws from one bucket; an
 * empty bucket means RequestLimitExceeded. Clock injected.
 */
import { AWS_EC2_BUCKETS, type AwsBucketName } from "../../../shared/aws-ec2-buckets.ts";

export interface ThrottleScale {
  /** Multiplies every bucket's capacity (at least 1 token). */
  capacity: number;
  /** Multiplies every bucket's refill rate. */
  refill: number;
}

export class TokenBuckets {
  private readonly level = new Map<AwsBucketName, { tokens: number; at: number }>();
  private scale: ThrottleScale = { capacity: 1, refill: 1 };

  constructor(private readonly now: () => number) {}

  setScale(scale: ThrottleScale): void {
    this.scale = { ...scale };
    this.level.clear();
  }

  private capacity(name: AwsBucketName): number {
    return Math.max(1, Math.floor(AWS_EC2_BUCKETS[name].capacity * this.scale.capacity));
  }

  /** Tokens left in a bucket now (refilled lazily). */
  tokens(name: AwsBucketName): number {
    const cap = this.capacity(name);
    const t = this.now();
    const cur = this.level.get(name) ?? { tokens: cap, at: t };
    const refilled = Math.min(cap, cur.tokens + ((t - cur.at) / 1000) * AWS_EC2_BUCKETS[name].refillPerSec * this.scale.refill);
    this.level.set(name, { tokens: refilled, at: t });
    return refilled;
  }

  /** Takes one token; false when the bucket is empty (the call is throttled). */
  take(name: AwsBucketName): boolean {
    const left = this.tokens(name);
    if (left < 1) return false;
    this.level.set(name, { tokens: left - 1, at: this.now() });
    return true;
  }

  reset(): void {
    this.level.clear();
  }
}
