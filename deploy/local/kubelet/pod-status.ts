// The pod status the kubelet reports, computed from what it knows of the pod's containers:
// phase as the kubelet's getPhase decides it, the four conditions with transition times
// kept while their status holds, and each container's state, lastState and counters. Pure.
import { kubeTime, type ContainerState, type ContainerStateTerminated, type ContainerStatus, type Pod, type PodCondition, type PodStatus, type RestartPolicy } from "./pod-types.ts";

/** One run of a container, as the runtime reports it. */
export interface ContainerRun {
  id: string;
  running: boolean;
  startedAtMs: number;
  finishedAtMs?: number;
  exitCode?: number;
}

export interface ContainerView {
  name: string;
  image: string;
  imageID: string;
  restartCount: number;
  /** The container's latest run (running, or exited and not yet replaced). */
  current?: ContainerRun;
  /** The run before `current` (lastState). */
  previous?: ContainerRun;
  /** Set while the container is not running for a reason (CrashLoopBackOff, ContainerCreating...). */
  waiting?: { reason: string; message?: string };
  ready: boolean;
  started: boolean;
}

export interface PodView {
  init: ContainerView[];
  app: ContainerView[];
  hostIP: string;
  podIP?: string;
  startTimeMs?: number;
  /** Set once the pod is done: containers are not restarted any more. */
  finished?: boolean;
}

export function terminatedOf(run: ContainerRun): ContainerStateTerminated {
  const exitCode = run.exitCode ?? 0;
  return {
    exitCode,
    reason: exitCode === 0 ? "Completed" : "Error",
    startedAt: kubeTime(run.startedAtMs),
    finishedAt: kubeTime(run.finishedAtMs ?? run.startedAtMs),
    containerID: containerIdOf(run),
  };
}

export function containerIdOf(run: ContainerRun): string {
  return `podman://${run.id}`;
}

export function containerState(v: ContainerView): { state: ContainerState; lastState: ContainerState } {
  const exited = v.current && !v.current.running ? v.current : undefined;
  const last = (run: ContainerRun | undefined): ContainerState => (run ? { terminated: terminatedOf(run) } : {});
  if (v.waiting) return { state: { waiting: { ...v.waiting } }, lastState: last(exited ?? v.previous) };
  if (v.current?.running) return { state: { running: { startedAt: kubeTime(v.current.startedAtMs) } }, lastState: last(v.previous) };
  if (exited) return { state: { terminated: terminatedOf(exited) }, lastState: last(v.previous) };
  return { state: { waiting: { reason: "ContainerCreating" } }, lastState: last(v.previous) };
}

export function containerStatus(v: ContainerView): ContainerStatus {
  const { state, lastState } = containerState(v);
  const status: ContainerStatus = { name: v.name, image: v.image, imageID: v.imageID, ready: v.ready, started: v.started, restartCount: v.restartCount, state, lastState };
  if (v.current) status.containerID = containerIdOf(v.current);
  return status;
}

/** Whether every init container has exited 0. */
export function initialized(view: PodView): boolean {
  return view.init.every((c) => c.current !== undefined && !c.current.running && c.current.exitCode === 0);
}

/** The kubelet's getPhase over the statuses it reports. */
export function podPhase(view: PodView, restartPolicy: RestartPolicy, statuses: ContainerStatus[]): NonNullable<PodStatus["phase"]> {
  const initFailed = view.init.some((c) => c.current && !c.current.running && (c.current.exitCode ?? 0) !== 0);
  if (initFailed && restartPolicy === "Never") return "Failed";
  if (!initialized(view)) return "Pending";
  let running = 0, waiting = 0, stopped = 0, succeeded = 0;
  for (const s of statuses) {
    if (s.state.running) running++;
    else if (s.state.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.lastState.terminated) stopped++;
    else waiting++;
  }
  if (waiting > 0) return "Pending";
  if (running > 0) return "Running";
  if (stopped === 0) return "Pending";
  if (restartPolicy === "Always" && !view.finished) return "Running";
  if (restartPolicy === "OnFailure" && stopped !== succeeded && !view.finished) return "Running";
  return stopped === succeeded ? "Succeeded" : "Failed";
}

function condition(type: string, ok: boolean, reason: string | undefined, message: string | undefined, previous: PodCondition[] | undefined, nowMs: number): PodCondition {
  const status = ok ? "True" : "False";
  const before = previous?.find((c) => c.type === type);
  const c: PodCondition = { type, status, lastProbeTime: null, lastTransitionTime: before?.status === status && before.lastTransitionTime ? before.lastTransitionTime : kubeTime(nowMs) };
  if (!ok && reason) c.reason = reason;
  if (!ok && message) c.message = message;
  return c;
}

export function computePodStatus(pod: Pod, view: PodView, nowMs: number): PodStatus {
  const restartPolicy = pod.spec?.restartPolicy ?? "Always";
  const initStatuses = view.init.map(containerStatus);
  const appStatuses = view.app.map(containerStatus);
  const phase = podPhase(view, restartPolicy, appStatuses);
  const previous = pod.status?.conditions;
  const done = phase === "Succeeded" || phase === "Failed";
  const incomplete = view.init.filter((c) => !(c.current && !c.current.running && c.current.exitCode === 0)).map((c) => c.name);
  const unready = view.app.filter((c) => !c.ready).map((c) => c.name);
  const allReady = unready.length === 0 && !done;
  const notReadyReason = done ? "PodCompleted" : "ContainersNotReady";
  const notReadyMessage = done ? undefined : `containers with unready status: [${unready.join(" ")}]`;
  const status: PodStatus = {
    phase,
    conditions: [
      condition("Initialized", incomplete.length === 0, "ContainersNotInitialized", `containers with incomplete status: [${incomplete.join(" ")}]`, previous, nowMs),
      condition("Ready", allReady, notReadyReason, notReadyMessage, previous, nowMs),
      condition("ContainersReady", allReady, notReadyReason, notReadyMessage, previous, nowMs),
      condition("PodScheduled", true, undefined, undefined, previous, nowMs),
    ],
    hostIP: view.hostIP,
    hostIPs: [{ ip: view.hostIP }],
  };
  if (view.podIP) {
    status.podIP = view.podIP;
    status.podIPs = [{ ip: view.podIP }];
  }
  const start = pod.status?.startTime ?? (view.startTimeMs === undefined ? undefined : kubeTime(view.startTimeMs));
  if (start) status.startTime = start;
  if (initStatuses.length > 0) status.initContainerStatuses = initStatuses;
  status.containerStatuses = appStatuses;
  return status;
}
