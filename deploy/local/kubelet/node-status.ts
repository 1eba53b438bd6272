// The Node's conditions as the kubelet reports them. Ready follows the container runtime's
// network readiness — a CNI configuration in the node's conf dir — as on a real node, where
// a node without one reports "container runtime network not ready ... cni plugin not
// initialized". Transition times are kept while a condition holds; the heartbeat time is
// the report's. Pure.
import { kubeTime } from "./pod-types.ts";

export interface NodeCondition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastHeartbeatTime: string;
  lastTransitionTime: string;
}

export const NETWORK_NOT_READY =
  "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized";

type Fixed = Omit<NodeCondition, "lastHeartbeatTime" | "lastTransitionTime">;

export function nodeConditions(previous: readonly Partial<NodeCondition>[] | undefined, networkReady: boolean, nowMs: number): NodeCondition[] {
  const now = kubeTime(nowMs);
  const fixed: Fixed[] = [
    { type: "MemoryPressure", status: "False", reason: "KubeletHasSufficientMemory", message: "kubelet has sufficient memory available" },
    { type: "DiskPressure", status: "False", reason: "KubeletHasNoDiskPressure", message: "kubelet has no disk pressure" },
    { type: "PIDPressure", status: "False", reason: "KubeletHasSufficientPID", message: "kubelet has sufficient PID available" },
    networkReady
      ? { type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status" }
      : { type: "Ready", status: "False", reason: "KubeletNotReady", message: NETWORK_NOT_READY },
  ];
  return fixed.map((c) => {
    const before = previous?.find((p) => p.type === c.type);
    const kept = before?.status === c.status && typeof before.lastTransitionTime === "string" ? before.lastTransitionTime : now;
    return { ...c, lastHeartbeatTime: now, lastTransitionTime: kept };
  });
}

/** The Ready condition a node has before its kubelet first reports (registered, network unknown). */
export function registeredNotReady(nowMs: number): NodeCondition {
  const now = kubeTime(nowMs);
  return { type: "Ready", status: "False", reason: "KubeletNotReady", message: NETWORK_NOT_READY, lastHeartbeatTime: now, lastTransitionTime: now };
}
