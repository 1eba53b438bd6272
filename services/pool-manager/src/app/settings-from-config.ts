/** Maps shared/config's Config onto the planner's PoolSettings and the manager's options. */
import type { Config } from "../../../../shared/config/types.ts";
import type { BucketName, BucketSpec } from "../core/token-bucket.ts";
import type { PoolSettings } from "../core/settings.ts";

export function poolSettingsFrom(c: Config): PoolSettings {
  return {
    warmEniTarget: c.pool.warmEniTarget,
    warmIpTarget: c.pool.warmIpTarget ?? 0,
    minimumIpTarget: c.pool.minimumIpTarget ?? 0,
    warmPrefixTarget: c.pool.warmPrefixTarget ?? 0,
    maxEni: c.pool.maxEni ?? 0,
    prefixDelegation: c.pool.prefixDelegation || c.ipFamily === "ipv6",
    family: c.ipFamily,
    podEni: c.eni.podEni,
    manageNonSchedulable: c.pool.manageEnisNonSchedulable,
    customNetwork: c.eni.customNetworking,
    coolingCountsAsAvailable: c.pool.coolingIpsCountAsAvailable,
    holdCoolingIps: c.pool.holdCoolingIps,
    verifyImdsWithEc2: c.pool.verifyImdsWithEc2,
    pdFallbackToIps: c.pool.prefixDelegationFallbackToIps,
    demandAware: c.pool.demandAware,
    policy: c.pool.policy,
  };
}

export function bucketsFrom(c: Config): Record<BucketName, BucketSpec> {
  const b = c.ec2.rateLimit.buckets;
  const spec = (x: { capacity: number; refillPerSecond: number }): BucketSpec => ({ capacity: x.capacity, refillPerSec: x.refillPerSecond });
  return { describe: spec(b.describe), mutating: spec(b.mutating), addressing: spec(b.addressesAndEnis), tags: spec(b.tags) };
}
