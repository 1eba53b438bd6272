/**
 * AWS's published per-account EC2 request buckets ("API request throttling"): each action
 * draws one token from one bucket; an empty bucket answers RequestLimitExceeded. The client's
 * own buckets (token-bucket.ts) start at these sizes; the simulated EC2 and the benchmarks
 * throttle by them.
 */

export interface BucketSpec {
  capacity: number;
  refillPerSec: number;
}

/**
 * Describe* with ids, filters or a page size ("filtered"); Describe* without any of them;
 * the default bucket of mutating actions (attach, detach, ...); the address and ENI actions;
 * tags.
 */
export type AwsBucketName = "describe" | "describeUnfiltered" | "mutating" | "addressing" | "tags";

export const AWS_EC2_BUCKETS: Readonly<Record<AwsBucketName, Readonly<BucketSpec>>> = {
  describe: { capacity: 100, refillPerSec: 20 },
  describeUnfiltered: { capacity: 50, refillPerSec: 10 },
  mutating: { capacity: 50, refillPerSec: 5 },
  addressing: { capacity: 100, refillPerSec: 5 },
  tags: { capacity: 100, refillPerSec: 10 },
};

const ADDRESSING_ACTIONS = new Set([
  "AssignPrivateIpAddresses",
  "UnassignPrivateIpAddresses",
  "CreateNetworkInterface",
  "DeleteNetworkInterface",
  "ModifyNetworkInterfaceAttribute",
  "AssignIpv6Addresses",
  "UnassignIpv6Addresses",
]);

/** The bucket an action draws from; `filtered` says whether a Describe* names ids, filters or a page size. */
export function awsBucketOf(action: string, filtered: boolean): AwsBucketName {
  if (action.startsWith("Describe")) return filtered || action === "DescribeInstanceTypes" ? "describe" : "describeUnfiltered";
  if (action === "CreateTags" || action === "DeleteTags") return "tags";
  if (ADDRESSING_ACTIONS.has(action)) return "addressing";
  return "mutating";
}
