// One container of a pod as the kubelet tracks it across its runs: restart count, current
// and previous run, why it waits, its probes.
import { LABEL } from "./names.ts";
import type { Container } from "./pod-types.ts";
import type { ContainerRun, ContainerView } from "./pod-status.ts";
import type { PsEntry } from "./podman.ts";
import type { ProbeLoop } from "./probe-loop.ts";

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

/**
 * After a kubelet restart: each slot takes the latest run podman still has of it (by the
 * container's labels); the older runs are returned, to be removed.
 */
export function adoptRuns(slots: readonly ContainerSlot[], entries: readonly PsEntry[]): PsEntry[] {
  const stale: PsEntry[] = [];
  for (const slot of slots) {
    const mine = entries
      .filter((e) => e.labels[LABEL.container] === slot.name && e.labels[LABEL.kind] === (slot.init ? "init" : "app"))
      .sort((a, b) => Number(b.labels[LABEL.attempt] ?? 0) - Number(a.labels[LABEL.attempt] ?? 0));
    const [latest, ...older] = mine;
    stale.push(...older);
    if (!latest) continue;
    slot.podmanName = latest.name;
    slot.restartCount = Number(latest.labels[LABEL.attempt] ?? 0);
    slot.current = { id: latest.id, running: latest.running, startedAtMs: latest.startedAtMs, exitCode: latest.exitCode, ...(latest.running ? {} : { finishedAtMs: latest.exitedAtMs }) };
  }
  return stale;
}
