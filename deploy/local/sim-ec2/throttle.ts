/**
 * Per-account EC2 token buckets, after AWS's "API request throttling" table: each action
 * draws from one bucket; an empty bucket means RequestLimitExceeded. Clock injected.
 */

export type BucketName = "describe" | "describeUnfiltered" | "mutating" | "addresses" | "tags";

export const BUCKETS: Readonly<Record<BucketName, { capacity: number; refillPerSec: number }>> = {
  describe: { capacity: 100, refillPerSec: 20 },
  describeUnfiltered: { capacity: 50, refillPerSec: 10 },
  mutating: { capacity: 50, refillPerSec: 5 },
  addresses: { capacity: 100, refillPerSec: 5 },
  tags: { capacity: 100, refillPerSec: 10 },
};

const ADDRESS_ACTIONS = new Set([
  "AssignPrivateIpAddresses",
  "UnassignPrivateIpAddresses",
  "CreateNetworkInterface",
  "DeleteNetworkInterface",
  "ModifyNetworkInterfaceAttribute",
  "AssignIpv6Addresses",
  "UnassignIpv6Addresses",
]);

/**
 * The bucket an action draws from. A Describe* is "filtered" when it names ids, filters or
 * a page size; unfiltered, unpaginated Describe* calls share the smaller bucket.
 */
export function bucketFor(action: string, filtered: boolean): BucketName {
  if (action.startsWith("Describe")) return filtered || action === "DescribeInstanceTypes" ? "describe" : "describeUnfiltered";
  if (action === "CreateTags" || action === "DeleteTags") return "tags";
  if (ADDRESS_ACTIONS.has(action)) return "addresses";
  return "mutating";
}

export interface ThrottleScale {
  /** Multiplies every bucket's capacity (at least 1 token). */
  capacity: number;
  /** Multiplies every bucket's refill rate. */
  refill: number;
}

export class TokenBuckets {
  private readonly level = new Map<BucketName, { tokens: number; at: number }>();
  private scale: ThrottleScale = { capacity: 1, refill: 1 };

  constructor(private readonly now: () => number) {}

  setScale(scale: ThrottleScale): void {
    this.scale = { ...scale };
    this.level.clear();
  }

  private capacity(name: BucketName): number {
    return Math.max(1, Math.floor(BUCKETS[name].capacity * this.scale.capacity));
  }

  /** Tokens left in a bucket now (refilled lazily). */
  tokens(name: BucketName): number {
    const cap = this.capacity(name);
    const t = this.now();
    const cur = this.level.get(name) ?? { tokens: cap, at: t };
    const refilled = Math.min(cap, cur.tokens + ((t - cur.at) / 1000) * BUCKETS[name].refillPerSec * this.scale.refill);
    this.level.set(name, { tokens: refilled, at: t });
    return refilled;
  }

  /** Takes one token; false when the bucket is empty (the call is throttled). */
  take(name: BucketName): boolean {
    const left = this.tokens(name);
    if (left < 1) return false;
    this.level.set(name, { tokens: left - 1, at: this.now() });
    return true;
  }

  reset(): void {
    this.level.clear();
  }
}
