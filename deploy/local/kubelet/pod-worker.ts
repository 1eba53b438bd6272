/**
 * One pod on its node, driven as the kubelet's pod worker drives it: each sync makes the
 * pod's volumes, then its sandbox (CNI ADD, retried with back-off), then runs the init
 * containers one after the other (each must exit 0) and then the containers, restarting
 * them per restartPolicy with the crash back-off, and writes the resulting status. Syncs
 * never overlap; anything that changes (a watch event, a container dying, a probe result, a
 * back-off expiring) asks for another. Deletion — a DELETED event, or deletionTimestamp
 * set — stops the containers, runs CNI DEL, removes the pod's files and, for a graceful
 * deletion, deletes the pod object for good.
 */
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { ContainerSlot, adoptRuns } from "./container-slot.ts";
import { startOrBackOff } from "./container-start.ts";
import { SerialRunner } from "./serial-runner.ts";
import { KubeApiError } from "./api.ts";
import type { NodeContext } from "./node-context.ts";
import type { Container, Pod, RestartPolicy } from "./pod-types.ts";
import { computePodStatus, type PodView } from "./pod-status.ts";
import type { PsEntry } from "./podman.ts";
import { attachProbes } from "./pod-probes.ts";
import type { Sandbox } from "./sandbox.ts";
import { configMapsOfVolumes, prepareVolumes } from "./volume-setup.ts";
import { podDir, podVolumes, type VolumeSource } from "./volumes.ts";

export function shouldRestart(policy: RestartPolicy, exitCode: number): boolean {
  return policy === "Always" || (policy === "OnFailure" && exitCode !== 0);
}

function newerOrSame(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return true;
  return Number(a) >= Number(b);
}

export class PodWorker {
  readonly uid: string;
  readonly init: ContainerSlot[];
  readonly app: ContainerSlot[];
  private volumes: Map<string, VolumeSource> | undefined;
  private sandbox: Sandbox | undefined;
  private sandboxRetryAt = 0;
  private startTimeMs: number | undefined;
  private lastStatus = "";
  private finished = false;
  private deletedFromApi = false;
  private gone = false;
  private readonly runner: SerialRunner;

  constructor(
    private readonly ctx: NodeContext,
    public pod: Pod,
    private readonly onGone: (uid: string) => void,
  ) {
    this.uid = pod.metadata.uid ?? "";
    const name = (c: { name?: string }) => ctx.containerName(this.uid, pod.metadata.namespace ?? "default", pod.metadata.name ?? "", c.name ?? "");
    const slot = (init: boolean) => (c: Container, i: number) => {
      const s = new ContainerSlot(c, init, i);
      try {
        s.podmanName = name(c);
      } catch (err) {
        s.waiting = { reason: "CreateContainerConfigError", message: (err as Error).message };
      }
      return s;
    };
    this.runner = new SerialRunner(() => this.sync(), (err) => {
      ctx.log.error({ pod: this.key, error: (err as Error).message }, "pod sync failed");
      this.wakeAt(Date.now() + 2000);
    });
    this.init = (pod.spec?.initContainers ?? []).map(slot(true));
    this.app = (pod.spec?.containers ?? []).map(slot(false));
  }

  get hostNetwork(): boolean {
    return this.pod.spec?.hostNetwork === true;
  }

  get policy(): RestartPolicy {
    return this.pod.spec?.restartPolicy ?? "Always";
  }

  get dir(): string {
    return podDir(this.ctx.paths, this.uid);
  }

  get slots(): ContainerSlot[] {
    return [...this.init, ...this.app];
  }

  get podIP(): string | undefined {
    return this.hostNetwork ? this.ctx.hostIP : this.sandbox?.podIP;
  }

  get netnsPath(): string {
    return this.hostNetwork ? `/run/netns/${this.ctx.nodeNetns}` : (this.sandbox?.netnsPath ?? "");
  }

  update(pod: Pod): void {
    if (!newerOrSame(pod.metadata.resourceVersion, this.pod.metadata.resourceVersion)) return;
    this.pod = pod;
    this.kick();
  }

  deleted(pod: Pod): void {
    this.pod = pod;
    this.deletedFromApi = true;
    this.kick();
  }

  /** A container of this pod exited (podman's died event, or a relist that found it exited). */
  containerDied(id: string, exitCode: number, atMs: number): void {
    const slot = this.slots.find((s) => s.current?.id === id && s.current.running);
    if (!slot) return;
    slot.died(exitCode, atMs);
    this.kick();
  }

