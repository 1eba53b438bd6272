/** addr-broker's assignments, read by net-config to reconcile the kernel. */
import { z } from "zod";
import { route } from "../ipc/contract.ts";
import { podWiring } from "./netconfig.ts";

export const assignment = podWiring.extend({
  networkName: z.string(),
  netns: z.string(),
});
export type Assignment = z.infer<typeof assignment>;

export const listAssignments = route(
  "GET",
  "/v1/assignments",
  z.object({}),
  z.object({ assignments: z.array(assignment), restored: z.boolean() }),
);
