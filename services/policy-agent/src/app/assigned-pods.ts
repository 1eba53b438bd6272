/**
 * The pods addr-broker holds, as the agent's reconcile reads them (GET /v1/assignments): the
 * pool's pods and the branch-ENI pods (security groups for pods), whose host veth is named
 * with `vlan` in their strict mode and with the node's (or the conflist's) prefix in standard.
 * Without the branch pods the reconcile would forget every branch pod addr-broker told it of.
 */
import type { Assignment } from "../../../../shared/contracts/assignments.ts";
import type { BranchWiring } from "../../../../shared/contracts/branch.ts";
import type { AssignedPod } from "./agent.ts";
import { BRANCH_STRICT_VETH_PREFIX } from "./node-engine.ts";

export function assignedPods(list: { assignments: readonly Assignment[]; branch?: readonly BranchWiring[] | undefined }): AssignedPod[] {
  const branch = (list.branch ?? []).map((w): AssignedPod => {
    const vethPrefix = w.enforcingMode === "strict" ? BRANCH_STRICT_VETH_PREFIX : w.vethPrefix;
    return { podNamespace: w.podNamespace, podName: w.podName, containerId: w.containerId, ifName: w.ifName, address: w.address, ...(vethPrefix !== undefined ? { vethPrefix } : {}) };
  });
  return [...list.assignments, ...branch];
}
