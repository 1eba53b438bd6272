/**
 * pool-manager → addr-broker: the node's capacity, a versioned snapshot of the ENIs and
 * the CIDRs (/32, /128, /28, /80) that pods may be given addresses from.
 */
import { int, z } from "../zod.ts";
import { route } from "../ipc/contract.ts";
import { cidr, eniId, ipAddress, mac, routeTable } from "./fields.ts";

export const capacityCidr = z.object({
  cidr,
  /** A /32 or /128 secondary address, or a delegated prefix. */
  kind: z.enum(["address", "prefix"]),
  /** Being released: hand out nothing from it. */
  draining: z._default(z.boolean(), false),
});
export type CapacityCidr = z.infer<typeof capacityCidr>;

export const capacityEni = z.object({
  id: eniId,
  deviceNumber: int().check(z.minimum(0)),
  networkCard: z._default(int().check(z.minimum(0)), 0),
  routeTable,
  mac,
  subnetId: z.string(),
  subnetCidr: cidr,
  gateway: ipAddress,
  primaryIp: ipAddress,
  primary: z.boolean(),
  /** Pods may take addresses from this ENI (false for the primary under custom networking, trunk, excluded). */
  usable: z._default(z.boolean(), true),
  /** The trunk ENI (InterfaceType trunk): never usable; its link is the parent of branch-ENI pods' VLANs. */
  trunk: z.optional(z.boolean()),
  cidrs: z.array(capacityCidr),
});
export type CapacityEni = z.infer<typeof capacityEni>;

export const capacitySnapshot = z.object({
  /** Monotonic per pool-manager run; `epoch` changes when pool-manager restarts. */
  version: int().check(z.minimum(0)),
  epoch: z.string(),
  family: z.enum(["ipv4", "ipv6"]),
  prefixDelegation: z.boolean(),
  vpcCidrs: z.array(cidr),
  /** The node's primary IPv4 address and its primary ENI's first IPv6 address (IMDS), once known. */
  nodeIps: z.optional(z.object({ ipv4: z.optional(ipAddress), ipv6: z.optional(ipAddress) })),
  enis: z.array(capacityEni),
  /**
   * ENABLE_MULTI_NIC: the managed network cards above 0 (a multi-homed pod gets one address
   * from each, and waits while one has no set-up ENI yet). Absent when the option is off.
   */
  networkCards: z.optional(z.array(int().check(z.minimum(1), z.maximum(255)))),
  /** Set while pool-manager cannot give (more) capacity: why, in words an operator can act on. */
  shortage: z.optional(z.string()),
  /** pool-manager has read EC2 and the snapshot reflects it (false before start-up is done). */
  ready: z.boolean(),
});
export type CapacitySnapshot = z.infer<typeof capacitySnapshot>;

/** Long poll: answers at once when the version is newer than `since` (or epoch differs), else after `waitMs`. */
export const getCapacity = route(
  "GET",
  "/v1/capacity",
  z.object({
    since: z._default(z.coerce.number().check(z.int(), z.minimum(-1)), -1),
    epoch: z.optional(z.string()),
    waitMs: z._default(z.coerce.number().check(z.int(), z.minimum(0), z.maximum(60_000)), 0),
  }),
  capacitySnapshot,
);
