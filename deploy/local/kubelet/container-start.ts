// Starting a container's next run: after the crash back-off when its last run failed,
// then image (or the busybox root filesystem), environment, mounts, capabilities, log file,
// `podman run`, and its probes. A failure to start is the container's waiting reason
// (CreateContainerConfigError, RunContainerError) and a Failed event, retried with back-off.
import { mkdirSync } from "node:fs";
import { runArgs } from "./container-args.ts";
import type { ContainerSlot } from "./container-slot.ts";
import { containerArgsSpec } from "./container-spec.ts";
import { configMapsReferenced } from "./env.ts";
import { LOG_MAX_SIZE, containerLogDir, containerLogPath, pruneLogs } from "./logs.ts";
import type { NodeContext } from "./node-context.ts";
import { attachProbes, checkProbes, type ProbedPod } from "./pod-probes.ts";
import type { Pod } from "./pod-types.ts";
import { PodmanError } from "./podman.ts";
import type { VolumeSource } from "./volumes.ts";

export interface StartInputs {
  ctx: NodeContext;
  pod: Pod;
  slot: ContainerSlot;
  volumes: ReadonlyMap<string, VolumeSource>;
  podDir: string;
  podIP: string | undefined;
  netnsPath: string;
}

/**
 * Starts the slot's next run (replacing an exited one, whose record becomes `previous`).
 * Throws errors whose `reason` is the waiting reason to report.
 */
export async function startRun(inp: StartInputs): Promise<void> {
  const { ctx, pod, slot } = inp;
  const resolved = await ctx.images.resolve(slot.image);
  slot.imageID = resolved.imageID;
  ctx.events.record(pod, "Normal", "Pulled", resolved.local
    ? `Container image "${slot.image}" already present on machine`
    : `Container image "${slot.image}" is not on this machine (nothing is pulled here): running it on the busybox root filesystem`, slot.ref);
  const configMaps = await ctx.api.configMaps(pod.metadata.namespace, configMapsReferenced(slot.spec));
  const attempt = slot.exited ? slot.restartCount + 1 : slot.restartCount;
  const logDir = containerLogDir(inp.podDir, slot.name);
  const spec = containerArgsSpec({
    ctx,
    pod,
    slot,
    attempt,
    configMaps,
    volumes: inp.volumes,
    podIP: inp.podIP,
    netnsPath: inp.netnsPath,
    root: resolved.root,
    logPath: containerLogPath(inp.podDir, slot.name, attempt),
    logMaxSize: LOG_MAX_SIZE,
  });
  mkdirSync(logDir, { recursive: true });
  pruneLogs(logDir, attempt - 1);
  // The previous run's container goes; its state stays in `previous`, its log on disk.
  const exited = slot.exited;
  const id = await ctx.starts.run(async () => {
    if (exited) {
      await ctx.podman.remove(exited.id, 0);
      slot.previous = exited;
      slot.restartCount = attempt;
    }
    slot.current = undefined;
    try {
      return await ctx.podman.runDetached(runArgs(spec));
    } catch (err) {
      // A container left by a crashed kubelet or a failed start holds the name: remove it, once.
      if (!(err instanceof PodmanError && /already in use/.test(err.stderr))) throw err;
      await ctx.podman.remove(slot.podmanName, 0);
      return ctx.podman.runDetached(runArgs(spec));
    }
  });
  slot.current = { id, running: true, startedAtMs: Date.now() };
  slot.waiting = undefined;
  slot.started = false;
  ctx.events.record(pod, "Normal", "Created", `Created container ${slot.name}`, slot.ref);
  ctx.events.record(pod, "Normal", "Started", `Started container ${slot.name}`, slot.ref);
}

/** What starting a container needs of its pod worker. */
export interface RunningPod extends ProbedPod {
  readonly uid: string;
  readonly dir: string;
  readonly netnsPath: string;
  readonly volumeSources: ReadonlyMap<string, VolumeSource>;
  wakeAt(ms: number): void;
}

/** Starts the slot's next run, or leaves it waiting (CrashLoopBackOff, a retry) and asks to be woken. */
export async function startOrBackOff(w: RunningPod, slot: ContainerSlot): Promise<void> {
  const ctx = w.context;
  const now = Date.now();
  const exited = slot.exited;
  const pod = w.pod;
  const podRef = `${pod.metadata.name}_${pod.metadata.namespace}(${w.uid})`;
  if (exited) {
    const key = `${w.uid}/${slot.name}`;
    const at = ctx.restarts.retryAt(key, exited.finishedAtMs ?? now);
    if (at > now) {
      const delay = Math.round((ctx.restarts.get(key)?.delayMs ?? 0) / 1000);
      if (slot.waiting?.reason !== "CrashLoopBackOff") ctx.events.record(pod, "Warning", "BackOff", `Back-off restarting failed container ${slot.name} in pod ${podRef}`, slot.ref);
      slot.waiting = { reason: "CrashLoopBackOff", message: `back-off ${delay}s restarting failed container=${slot.name} pod=${podRef}` };
      w.wakeAt(at);
      return;
    }
    ctx.restarts.next(key, now);
  } else if (slot.retryAt > now) {
    w.wakeAt(slot.retryAt);
    return;
  }
  try {
    if (!slot.podmanName) throw Object.assign(new Error(slot.waiting?.message ?? `${slot.field}.name: invalid`), { reason: "CreateContainerConfigError" });
    checkProbes(slot);
    await startRun({ ctx, pod, slot, volumes: w.volumeSources, podDir: w.dir, podIP: w.podIP, netnsPath: w.netnsPath });
    attachProbes(w, slot, slot.current?.startedAtMs ?? now);
  } catch (err) {
    const e = err as Error & { reason?: string };
    slot.waiting = { reason: e.reason ?? "RunContainerError", message: e.message };
    ctx.events.record(pod, "Warning", "Failed", `Error: ${e.message}`, slot.ref);
    slot.retryAt = now + ctx.setupRetry.next(`${w.uid}/${slot.name}/start`, now);
    w.wakeAt(slot.retryAt);
  }
}
