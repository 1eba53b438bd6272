// A DaemonSet's rolling update, decided from the pods on each node: how many nodes may be
// without an available pod at once (maxUnavailable of the nodes that should run the pod,
// rounded up, at least 1), which pods count as available (Ready for minReadySeconds), and which
// old pods to delete now. The manage step (daemonset-plan.ts) then creates their replacements
// once they are gone. Pure.
import type { KubeObject } from "../sim-kube/validate.ts";

type IntOrPercent = number | string | undefined;

interface Condition {
  type?: string;
  status?: string;
  lastTransitionTime?: string;
}

/** An IntOrString of the strategy against `total`: an integer as is, "N%" of total rounded up. */
export function scaledValue(value: IntOrPercent, total: number): number {
  if (typeof value === "number") return value;
  const percent = typeof value === "string" ? /^(\d+)%$/.exec(value) : null;
  if (percent) return Math.ceil((Number(percent[1]) * total) / 100);
  return 0;
}

/**
 * Nodes that may be without an available pod during the update. A surge (maxSurge) is not
 * done: with maxUnavailable 0 the update still replaces one node at a time.
 */
export function maxUnavailableOf(daemonSet: KubeObject, desired: number): number {
  const strategy = (daemonSet.spec as { updateStrategy?: { rollingUpdate?: { maxUnavailable?: IntOrPercent } } } | undefined)?.updateStrategy;
  const scaled = scaledValue(strategy?.rollingUpdate?.maxUnavailable ?? 1, desired);
  return desired > 0 ? Math.max(1, scaled) : scaled;
}

export function isRollingUpdate(daemonSet: KubeObject): boolean {
  const type = (daemonSet.spec as { updateStrategy?: { type?: string } } | undefined)?.updateStrategy?.type;
  return (type ?? "RollingUpdate") === "RollingUpdate";
}

function readyCondition(pod: KubeObject): Condition | undefined {
  const conditions = (pod.status as { conditions?: Condition[] } | undefined)?.conditions ?? [];
  return conditions.find((condition) => condition.type === "Ready");
}

export function isPodReady(pod: KubeObject): boolean {
  return readyCondition(pod)?.status === "True";
}

/**
 * Milliseconds until a ready pod counts as available (0: it is), or undefined while it is not
 * ready. Available = Ready for at least minReadySeconds.
 */
export function untilAvailableMs(pod: KubeObject, minReadySeconds: number, now: Date): number | undefined {
  const ready = readyCondition(pod);
  if (ready?.status !== "True") return undefined;
  if (minReadySeconds <= 0) return 0;
  const since = Date.parse(ready.lastTransitionTime ?? "");
  if (Number.isNaN(since)) return undefined;
  return Math.max(0, since + minReadySeconds * 1000 - now.getTime());
}

export function isPodAvailable(pod: KubeObject, minReadySeconds: number, now: Date): boolean {
  return untilAvailableMs(pod, minReadySeconds, now) === 0;
}

/** The DaemonSet's pods on one node, oldest first (terminating ones included). */
export interface NodePods {
  nodeName: string;
  pods: KubeObject[];
}

/**
 * The old pods to delete now. A node counts as unavailable when it has no live pod, more than
 * one pod of a kind, or a new pod not yet available; an old pod that is not available is
 * replaced at once; available old pods are deleted while fewer than `maxUnavailable` nodes are
 * unavailable. `nodes` lists every node that should run the pod or has one, in a stable order.
 */
export function rollingUpdateDeletions(
  nodes: readonly NodePods[],
  maxUnavailable: number,
  isUpdated: (pod: KubeObject) => boolean,
  isAvailable: (pod: KubeObject) => boolean,
): KubeObject[] {
  let unavailable = 0;
  const replaceNow: KubeObject[] = [];
  const candidates: KubeObject[] = [];
  for (const { pods } of nodes) {
    const live = pods.filter((pod) => pod.metadata.deletionTimestamp === undefined);
    const fresh = live.filter(isUpdated);
    const old = live.filter((pod) => !isUpdated(pod));
    if (fresh.length > 1 || old.length > 1 || fresh.length === old.length) {
      unavailable += 1;
    } else if (fresh[0] !== undefined) {
      if (!isAvailable(fresh[0])) unavailable += 1;
    } else if (old[0] !== undefined) {
      if (!isAvailable(old[0])) replaceNow.push(old[0]);
      else if (unavailable < maxUnavailable) candidates.push(old[0]);
    }
  }
  const budget = Math.min(Math.max(0, maxUnavailable - unavailable), candidates.length);
  return [...replaceNow, ...candidates.slice(0, budget)];
}
