/** addr-broker's assignments, read by net-config to reconcile the kernel. */
import { z } from "zod";
import { route } from "../ipc/contract.ts";
import { podWiring } from "./netconfig.ts";

export const assignment = podWiring.extend({
  networkName: z.string(),
  netns: z.string(),
  /** When the address was given to the pod (epoch ms): pool-manager's /v1/enis shows it as upstream's AssignedTime. */
  assignedAtMs: z.number().int().min(0).optional(),
});
export type Assignment = z.infer<typeof assignment>;

export const listAssignments = route(
  "GET",
  "/v1/assignments",
  z.object({}),
  z.object({ assignments: z.array(assignment), restored: z.boolean() }),
);
