/**
 * addr-broker → pool-manager: how the capacity is used, so the pool is sized from real
 * demand; and the release handshake (drain) that keeps EC2 from unassigning an address a
 * pod holds or that is cooling down.
 */
import { int, z } from "../zod.ts";
import { route } from "../ipc/contract.ts";
import { cidr } from "./fields.ts";

export const cidrUsage = z.object({
  cidr,
  assigned: int().check(z.minimum(0)),
  cooling: int().check(z.minimum(0)),
  /** Epoch ms at which the last cooling address of this CIDR becomes free again. */
  coolingUntil: z.optional(z.number()),
});

export const usageReport = z.object({
  /** The capacity version the broker has applied. */
  capacityVersion: int().check(z.minimum(-1)),
  capacityEpoch: z.optional(z.string()),
  assigned: int().check(z.minimum(0)),
  cooling: int().check(z.minimum(0)),
  cidrs: z.array(cidrUsage),
  /** Cumulative count of ADDs that found no address (pool-manager takes the difference). */
  misses: int().check(z.minimum(0)),
  /** ADDs waiting right now because no address is free. */
  waiting: int().check(z.minimum(0)),
});
export type UsageReport = z.infer<typeof usageReport>;

/** pool-manager pulls usage from addr-broker. */
export const getUsage = route("GET", "/v1/usage", z.object({}), usageReport);
/** addr-broker pushes usage to pool-manager on change, and at once on a miss. */
export const postUsage = route("POST", "/v1/usage", usageReport, z.object({ ok: z.literal(true) }));

/**
 * pool-manager asks to release CIDRs; addr-broker grants only those with no assigned or
 * cooling address and stops handing them out. With `releaseCooling` (upstream's release, no
 * AWS_VPC_CNI_HOLD_COOLING_IPS) a cooling address does not hold its CIDR back: it is granted
 * and the address's cooldown is dropped with it.
 */
export const drain = route(
  "POST",
  "/v1/drain",
  z.object({ cidrs: z.array(cidr).check(z.minLength(1)), releaseCooling: z._default(z.boolean(), false) }),
  z.object({
    granted: z.array(cidr),
    refused: z.array(z.object({ cidr, reason: z.string() })),
  }),
);
