// Whether a pod may run on a node, as the scheduler's filters decide it: nodeSelector,
// required node affinity (matchExpressions on labels, matchFields on metadata.name), taints
// with effect NoSchedule or NoExecute the pod does not tolerate (a NotReady node counts as
// tainted node.kubernetes.io/not-ready, an unschedulable one node.kubernetes.io/unschedulable),
// and the node's pod capacity. Pure.
import type { KubeObject } from "../sim-kube/validate.ts";

export interface Toleration {
  key?: string;
  operator?: "Exists" | "Equal";
  value?: string;
  effect?: string;
}

export interface Taint {
  key: string;
  value?: string;
  effect: string;
}

interface Requirement {
  key: string;
  operator: string;
  values?: string[];
}

interface SelectorTerm {
  matchExpressions?: Requirement[];
  matchFields?: Requirement[];
}

export interface PodPlacement {
  nodeSelector?: Record<string, string>;
  affinity?: { nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: SelectorTerm[] } } };
  tolerations?: Toleration[];
}

export const NOT_READY_TAINT: Taint = { key: "node.kubernetes.io/not-ready", effect: "NoSchedule" };
export const UNSCHEDULABLE_TAINT: Taint = { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" };

/** Why a node does not fit, worded as the scheduler's "0/N nodes are available" message words it. */
export type Misfit =
  | { reason: "affinity"; text: "node(s) didn't match Pod's node affinity/selector" }
  | { reason: "taint"; text: string }
  | { reason: "unschedulable"; text: "node(s) were unschedulable" }
  | { reason: "capacity"; text: "Too many pods" };

export function requirementMatches(requirement: Requirement, value: string | undefined): boolean {
  const values = requirement.values ?? [];
  switch (requirement.operator) {
    case "In":
      return value !== undefined && values.includes(value);
    case "NotIn":
      return value === undefined || !values.includes(value);
    case "Exists":
      return value !== undefined;
    case "DoesNotExist":
      return value === undefined;
    case "Gt":
    case "Lt": {
      const [limit] = values;
      if (value === undefined || limit === undefined || !/^-?\d+$/.test(value) || !/^-?\d+$/.test(limit)) return false;
      return requirement.operator === "Gt" ? Number(value) > Number(limit) : Number(value) < Number(limit);
    }
    default:
      return false;
  }
}

/** A term matches when all its requirements do; an empty term matches nothing. */
function termMatches(term: SelectorTerm, node: KubeObject): boolean {
  const expressions = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (expressions.length === 0 && fields.length === 0) return false;
  const labels = node.metadata.labels ?? {};
  return (
    expressions.every((requirement) => requirementMatches(requirement, labels[requirement.key])) &&
    fields.every((requirement) => requirement.key === "metadata.name" && requirementMatches(requirement, node.metadata.name))
  );
}

/** nodeSelector and required node affinity (any one of its terms). */
export function matchesNodeSelection(placement: PodPlacement, node: KubeObject): boolean {
  const labels = node.metadata.labels ?? {};
  if (!Object.entries(placement.nodeSelector ?? {}).every(([key, value]) => labels[key] === value)) return false;
  const terms = placement.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (terms === undefined) return true;
  return terms.some((term) => termMatches(term, node));
}

export function tolerates(toleration: Toleration, taint: Taint): boolean {
  if ((toleration.effect ?? "") !== "" && toleration.effect !== taint.effect) return false;
  if ((toleration.key ?? "") === "") return toleration.operator === "Exists";
  if (toleration.key !== taint.key) return false;
  return toleration.operator === "Exists" || (toleration.value ?? "") === (taint.value ?? "");
}

export function isNodeReady(node: KubeObject): boolean {
  const conditions = (node.status as { conditions?: Array<{ type?: string; status?: string }> } | undefined)?.conditions ?? [];
  return conditions.some((condition) => condition.type === "Ready" && condition.status === "True");
}

export function isUnschedulable(node: KubeObject): boolean {
  return (node.spec as { unschedulable?: boolean } | undefined)?.unschedulable === true;
}

/** The node's own taints plus the ones the node lifecycle would add for its state. */
export function effectiveTaints(node: KubeObject): Taint[] {
  const own = (node.spec as { taints?: Taint[] } | undefined)?.taints ?? [];
  const implied = [...(isNodeReady(node) ? [] : [NOT_READY_TAINT]), ...(isUnschedulable(node) ? [UNSCHEDULABLE_TAINT] : [])];
  return [...own, ...implied.filter((taint) => !own.some((existing) => existing.key === taint.key && existing.effect === taint.effect))];
}

/** The first taint with an effect in `effects` that the tolerations do not tolerate. */
export function untoleratedTaint(tolerations: readonly Toleration[], taints: readonly Taint[], effects: readonly string[] = ["NoSchedule", "NoExecute"]): Taint | undefined {
  return taints.find((taint) => effects.includes(taint.effect) && !tolerations.some((toleration) => tolerates(toleration, taint)));
}

/** Pods a node can still take: allocatable pods minus the pods bound to it that have not finished. */
export function hasRoomForPod(node: KubeObject, podsOnNode: number): boolean {
  const allocatable = (node.status as { allocatable?: { pods?: string } } | undefined)?.allocatable?.pods;
  if (allocatable === undefined || !/^\d+$/.test(allocatable)) return true;
  return podsOnNode < Number(allocatable);
}

/** Why `node` cannot take a pod with this placement, or undefined when it can. */
export function misfit(placement: PodPlacement, node: KubeObject, podsOnNode: number): Misfit | undefined {
  if (!matchesNodeSelection(placement, node)) return { reason: "affinity", text: "node(s) didn't match Pod's node affinity/selector" };
  const taints = effectiveTaints(node);
  const tolerations = placement.tolerations ?? [];
  if (isUnschedulable(node) && untoleratedTaint(tolerations, [UNSCHEDULABLE_TAINT]) !== undefined) {
    return { reason: "unschedulable", text: "node(s) were unschedulable" };
  }
  const taint = untoleratedTaint(tolerations, taints);
  if (taint !== undefined) return { reason: "taint", text: `node(s) had untolerated taint {${taint.key}: ${taint.value ?? ""}}` };
  if (!hasRoomForPod(node, podsOnNode)) return { reason: "capacity", text: "Too many pods" };
  return undefined;
}

/** The scheduler's summary: "0/3 nodes are available: 1 Too many pods, 2 node(s) didn't match ...". */
export function unavailableMessage(nodeCount: number, misfits: readonly Misfit[]): string {
  if (nodeCount === 0) return "no nodes available to schedule pods";
  const counts = new Map<string, number>();
  for (const { text } of misfits) counts.set(text, (counts.get(text) ?? 0) + 1);
  const parts = [...counts].map(([text, count]) => `${count} ${text}`).sort();
  return `0/${nodeCount} nodes are available: ${parts.join(", ")}.`;
}
