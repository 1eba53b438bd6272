/** addr-broker's assignments, read by net-config to reconcile the kernel. */
import { z } from "zod";
import { route } from "../ipc/contract.ts";
import { ifName, ipAddress, routeTable } from "./fields.ts";
import { podWiring } from "./netconfig.ts";

export const assignment = podWiring.extend({
  networkName: z.string(),
  netns: z.string(),
});
export type Assignment = z.infer<typeof assignment>;

/**
 * An address held by a live pod whose identity is unknown (rebuilt from the kernel after a
 * corrupt checkpoint): net-config must leave its veth, route and rules alone.
 */
export const reservation = z.object({ address: ipAddress, hostVeth: ifName.optional(), routeTable: routeTable.optional() });
export type Reservation = z.infer<typeof reservation>;

export const listAssignments = route(
  "GET",
  "/v1/assignments",
  z.object({}),
  z.object({ assignments: z.array(assignment), reserved: z.array(reservation).optional(), restored: z.boolean() }),
);
