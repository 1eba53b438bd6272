// What one pass of the Deployment controller decides for one Deployment, from its pods: how
// many pods of the current template to create, which pods go (failed ones, surplus ones, and
// old ones the update strategy replaces), and the status it reports. No ReplicaSet stands
// between a Deployment and its pods here: the pods are owned by the Deployment itself and
// carry the template's hash (label pod-template-hash, and in their names) where a ReplicaSet
// would. Pure: the controller (deployment.ts) carries the plan out.
import type { KubeObject } from "../sim-kube/validate.ts";
import { templateOf } from "./daemon-pods.ts";
import { isPodReady, untilAvailableMs } from "./rollout.ts";

export const POD_TEMPLATE_HASH_LABEL = "pod-template-hash";

type Loose = Record<string, unknown>;

interface DeploymentSpec {
  replicas?: number;
  minReadySeconds?: number;
  strategy?: { type?: string; rollingUpdate?: { maxUnavailable?: number | string } };
}

function specOf(deployment: KubeObject): DeploymentSpec {
  return (deployment.spec ?? {}) as DeploymentSpec;
}

export function replicasOf(deployment: KubeObject): number {
  return specOf(deployment).replicas ?? 1;
}

export function minReadySecondsOf(deployment: KubeObject): number {
  return specOf(deployment).minReadySeconds ?? 0;
}

export function isRecreate(deployment: KubeObject): boolean {
  return specOf(deployment).strategy?.type === "Recreate";
}

/** Pods that may be unavailable with the Deployment still Available: 0 for Recreate, maxUnavailable (rounded down) for RollingUpdate. */
export function maxUnavailableOf(deployment: KubeObject): number {
  if (isRecreate(deployment)) return 0;
  const value = specOf(deployment).strategy?.rollingUpdate?.maxUnavailable ?? "25%";
  if (typeof value === "number") return value;
  const percent = /^(\d+)%$/.exec(value);
  return percent ? Math.floor((Number(percent[1]) * replicasOf(deployment)) / 100) : 0;
}

function phaseOf(pod: KubeObject): string | undefined {
  return (pod.status as { phase?: string } | undefined)?.phase;
}

function finished(pod: KubeObject): boolean {
  return phaseOf(pod) === "Succeeded" || phaseOf(pod) === "Failed";
}

/** Pods that count: not being deleted, not finished. */
export function activePods(pods: readonly KubeObject[]): KubeObject[] {
  return pods.filter((pod) => pod.metadata.deletionTimestamp === undefined && !finished(pod));
}

export function hashOf(pod: KubeObject): string | undefined {
  return pod.metadata.labels?.[POD_TEMPLATE_HASH_LABEL];
}

/** The order in which surplus pods go: not ready first, then the newest (as the ReplicaSet controller ranks them). */
function deletionRank(a: KubeObject, b: KubeObject): number {
  const ready = Number(isPodReady(a)) - Number(isPodReady(b));
  if (ready !== 0) return ready;
  const byTime = Date.parse(b.metadata.creationTimestamp ?? "") - Date.parse(a.metadata.creationTimestamp ?? "");
  if (byTime !== 0 && !Number.isNaN(byTime)) return byTime;
  return (a.metadata.name ?? "") < (b.metadata.name ?? "") ? 1 : -1;
}

export interface DeploymentPlan {
  /** Pods of the current template to create. */
  create: number;
  /** Pods to delete (gracefully). */
  remove: KubeObject[];
}

/**
 * One pass for one Deployment. `pods` are the pods it controls, `hash` its template's,
 * `available` a pod that counts as available. Recreate: every old pod is deleted, and new ones
 * are made only once no old pod is left, terminating ones included. RollingUpdate (maxSurge and
 * maxUnavailable are not read): the new pods are made at once, and an old pod is deleted for
 * each new pod that is available.
 */
export function planDeployment(deployment: KubeObject, pods: readonly KubeObject[], hash: string, available: (pod: KubeObject) => boolean): DeploymentPlan {
  const replicas = replicasOf(deployment);
  const failed = pods.filter((pod) => pod.metadata.deletionTimestamp === undefined && finished(pod));
  const active = activePods(pods);
  const current = active.filter((pod) => hashOf(pod) === hash);
  const old = active.filter((pod) => hashOf(pod) !== hash);
  const plan: DeploymentPlan = { create: 0, remove: [...failed] };
  if (isRecreate(deployment)) {
    plan.remove.push(...old);
    const oldLeft = pods.some((pod) => hashOf(pod) !== hash && !finished(pod));
    if (oldLeft) return plan;
  } else {
    const keepOld = Math.max(0, replicas - current.filter(available).length);
    plan.remove.push(...[...old].sort(deletionRank).slice(0, Math.max(0, old.length - keepOld)));
  }
  if (current.length < replicas) plan.create = replicas - current.length;
  else plan.remove.push(...[...current].sort(deletionRank).slice(0, current.length - replicas));
  return plan;
}

