/**
 * What the pool planner needs to know about the operator's wishes (PoolSettings) and the
 * instance (PoolLimits), and the limits derived from both exactly as upstream derives them.
 */

export interface PoolSettings {
  /** WARM_ENI_TARGET (default 1). */
  warmEniTarget: number;
  /** WARM_IP_TARGET; 0 = unset. */
  warmIpTarget: number;
  /** MINIMUM_IP_TARGET; 0 = unset. */
  minimumIpTarget: number;
  /** WARM_PREFIX_TARGET (upstream code default 0, manifest 1). */
  warmPrefixTarget: number;
  /** MAX_ENI; values < 1 mean "the instance limit". */
  maxEni: number;
  /** ENABLE_PREFIX_DELEGATION. */
  prefixDelegation: boolean;
  family: "ipv4" | "ipv6";
  /** ENABLE_POD_ENI: keep a slot free for the trunk ENI. */
  podEni: boolean;
  /** AWS_MANAGE_ENIS_NON_SCHEDULABLE. */
  manageNonSchedulable: boolean;
  /** AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: pods never use the primary ENI. */
  customNetwork: boolean;
  /** Upstream counts cooling addresses as available (#2896); this project does not by default. */
  coolingCountsAsAvailable: boolean;
  /** A cooling address is released to EC2 only after its cooldown; upstream releases it at once (FindFreeableCidrs). */
  holdCoolingIps: boolean;
  /** Verify IMDS address lists against EC2 before trusting them (#391, #3887). */
  verifyImdsWithEc2: boolean;
  /** With PD, fall back to secondary /32s when the subnet has no free aligned /28 (#2749). */
  pdFallbackToIps: boolean;
  /** Grow by the unmet demand (misses, pending pods) in one step (Cilium surge / Azure). */
  demandAware: boolean;
  /**
   * AWS_VPC_CNI_POOL_POLICY: `compat` = upstream's warm targets exactly (planner.ts);
   * `demand` = a free buffer sized from observed demand, released with hysteresis
   * (demand-policy.ts). Unset means compat.
   */
  policy?: PoolPolicy;
}

export type PoolPolicy = "compat" | "demand";

export const UPSTREAM_DEFAULTS: PoolSettings = {
  warmEniTarget: 1,
  warmIpTarget: 0,
  minimumIpTarget: 0,
  warmPrefixTarget: 0,
  maxEni: 0,
  prefixDelegation: false,
  family: "ipv4",
  podEni: false,
  manageNonSchedulable: false,
  customNetwork: false,
  coolingCountsAsAvailable: true,
  holdCoolingIps: false,
  verifyImdsWithEc2: false,
  pdFallbackToIps: false,
  demandAware: false,
  policy: "compat",
};

/**
 * The project's defaults: its fixes to upstream switched on (docs/DESIGN-NOTES.md) and the
 * demand policy (when no upstream target is set). The warm-target fields keep upstream's values so that the
 * compat planner, given these settings, still behaves as upstream with the fixes.
 */
export const PROJECT_DEFAULTS: PoolSettings = {
  ...UPSTREAM_DEFAULTS,
  coolingCountsAsAvailable: false,
  holdCoolingIps: true,
  verifyImdsWithEc2: true,
  pdFallbackToIps: true,
  demandAware: true,
  policy: "demand",
};

/** The instance's network limits (DescribeInstanceTypes) and the node's pod limit. */
export interface PoolLimits {
  instanceType: string;
  maxEnis: number;
  ipv4PerEni: number;
  ipv6PerEni: number;
  /** The type supports a trunk ENI (security groups for pods). */
  trunking: boolean;
  /** Kubelet's max pods (Node capacity, else 110 as upstream). */
  maxPods: number;
}

/** Addresses in one IPv4 prefix (/28). */
export const IPV4_PREFIX_SIZE = 16;

export interface DerivedLimits {
  /** min(MAX_ENI if >= 1, instance limit). */
  maxEni: number;
  /** CIDR slots per ENI: IPv4-per-ENI − 1 (the primary address takes one). */
  slotsPerEni: number;
  /** Addresses a full ENI holds: slots, × 16 with PD. */
  maxIpsPerEni: number;
  /** The unit of WARM_ENI_TARGET / WARM_PREFIX_TARGET arithmetic: maxIpsPerEni, or 16 with PD. */
  addressesPerWarmUnit: number;
}

export function deriveLimits(settings: PoolSettings, limits: PoolLimits): DerivedLimits {
  const maxEni = settings.maxEni >= 1 && settings.maxEni < limits.maxEnis ? settings.maxEni : limits.maxEnis;
  const slotsPerEni = Math.max(limits.ipv4PerEni - 1, 0);
  const maxIpsPerEni = settings.prefixDelegation ? slotsPerEni * IPV4_PREFIX_SIZE : slotsPerEni;
  return { maxEni, slotsPerEni, maxIpsPerEni, addressesPerWarmUnit: settings.prefixDelegation ? IPV4_PREFIX_SIZE : maxIpsPerEni };
}

/** True when WARM_IP_TARGET or MINIMUM_IP_TARGET is set (upstream `warmIPTargetsDefined`). */
export function ipTargetsDefined(s: PoolSettings): boolean {
  return s.warmIpTarget !== 0 || s.minimumIpTarget !== 0;
}
