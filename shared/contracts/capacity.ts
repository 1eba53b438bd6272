/**
 * pool-manager → addr-broker: the node's capacity, a versioned snapshot of the ENIs and
 * the CIDRs (/32, /128, /28, /80) that pods may be given addresses from.
 */
import { z } from "zod";
import { route } from "../ipc/contract.ts";
import { cidr, eniId, ipAddress, mac, routeTable } from "./fields.ts";

export const capacityCidr = z.object({
  cidr,
  /** A /32 or /128 secondary address, or a delegated prefix. */
  kind: z.enum(["address", "prefix"]),
  /** Being released: hand out nothing from it. */
  draining: z.boolean().default(false),
});
export type CapacityCidr = z.infer<typeof capacityCidr>;

export const capacityEni = z.object({
  id: eniId,
  deviceNumber: z.number().int().min(0),
  networkCard: z.number().int().min(0).default(0),
  routeTable,
  mac,
  subnetId: z.string(),
  subnetCidr: cidr,
  gateway: ipAddress,
  primaryIp: ipAddress,
  primary: z.boolean(),
  /** Pods may take addresses from this ENI (false for the primary under custom networking, trunk, excluded). */
  usable: z.boolean().default(true),
  /** The trunk ENI (InterfaceType trunk): never usable; its link is the parent of branch-ENI pods' VLANs. */
  trunk: z.boolean().optional(),
  cidrs: z.array(capacityCidr),
});
export type CapacityEni = z.infer<typeof capacityEni>;

export const capacitySnapshot = z.object({
  /** Monotonic per pool-manager run; `epoch` changes when pool-manager restarts. */
  version: z.number().int().min(0),
  epoch: z.string(),
  family: z.enum(["ipv4", "ipv6"]),
  prefixDelegation: z.boolean(),
  vpcCidrs: z.array(cidr),
  /** The node's primary IPv4 address and its primary ENI's first IPv6 address (IMDS), once known. */
  nodeIps: z.object({ ipv4: ipAddress.optional(), ipv6: ipAddress.optional() }).optional(),
  enis: z.array(capacityEni),
  /**
   * ENABLE_MULTI_NIC: the managed network cards above 0 (a multi-homed pod gets one address
   * from each, and waits while one has no set-up ENI yet). Absent when the option is off.
   */
  networkCards: z.array(z.number().int().min(1).max(255)).optional(),
  /** Set while pool-manager cannot give (more) capacity: why, in words an operator can act on. */
  shortage: z.string().optional(),
  /** pool-manager has read EC2 and the snapshot reflects it (false before start-up is done). */
  ready: z.boolean(),
});
export type CapacitySnapshot = z.infer<typeof capacitySnapshot>;

/** Long poll: answers at once when the version is newer than `since` (or epoch differs), else after `waitMs`. */
export const getCapacity = route(
  "GET",
  "/v1/capacity",
  z.object({
    since: z.coerce.number().int().min(-1).default(-1),
    epoch: z.string().optional(),
    waitMs: z.coerce.number().int().min(0).max(60_000).default(0),
  }),
  capacitySnapshot,
);
