// What one pass of the DaemonSet controller decides for one DaemonSet, from the nodes and its
// pods: which nodes should run its pod, which nodes get a pod, which pods go (on nodes that
// must not run it, surplus, failed, or replaced by the rolling update), and the status it
// reports. Pure: the controller (daemonset.ts) carries the plan out.
import type { KubeObject } from "../sim-kube/validate.ts";
import { daemonPlacement, isPodUpdated } from "./daemon-pods.ts";
import { effectiveTaints, matchesNodeSelection, untoleratedTaint } from "./node-fit.ts";
import { isPodReady, isRollingUpdate, maxUnavailableOf, rollingUpdateDeletions, untilAvailableMs } from "./rollout.ts";
import type { NodePods } from "./rollout.ts";

export interface NodeVerdict {
  /** A pod should be created here if none is. */
  shouldRun: boolean;
  /** A pod already here may stay (a NoSchedule taint added later does not evict it). */
  shouldContinueRunning: boolean;
}

export function nodeVerdict(daemonSet: KubeObject, node: KubeObject): NodeVerdict {
  const placement = daemonPlacement(daemonSet);
  if (!matchesNodeSelection(placement, node)) return { shouldRun: false, shouldContinueRunning: false };
  const taints = effectiveTaints(node);
  const tolerations = placement.tolerations ?? [];
  if (untoleratedTaint(tolerations, taints, ["NoExecute"]) !== undefined) return { shouldRun: false, shouldContinueRunning: false };
  if (untoleratedTaint(tolerations, taints, ["NoSchedule"]) !== undefined) return { shouldRun: false, shouldContinueRunning: true };
  return { shouldRun: true, shouldContinueRunning: true };
}

function phaseOf(pod: KubeObject): string | undefined {
  return (pod.status as { phase?: string } | undefined)?.phase;
}

function nodeNameOf(pod: KubeObject): string {
  return (pod.spec as { nodeName?: string } | undefined)?.nodeName ?? "";
}

function oldestFirst(a: KubeObject, b: KubeObject): number {
  const byTime = Date.parse(a.metadata.creationTimestamp ?? "") - Date.parse(b.metadata.creationTimestamp ?? "");
  if (byTime !== 0 && !Number.isNaN(byTime)) return byTime;
  return (a.metadata.name ?? "") < (b.metadata.name ?? "") ? -1 : 1;
}

/** The DaemonSet's pods by node, oldest first; finished pods already being deleted are left out. */
export function podsByNode(pods: readonly KubeObject[]): Map<string, KubeObject[]> {
  const byNode = new Map<string, KubeObject[]>();
  for (const pod of pods) {
    const finished = phaseOf(pod) === "Succeeded" || phaseOf(pod) === "Failed";
    if (finished && pod.metadata.deletionTimestamp !== undefined) continue;
    const list = byNode.get(nodeNameOf(pod)) ?? [];
    list.push(pod);
    byNode.set(nodeNameOf(pod), list);
  }
  for (const list of byNode.values()) list.sort(oldestFirst);
  return byNode;
}

export interface DaemonPlan {
  /** Nodes to create a pod on. */
  create: string[];
  /** Pods to delete (gracefully). */
  remove: KubeObject[];
  /** Failed pods to delete and replace, subject to the controller's back-off. */
  failed: KubeObject[];
}

/**
 * One pass for one DaemonSet. `pods` are the pods it controls, `updated` tells a pod of the
 * current template from an old one, `available` a pod that counts as available.
 */
