/** addr-broker's assignments, read by net-config to reconcile the kernel. */
import { int, z } from "../zod.ts";
import { route } from "../ipc/contract.ts";
import { ifName, ipAddress, routeTable } from "./fields.ts";
import { podWiring } from "./netconfig.ts";
import { branchWiring } from "./branch.ts";

export const assignment = z.extend(podWiring, {
  networkName: z.string(),
  netns: z.string(),
  /** When the address was given to the pod (epoch ms): pool-manager's /v1/enis shows it as upstream's AssignedTime. */
  assignedAtMs: z.optional(int().check(z.minimum(0))),
});
export type Assignment = z.infer<typeof assignment>;

/**
 * An address held by a live pod whose identity is unknown (rebuilt from the kernel after a
 * corrupt checkpoint): net-config must leave its veth, route and rules alone.
 */
export const reservation = z.object({ address: ipAddress, hostVeth: z.optional(ifName), routeTable: z.optional(routeTable) });
export type Reservation = z.infer<typeof reservation>;

export const listAssignments = route(
  "GET",
  "/v1/assignments",
  z.object({}),
  z.object({
    assignments: z.array(assignment),
    reserved: z.optional(z.array(reservation)),
    /** Branch-ENI pods (security groups for pods): their VLAN link, table, route and rules are kept and repaired. */
    branch: z.optional(z.array(branchWiring)),
    restored: z.boolean(),
  }),
);