  /** The runtime's view after a kubelet restart: containers and sandbox this pod already has; returns runs to remove. */
  adopt(entries: readonly PsEntry[], sandbox: Sandbox | undefined): PsEntry[] {
    // Containers whose sandbox is gone are in a dead namespace: they go, the pod starts over.
    if (!this.hostNetwork && !sandbox) return [...entries];
    this.sandbox = sandbox;
    if (existsSync(this.dir)) this.volumes = podVolumes(this.pod, this.ctx.paths);
    const stale = adoptRuns(this.slots, entries);
    for (const slot of this.slots) if (slot.running) attachProbes(this, slot, slot.current?.startedAtMs ?? Date.now());
    return stale;
  }

  get volumeSources(): ReadonlyMap<string, VolumeSource> {
    return this.volumes ?? new Map();
  }

  get context(): NodeContext {
    return this.ctx;
  }

  kick(): void {
    if (!this.gone) this.runner.kick();
  }

  get key(): string {
    return `${this.pod.metadata.namespace}/${this.pod.metadata.name}`;
  }

  wakeAt(ms: number): void {
    if (!this.gone) this.runner.wakeAt(ms);
  }

  /** Resolves when no sync runs. */
  idle(): Promise<void> {
    return this.runner.idle();
  }

  private async sync(): Promise<void> {
    if (this.ctx.stopping() !== "no") return;
    if (this.deletedFromApi || this.pod.metadata.deletionTimestamp) return this.terminate();
    const now = Date.now();
    this.startTimeMs ??= now;
    if (this.finished) return this.writeStatus();
    if (!(await this.prepare(now))) return this.writeStatus();
    // The images are looked up while the sandbox is made (nothing is pulled: a local lookup).
    for (const s of this.slots) if (!s.current) void this.ctx.images.resolve(s.image).catch(() => {});
    if (!this.hostNetwork && !this.sandbox && !(await this.createSandbox(now))) return this.writeStatus();
    for (const slot of this.init) {
      if (slot.running) return this.writeStatus();
      const exited = slot.exited;
      if (exited?.exitCode === 0) continue;
      if (exited && this.policy === "Never") {
        await this.finish();
        return this.writeStatus();
      }
      await startOrBackOff(this, slot);
      return this.writeStatus();
    }
    for (const slot of this.app) {
      const exited = slot.exited;
      if (slot.running || (exited && !shouldRestart(this.policy, exited.exitCode ?? 0))) continue;
      await startOrBackOff(this, slot);
    }
    if (this.app.every((s) => s.exited && !shouldRestart(this.policy, s.exited.exitCode ?? 0))) await this.finish();
    return this.writeStatus();
  }

  /** Volumes in place; false (retried later) when one cannot be made. */
  private async prepare(now: number): Promise<boolean> {
    if (this.volumes) return true;
    try {
      const volumes = podVolumes(this.pod, this.ctx.paths);
      const configMaps = await this.ctx.api.configMaps(this.pod.metadata.namespace, configMapsOfVolumes(volumes));
      mkdirSync(this.dir, { recursive: true });
      prepareVolumes(volumes, configMaps);
      this.volumes = volumes;
      return true;
    } catch (err) {
      this.ctx.events.record(this.pod, "Warning", "FailedMount", `MountVolume.SetUp failed: ${(err as Error).message}`);
      this.wakeAt(now + this.ctx.setupRetry.next(`${this.uid}/volumes`, now));
      return false;
    }
  }

  private async createSandbox(now: number): Promise<boolean> {
    if (now < this.sandboxRetryAt) {
      this.wakeAt(this.sandboxRetryAt);
      return false;
    }
    try {
      this.sandbox = await this.ctx.sandboxes.create(this.pod);
      this.ctx.setupRetry.reset(`${this.uid}/sandbox`);
      return true;
    } catch (err) {
      const e = err as Error & { code?: string | number };
      if (e.code === "KUBELET_CNI_NOT_READY") this.ctx.events.record(this.pod, "Warning", "NetworkNotReady", e.message);
      else this.ctx.events.record(this.pod, "Warning", "FailedCreatePodSandBox", `Failed to create pod sandbox: ${e.message}`);
      this.sandboxRetryAt = Date.now() + this.ctx.setupRetry.next(`${this.uid}/sandbox`, now);
      this.wakeAt(this.sandboxRetryAt);
      return false;
    }
  }

  /** The network became ready: a sandbox waiting for its next try gets it now. */
  networkReady(): void {
    if (this.sandbox || this.hostNetwork || this.sandboxRetryAt === 0) return;
    this.sandboxRetryAt = 0;
    this.ctx.setupRetry.reset(`${this.uid}/sandbox`);
    this.kick();
  }