export function planDaemonSet(
  daemonSet: KubeObject,
  nodes: readonly KubeObject[],
  pods: readonly KubeObject[],
  updated: (pod: KubeObject) => boolean,
  available: (pod: KubeObject) => boolean,
): DaemonPlan {
  const byNode = podsByNode(pods);
  const plan: DaemonPlan = { create: [], remove: [], failed: [] };
  const rolling: NodePods[] = [];
  const known = new Set<string>();
  for (const node of nodes) {
    const nodeName = node.metadata.name ?? "";
    known.add(nodeName);
    const verdict = nodeVerdict(daemonSet, node);
    const onNode = byNode.get(nodeName) ?? [];
    const live = onNode.filter((pod) => pod.metadata.deletionTimestamp === undefined);
    if (verdict.shouldRun || onNode.length > 0) rolling.push({ nodeName, pods: onNode });
    if (verdict.shouldRun && onNode.length === 0) {
      plan.create.push(nodeName);
    } else if (verdict.shouldContinueRunning) {
      const failed = live.filter((pod) => phaseOf(pod) === "Failed");
      plan.failed.push(...failed);
      plan.remove.push(...live.filter((pod) => phaseOf(pod) !== "Failed").slice(1));
    } else {
      plan.remove.push(...live);
    }
  }
  // pods bound to nodes that no longer exist
  for (const [nodeName, onNode] of byNode) {
    if (!known.has(nodeName)) plan.remove.push(...onNode.filter((pod) => pod.metadata.deletionTimestamp === undefined));
  }
  if (isRollingUpdate(daemonSet)) {
    const desired = nodes.filter((node) => nodeVerdict(daemonSet, node).shouldRun).length;
    const doomed = new Set([...plan.remove, ...plan.failed].map((pod) => pod.metadata.uid));
    for (const pod of rollingUpdateDeletions(rolling, maxUnavailableOf(daemonSet, desired), updated, available)) {
      if (!doomed.has(pod.metadata.uid)) plan.remove.push(pod);
    }
  }
  return plan;
}

export interface DaemonSetStatus {
  currentNumberScheduled: number;
  desiredNumberScheduled: number;
  numberMisscheduled: number;
  numberReady: number;
  observedGeneration?: number;
  updatedNumberScheduled?: number;
  numberAvailable?: number;
  numberUnavailable?: number;
}

/**
 * The status the real controller reports: per node that should run the pod, its oldest pod
 * counts as scheduled, ready, available and updated; a pod on a node that should not run it
 * is misscheduled. `availableInMs` is when a ready pod next becomes available (minReadySeconds).
 */
export function daemonSetStatus(
  daemonSet: KubeObject,
  nodes: readonly KubeObject[],
  pods: readonly KubeObject[],
  hash: string,
  generation: string | undefined,
  now: Date,
): { status: DaemonSetStatus; availableInMs: number | undefined } {
  const minReadySeconds = (daemonSet.spec as { minReadySeconds?: number } | undefined)?.minReadySeconds ?? 0;
  const byNode = podsByNode(pods);
  let desired = 0, current = 0, misscheduled = 0, ready = 0, available = 0, updated = 0;
  let availableInMs: number | undefined;
  for (const node of nodes) {
    const oldest = byNode.get(node.metadata.name ?? "")?.[0];
    if (!nodeVerdict(daemonSet, node).shouldRun) {
      if (oldest !== undefined) misscheduled += 1;
      continue;
    }
    desired += 1;
    if (oldest === undefined) continue;
    current += 1;
    if (isPodReady(oldest)) {
      ready += 1;
      const wait = untilAvailableMs(oldest, minReadySeconds, now);
      if (wait === 0) available += 1;
      else if (wait !== undefined) availableInMs = Math.min(availableInMs ?? Infinity, wait);
    }
    if (isPodUpdated(oldest, hash, generation)) updated += 1;
  }
  // zero-valued optional fields are left out, as the real API serializes them (omitempty)
  const status: DaemonSetStatus = { currentNumberScheduled: current, desiredNumberScheduled: desired, numberMisscheduled: misscheduled, numberReady: ready };
  if (typeof daemonSet.metadata.generation === "number") status.observedGeneration = daemonSet.metadata.generation;
  if (updated > 0) status.updatedNumberScheduled = updated;
  if (available > 0) status.numberAvailable = available;
  if (desired - available > 0) status.numberUnavailable = desired - available;
  return { status, availableInMs };
}
