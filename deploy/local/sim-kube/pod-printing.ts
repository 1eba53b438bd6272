// The READY, STATUS and RESTARTS cells of `kubectl get pods`, derived from a pod's status as
// the API server's printer derives them (Init:0/1, ContainerCreating, CrashLoopBackOff,
// Completed, Terminating, "2 (5m ago)"). Pure.
import type { KubeObject } from "./validate.ts";

type Loose = Record<string, unknown>;

interface ContainerState {
  waiting?: { reason?: string };
  running?: { startedAt?: string };
  terminated?: { reason?: string; exitCode?: number; signal?: number; finishedAt?: string };
}

interface ContainerStatus {
  name?: string;
  ready?: boolean;
  restartCount?: number;
  state?: ContainerState;
  lastState?: ContainerState;
}

function isRecord(value: unknown): value is Loose {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function statusesOf(pod: KubeObject, key: "containerStatuses" | "initContainerStatuses"): ContainerStatus[] {
  const status = isRecord(pod.status) ? pod.status : {};
  const list = status[key];
  return Array.isArray(list) ? (list.filter(isRecord) as ContainerStatus[]) : [];
}

function countOf(pod: KubeObject, key: "containers" | "initContainers"): number {
  const spec = isRecord(pod.spec) ? pod.spec : {};
  const list = spec[key];
  return Array.isArray(list) ? list.length : 0;
}

/** Kubernetes' short duration (duration.HumanDuration): 45s, 3m20s, 12m, 5h30m, 2d4h, 30d. */
export function humanDuration(seconds: number): string {
  if (seconds < 0) seconds = 0;
  if (seconds < 120) return `${Math.floor(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${Math.floor(seconds % 60)}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(seconds / 3600);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 192) return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${Math.floor(days / 365)}y` : `${Math.floor(days / 365)}y${days % 365}d`;
  return `${Math.floor(days / 365)}y`;
}

export function podReadyCell(pod: KubeObject): string {
  const ready = statusesOf(pod, "containerStatuses").filter((status) => status.ready === true).length;
  return `${ready}/${countOf(pod, "containers")}`;
}

function terminatedReason(terminated: NonNullable<ContainerState["terminated"]>): string {
  if (terminated.reason) return terminated.reason;
  return terminated.signal ? `Signal:${terminated.signal}` : `ExitCode:${terminated.exitCode ?? 0}`;
}

/** The reason an init container holds the pod back, or undefined once they all succeeded. */
function initReason(pod: KubeObject): string | undefined {
  const statuses = statusesOf(pod, "initContainerStatuses");
  const total = countOf(pod, "initContainers");
  for (const [index, status] of statuses.entries()) {
    const { terminated, waiting } = status.state ?? {};
    if (terminated && terminated.exitCode === 0) continue;
    if (terminated) return `Init:${terminatedReason(terminated)}`;
    if (waiting?.reason && waiting.reason !== "PodInitializing") return `Init:${waiting.reason}`;
    return `Init:${index}/${total}`;
  }
  return undefined;
}

export function podStatusCell(pod: KubeObject): string {
  const status = isRecord(pod.status) ? pod.status : {};
  let reason = typeof status.reason === "string" && status.reason !== "" ? status.reason : String(status.phase ?? "Unknown");
  const init = initReason(pod);
  if (init !== undefined) {
    reason = init;
  } else {
    let running = false;
    for (const container of [...statusesOf(pod, "containerStatuses")].reverse()) {
      const { waiting, terminated, running: isRunning } = container.state ?? {};
      if (waiting?.reason) reason = waiting.reason;
      else if (terminated) reason = terminatedReason(terminated);
      else if (isRunning && container.ready) running = true;
    }
    if (reason === "Completed" && running) reason = "Running";
  }
  if (pod.metadata.deletionTimestamp !== undefined) return status.reason === "NodeLost" ? "Unknown" : "Terminating";
  return reason;
}

export function podRestartsCell(pod: KubeObject, now: Date): string {
  const init = initReason(pod) !== undefined;
  const statuses = init ? statusesOf(pod, "initContainerStatuses") : statusesOf(pod, "containerStatuses");
  let restarts = 0;
  let last: number | undefined;
  for (const status of statuses) {
    restarts += status.restartCount ?? 0;
    const finished = status.lastState?.terminated?.finishedAt;
    if (finished !== undefined) last = Math.max(last ?? 0, Date.parse(finished));
  }
  if (restarts === 0 || last === undefined) return String(restarts);
  return `${restarts} (${humanDuration((now.getTime() - last) / 1000)} ago)`;
}
