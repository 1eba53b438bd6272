// One container of a pod as the kubelet tracks it across its runs — restart count, current
// and previous run, why it waits, its probes — and how a run of it is started: image (or the
// busybox root filesystem), environment, mounts, capabilities, log file, then `podman run`.
import { mkdirSync } from "node:fs";
import { containerArgsSpec } from "./container-spec.ts";
import { configMapsReferenced } from "./env.ts";
import { LOG_MAX_SIZE, containerLogDir, containerLogPath, pruneLogs } from "./logs.ts";
import type { NodeContext } from "./node-context.ts";
import type { ConfigMap, Container, Pod } from "./pod-types.ts";
import type { ContainerRun, ContainerView } from "./pod-status.ts";
import type { ProbeLoop } from "./probe-loop.ts";
import { PodmanError } from "./podman.ts";
import { runArgs } from "./container-args.ts";
import type { VolumeSource } from "./volumes.ts";

export class ContainerSlot {
  podmanName = "";
  image: string;
  imageID = "";
  restartCount = 0;
  current?: ContainerRun;
  previous?: ContainerRun;
  waiting?: { reason: string; message?: string };
  /** Not before this time (ms) is the container started again. */
  retryAt = 0;
  probes: ProbeLoop[] = [];
  ready = false;
  started = false;
  /** Set while the kubelet kills it (liveness failure, deletion). */
  killing = false;

  constructor(
    readonly spec: Container,
    readonly init: boolean,
    readonly index: number,
  ) {
    this.image = spec.image ?? "";
  }

  get name(): string {
    return this.spec.name ?? "";
  }

  get field(): string {
    return `spec.${this.init ? "initContainers" : "containers"}[${this.index}]`;
  }

  /** The container in events' fieldPath terms. */
  get ref(): { name: string; init: boolean } {
    return { name: this.name, init: this.init };
  }

  get running(): boolean {
    return this.current?.running === true;
  }

  get exited(): ContainerRun | undefined {
    return this.current && !this.current.running ? this.current : undefined;
  }

  view(): ContainerView {
    return {
      name: this.name,
      image: this.image,
      imageID: this.imageID,
      restartCount: this.restartCount,
      ...(this.current ? { current: this.current } : {}),
      ...(this.previous ? { previous: this.previous } : {}),
      ...(this.waiting ? { waiting: this.waiting } : {}),
      ready: this.ready,
      started: this.started,
    };
  }

  stopProbes(): void {
    for (const p of this.probes) p.stop();
    this.probes = [];
  }

  /** The run ended (died event or relist). */
  died(exitCode: number, finishedAtMs: number): void {
    if (!this.current?.running) return;
    this.current = { ...this.current, running: false, exitCode, finishedAtMs };
    this.ready = false;
    this.killing = false;
    this.stopProbes();
  }
}

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
  const configMaps = new Map<string, ConfigMap>();
  for (const name of configMapsReferenced(slot.spec)) {
    const cm = await ctx.api.getConfigMap(pod.metadata.namespace, name);
    if (cm) configMaps.set(name, cm);
  }
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
  if (exited) {
    await ctx.podman.remove(exited.id, 0);
    slot.previous = exited;
    slot.restartCount = attempt;
  }
  slot.current = undefined;
  let id: string;
  try {
    id = await ctx.podman.runDetached(runArgs(spec));
  } catch (err) {
    // A container left by a crashed kubelet or a failed start holds the name: remove it, once.
    if (!(err instanceof PodmanError && /already in use/.test(err.stderr))) throw err;
    await ctx.podman.remove(slot.podmanName, 0);
    id = await ctx.podman.runDetached(runArgs(spec));
  }
  slot.current = { id, running: true, startedAtMs: Date.now() };
  slot.waiting = undefined;
  slot.started = false;
  ctx.events.record(pod, "Normal", "Created", `Created container ${slot.name}`, slot.ref);
  ctx.events.record(pod, "Normal", "Started", `Started container ${slot.name}`, slot.ref);
}