export interface DeploymentCondition {
  type: "Available" | "Progressing";
  status: "True" | "False";
  reason: string;
  message: string;
  lastUpdateTime: string;
  lastTransitionTime: string;
}

export interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  conditions: DeploymentCondition[];
}

/** A condition as before when its status and reason are unchanged (no write, no watch event), else new as of `now`. */
function condition(previous: readonly DeploymentCondition[], next: Omit<DeploymentCondition, "lastUpdateTime" | "lastTransitionTime">, now: string): DeploymentCondition {
  const before = previous.find((c) => c.type === next.type);
  if (before && before.status === next.status && before.reason === next.reason && before.message === next.message) return before;
  const transition = before && before.status === next.status ? before.lastTransitionTime : now;
  return { ...next, lastUpdateTime: now, lastTransitionTime: transition };
}

/**
 * The status the real controller reports (counts of active pods; zero counts left out, as the
 * API's omitempty does) and when a ready pod next becomes available (minReadySeconds).
 * `kubectl rollout status` is done when updatedReplicas = spec.replicas = replicas = availableReplicas.
 */
export function deploymentStatus(deployment: KubeObject, pods: readonly KubeObject[], hash: string, now: Date): { status: DeploymentStatus; availableInMs?: number } {
  const replicas = replicasOf(deployment);
  const minReadySeconds = minReadySecondsOf(deployment);
  const active = activePods(pods);
  const current = active.filter((pod) => hashOf(pod) === hash);
  let availableInMs: number | undefined;
  let available = 0;
  for (const pod of active) {
    const wait = untilAvailableMs(pod, minReadySeconds, now);
    if (wait === 0) available += 1;
    else if (wait !== undefined) availableInMs = Math.min(availableInMs ?? Infinity, wait);
  }
  const counts = {
    replicas: active.length,
    updatedReplicas: current.length,
    readyReplicas: active.filter(isPodReady).length,
    availableReplicas: available,
    unavailableReplicas: Math.max(0, Math.max(replicas, active.length) - available),
  };
  const previous = ((deployment.status as Loose | undefined)?.conditions ?? []) as DeploymentCondition[];
  const at = now.toISOString().replace(/\.\d+Z$/, "Z");
  const minimum = available >= replicas - maxUnavailableOf(deployment);
  const complete = current.length === replicas && active.length === replicas && available >= replicas;
  const replicaSet = `${deployment.metadata.name}-${hash}`;
  const conditions = [
    condition(previous, minimum
      ? { type: "Available", status: "True", reason: "MinimumReplicasAvailable", message: "Deployment has minimum availability." }
      : { type: "Available", status: "False", reason: "MinimumReplicasUnavailable", message: "Deployment does not have minimum availability." }, at),
    condition(previous, complete
      ? { type: "Progressing", status: "True", reason: "NewReplicaSetAvailable", message: `ReplicaSet "${replicaSet}" has successfully progressed.` }
      : { type: "Progressing", status: "True", reason: "ReplicaSetUpdated", message: `ReplicaSet "${replicaSet}" is progressing.` }, at),
  ];
  const status: DeploymentStatus = { conditions };
  if (deployment.metadata.generation !== undefined) status.observedGeneration = deployment.metadata.generation;
  for (const [field, value] of Object.entries(counts)) if (value > 0) status[field as keyof typeof counts] = value;
  return { status, ...(availableInMs === undefined ? {} : { availableInMs }) };
}

/** The pod of `deployment` for its template `hash`, ready to create (the scheduler binds it). */
export function deploymentPodFor(deployment: KubeObject, hash: string): KubeObject {
  const template = structuredClone(templateOf(deployment));
  const metadata = (template.metadata ?? {}) as { labels?: Record<string, string>; annotations?: Record<string, string> };
  const name = deployment.metadata.name ?? "";
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      generateName: `${name}-${hash}-`,
      namespace: deployment.metadata.namespace,
      labels: { ...metadata.labels, [POD_TEMPLATE_HASH_LABEL]: hash },
      ...(metadata.annotations ? { annotations: metadata.annotations } : {}),
      ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name, uid: deployment.metadata.uid ?? "", controller: true, blockOwnerDeletion: true }],
    },
    spec: (template.spec ?? {}) as Loose,
  };
}
