// A controller's pod writes with the events client-go's controllers record on their owner
// (SuccessfulCreate / FailedCreate / SuccessfulDelete, what `kubectl describe` lists).
import type { KubeObject } from "../sim-kube/validate.ts";
import { PODS } from "./cluster.ts";
import type { ClusterApi } from "./cluster.ts";
import type { EventRecorder } from "./events.ts";

export function createOwnedPod(cluster: ClusterApi, events: EventRecorder, owner: KubeObject, pod: KubeObject): KubeObject {
  try {
    const created = cluster.create(PODS, owner.metadata.namespace, pod);
    events.record(owner, "Normal", "SuccessfulCreate", `Created pod: ${created.metadata.name}`);
    return created;
  } catch (error) {
    events.record(owner, "Warning", "FailedCreate", `Error creating: ${(error as Error).message}`);
    throw error;
  }
}

/** A graceful delete of exactly that pod (its uid as precondition). */
export function deleteOwnedPod(cluster: ClusterApi, events: EventRecorder, owner: KubeObject, pod: KubeObject): void {
  cluster.delete(PODS, pod, { preconditions: { uid: pod.metadata.uid } });
  events.record(owner, "Normal", "SuccessfulDelete", `Deleted pod: ${pod.metadata.name}`);
}