  /** The pod is done (Succeeded/Failed): its network goes, its containers' records stay. */
  private async finish(): Promise<void> {
    this.finished = true;
    for (const s of this.slots) s.stopProbes();
    if (this.sandbox) {
      await this.ctx.sandboxes.destroy(this.pod).catch((e: Error) => this.ctx.log.warn({ pod: this.key, error: e.message }, "CNI DEL of a finished pod failed"));
    }
  }

  view(): PodView {
    const initDone = this.init.every((s) => s.exited?.exitCode === 0);
    const waitingFor = (s: ContainerSlot) => (!s.current && !s.waiting && (s.init || !initDone) ? { waiting: { reason: "PodInitializing" } } : {});
    return {
      init: this.init.map((s) => ({ ...s.view(), ...waitingFor(s), ready: s.exited?.exitCode === 0 })),
      app: this.app.map((s) => ({ ...s.view(), ...waitingFor(s), ready: s.running && s.ready })),
      hostIP: this.ctx.hostIP,
      ...(this.podIP ? { podIP: this.podIP } : {}),
      ...(this.startTimeMs === undefined ? {} : { startTimeMs: this.startTimeMs }),
      finished: this.finished,
    };
  }

  async writeStatus(): Promise<void> {
    if (this.gone || this.deletedFromApi) return;
    const status = computePodStatus(this.pod, this.view(), Date.now());
    const json = JSON.stringify(status);
    if (json === this.lastStatus) return;
    try {
      const updated = await this.ctx.api.patchPodStatus(this.pod, status);
      this.lastStatus = json;
      if (newerOrSame(updated.metadata.resourceVersion, this.pod.metadata.resourceVersion)) this.pod = updated;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return;
      this.ctx.log.warn({ pod: this.key, error: (err as Error).message }, "pod status write failed; retrying");
      this.wakeAt(Date.now() + 1000);
    }
  }

  private gracePeriodSeconds(): number {
    return this.pod.metadata.deletionGracePeriodSeconds ?? this.pod.spec?.terminationGracePeriodSeconds ?? 30;
  }

  /** Deleted: containers stopped (Killing), CNI DEL (retried until it succeeds), files removed, the object deleted for good. */
  private async terminate(): Promise<void> {
    const grace = this.gracePeriodSeconds();
    for (const s of this.slots) {
      s.stopProbes();
      if (s.running) this.ctx.events.record(this.pod, "Normal", "Killing", `Stopping container ${s.name}`, s.ref);
    }
    await this.removeContainers(grace);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.ctx.sandboxes.destroy(this.pod);
        break;
      } catch (err) {
        this.ctx.log.warn({ pod: this.key, error: (err as Error).message, attempt }, "CNI DEL failed; retrying");
        if (this.ctx.stopping() !== "no") return;
        await Bun.sleep(Math.min(1000 * 2 ** attempt, 30_000));
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
    if (!this.deletedFromApi) await this.ctx.api.deletePodNow(this.pod).catch((e: Error) => this.ctx.log.warn({ pod: this.key, error: e.message }, "final delete failed"));
    this.close();
  }

  private async removeContainers(graceSeconds: number): Promise<void> {
    const names = this.slots.map((s) => s.podmanName).filter((n) => n !== "");
    const results = await Promise.allSettled(names.map((n) => this.ctx.podman.remove(n, graceSeconds)));
    for (const r of results) if (r.status === "rejected") this.ctx.log.warn({ pod: this.key, error: String(r.reason) }, "container removal failed");
  }

  /** The kubelet stops: containers and sandbox go (leave: they stay for the next kubelet). */
  async shutdown(leave: boolean): Promise<string[]> {
    for (const s of this.slots) s.stopProbes();
    this.close();
    await this.idle();
    if (leave) return [];
    const problems: string[] = [];
    await this.removeContainers(Math.min(this.gracePeriodSeconds(), 2));
    if (!this.hostNetwork) await this.ctx.sandboxes.destroy(this.pod).catch((e: Error) => problems.push(`${this.key}: CNI DEL: ${e.message}`));
    return problems;
  }

  private close(): void {
    if (this.gone) return;
    this.gone = true;
    this.runner.close();
    this.ctx.restarts.resetPrefix(`${this.uid}/`);
    this.ctx.setupRetry.resetPrefix(`${this.uid}/`);
    this.onGone(this.uid);
  }
}
