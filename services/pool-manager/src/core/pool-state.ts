/**
 * The pool as the planner sees it: the node's managed ENIs and their CIDRs, what
 * addr-broker reports about their use, and the few timestamps the rules depend on.
 * Plain data; built by the app from EC2/IMDS and addr-broker, never by the planner.
 */

import type { DemandHistory } from "./demand-history.ts";

export type CidrKind = "address" | "prefix";

export interface PoolCidr {
  /** "10.0.1.5/32", "10.0.2.16/28", "2600::/80" */
  cidr: string;
  kind: CidrKind;
  /** Addresses in it: 1 for a /32, 16 for a /28 (IPv6 /80 counted as 1 unit of capacity). */
  size: number;
  /** Being released (drain asked or granted): counts for nothing. */
  draining?: boolean;
}

export interface PoolEni {
  id: string;
  deviceNumber: number;
  subnetId: string;
  primary: boolean;
  trunk: boolean;
  efa: boolean;
  /** In a subnet excluded by tag (kubernetes.io/role/cni=0): drained, never grown. */
  excluded: boolean;
  /** Attach (or create) time; an ENI younger than a minute is never freed. */
  createdAtMs: number;
  cidrs: PoolCidr[];
}

export interface PoolState extends PoolConditions {
  /** Managed ENIs (unmanaged ones only count in `unmanagedEnis`). */
  enis: PoolEni[];
  unmanagedEnis: number;
}

/**
 * What the rules read about the node besides its ENIs: when the pool last shrank, when the
 * subnet last ran out, whether the node takes pods, why no ENI may be created, the observed
 * demand, and whether the account throttles this node.
 */
export interface PoolConditions {
  /** Last time CIDRs were released (the 30 s shrink interval). */
  lastShrinkAtMs?: number;
  /** Last InsufficientFreeAddressesInSubnet (or InsufficientCidrBlocks without fallback). */
  insufficientAddressesAtMs?: number;
  /** Last InsufficientCidrBlocks: no aligned /28 left in the subnet. */
  insufficientPrefixesAtMs?: number;
  node: { unschedulable: boolean; terminating: boolean };
  /** Why no new ENI may be created right now (e.g. no ENIConfig under custom networking). */
  newEniBlocked?: string;
  /** Observed demand (recorded by the app from usage reports); read by the demand policy only. */
  demand?: DemandHistory;
  /** The account is throttling this node's addressing calls: no ENI is created ahead of need. */
  ec2Busy?: boolean;
  /** ... or did within the last 10 min: no release (its surplus can wait for a calm account). */
  ec2BusyLately?: boolean;
}

export interface CidrUse {
  assigned: number;
  cooling: number;
}

export interface PoolUsage {
  byCidr: Record<string, CidrUse>;
  /** ADDs that found no address since the last plan. */
  newMisses: number;
  /** ADDs waiting right now for an address. */
  waiting: number;
  /** Pods scheduled to the node (Kubernetes API) that have no address yet. */
  pendingPods: number;
  /**
   * The node's pods are watched (Kubernetes API live): `pendingPods` shows a pod when it is
   * scheduled, before its ADD, so the demand policy need not keep a buffer for bursts.
   */
  podsWatched?: boolean;
}

export const NO_USAGE: PoolUsage = { byCidr: {}, newMisses: 0, waiting: 0, pendingPods: 0 };

export function useOf(usage: PoolUsage, cidr: string): CidrUse {
  return usage.byCidr[cidr] ?? { assigned: 0, cooling: 0 };
}
