/**
 * The kubelet of one simulated node, running inside the `up` process: it watches the pods
 * bound to its node (spec.nodeName), runs each with a pod worker on podman, learns of
 * containers dying from podman's events (and a periodic relist, in case one is missed),
 * and owns its Node's status: Ready once a CNI configuration is in the node's conf dir,
 * with a heartbeat. After a restart it adopts the containers and sandboxes its predecessor
 * left running and removes those of pods that are gone.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { KubeApi, type PodEvent } from "./api.ts";
import { Backoff } from "./backoff.ts";
import { readFirstConflist } from "./cni-config.ts";
import { EventRecorder } from "./events.ts";
import { Images } from "./images.ts";
import { Limiter } from "./limiter.ts";
import { LABEL, assertDnsLabel, assertPodName, assertStackPrefix, assertUid, containerName } from "./names.ts";
import type { NodeContext } from "./node-context.ts";
import { nodeConditions, type NodeCondition } from "./node-status.ts";
import type { Pod } from "./pod-types.ts";
import { PodWorker } from "./pod-worker.ts";
import { Podman, type DiedEvent, type PsEntry } from "./podman.ts";
import { NetProber } from "./probes.ts";
import { NodeHost } from "./node-host.ts";
import { Sandboxes } from "./sandbox.ts";
import type { NodePaths } from "./volumes.ts";

export interface KubeletOptions {
  /** The stack's prefix (names of everything it creates start with it). */
  prefix: string;
  apiEndpoint: string;
  nodeIndex: number;
  nodeName: string;
  nodeNetns: string;
  hostIP: string;
  paths: NodePaths;
  /** The busybox root filesystem images that are not on the machine run on. */
  rootfs: string;
  containersConf: string;
  log: Logger;
  /** Crash back-off (a real kubelet: 10 s doubling to 5 min). */
  restartBackoff?: { baseMs: number; maxMs: number };
  /** Back-off of failed pod set-up: CNI ADD, volumes, container creation. */
  setupBackoff?: { baseMs: number; maxMs: number };
  heartbeatMs?: number;
  relistMs?: number;
  /** Containers started at once (default 3; the machine has 2 cores). */
  parallelStarts?: number;
}

type StopMode = "no" | "teardown" | "leave";

export class Kubelet {
  readonly ctx: NodeContext;
  private readonly api: KubeApi;
  private readonly podman: Podman;
  private readonly sandboxes: Sandboxes;
  private readonly events: EventRecorder;
  private readonly net: NetProber;
  private readonly workers = new Map<string, PodWorker>();
  private readonly names = new Map<string, string>();
  private readonly abort = new AbortController();
  private readonly timers: Array<ReturnType<typeof setInterval>> = [];
  private mode: StopMode = "no";
  private followDied: { stop(): void } | undefined;
  private inventory: PsEntry[] | undefined;
  private networkReady: boolean | undefined;
  private conditions: Partial<NodeCondition>[] | undefined;
  private relistTimer: ReturnType<typeof setTimeout> | undefined;
  private reporting: Promise<void> = Promise.resolve();
  private readonly stateDir: string;
  private host: NodeHost | undefined;

  constructor(readonly opts: KubeletOptions) {
    assertStackPrefix(opts.prefix);
    const stateDir = join(opts.paths.root, "kubelet");
    mkdirSync(stateDir, { recursive: true });
    const api = (this.api = new KubeApi(opts.apiEndpoint));
    const podman = (this.podman = new Podman(opts.containersConf, stateDir, opts.nodeNetns));
    const log = opts.log.child({ kubelet: opts.nodeName });
    this.stateDir = stateDir;
    // CNI plugins run on the node: its mount namespace (its /var/run/aws-node, /var/log/aws-routed-eni) and its network namespace.
    this.sandboxes = new Sandboxes({ prefix: opts.prefix, nodeNetns: opts.nodeNetns, cniBinDir: opts.paths.cniBinDir, cniConfDir: opts.paths.cniConfDir, stateDir, hostExec: () => this.requireHost().execPrefix });
    this.events = new EventRecorder(api, opts.nodeName, (m) => log.warn(m));
    this.net = new NetProber(opts.nodeNetns);
    const rb = opts.restartBackoff ?? { baseMs: 10_000, maxMs: 300_000 };
    const sb = opts.setupBackoff ?? { baseMs: 1000, maxMs: 30_000 };
    this.ctx = {
      prefix: opts.prefix,
      nodeIndex: opts.nodeIndex,
      nodeName: opts.nodeName,
      nodeNetns: opts.nodeNetns,
      hostIP: opts.hostIP,
      paths: opts.paths,
      api,
      events: this.events,
      podman,
      sandboxes: this.sandboxes,
      net: this.net,
      images: new Images(podman, opts.rootfs),
      restarts: new Backoff(rb.baseMs, rb.maxMs),
      setupRetry: new Backoff(sb.baseMs, sb.maxMs),
      starts: new Limiter(opts.parallelStarts ?? 3),
      log,
      containerName: (uid, ns, pod, container) => this.claimName(uid, ns, pod, container),
      stopping: () => this.mode,
      relist: () => this.relistSoon(),
    };
  }

  /** Reports the node, adopts what a previous kubelet left, lists the node's pods and runs them. */
  async start(): Promise<void> {
    const { podman } = this;
    const { log } = this.ctx;
    this.host = await NodeHost.start({ nodeNetns: this.opts.nodeNetns, runDir: this.opts.paths.runDir, logDir: this.opts.paths.logDir, stateDir: this.stateDir });
    this.inventory = await podman.list(this.nodeLabels());
    await this.reportNode(true);
    this.timers.push(setInterval(() => void this.reportNode(false), 1000));
    this.timers.push(setInterval(() => void this.reportNode(true), this.opts.heartbeatMs ?? 10_000));
    this.timers.push(setInterval(() => this.relistSoon(), this.opts.relistMs ?? 10_000));
    this.followDied = podman.followDied(this.nodeLabels(), (e) => this.onDied(e), (m) => log.warn(m));
    let synced!: () => void;
    const firstSync = new Promise<void>((resolve) => (synced = resolve));
    void this.api.watchNodePods(this.opts.nodeName, (e) => {
      this.onPodEvent(e);
      if (e.type === "SYNCED") synced();
    }, (m) => log.warn({ error: m }, "pod watch"), this.abort.signal);
    await Promise.race([firstSync, Bun.sleep(15_000)]);
  }

  private nodeLabels(): Record<string, string> {
    return { [LABEL.stack]: this.opts.prefix, [LABEL.node]: String(this.opts.nodeIndex) };
  }

  private claimName(uid: string, namespace: string, pod: string, container: string): string {
    const plain = containerName(this.opts.prefix, this.opts.nodeIndex, pod, container);
    const owner = this.names.get(plain);
    const name = owner === undefined || owner === uid ? plain : containerName(this.opts.prefix, this.opts.nodeIndex, pod, container, `${namespace}/${uid}`);
    this.names.set(name, uid);
    return name;
  }

  private onPodEvent(e: PodEvent): void {
    if (this.mode !== "no") return;
    if (e.type === "SYNCED") {
      const live = new Set(e.pods.map((p) => p.metadata.uid));
      for (const w of [...this.workers.values()]) if (!live.has(w.uid)) w.deleted(w.pod);
      for (const p of e.pods) this.podChanged(p);
      if (this.inventory) void this.collectOrphans(this.inventory, live);
      this.inventory = undefined;
      return;
    }
    if (e.type === "DELETED") {
      const w = this.workers.get(e.pod.metadata.uid ?? "");
      if (w) w.deleted(e.pod);
      else if (this.inventory === undefined) void this.forgetPod(e.pod);
      return;
    }
    this.podChanged(e.pod);
  }

  private podChanged(pod: Pod): void {
    const uid = pod.metadata.uid ?? "";
    const existing = this.workers.get(uid);
    if (existing) return existing.update(pod);
    try {
      // They name paths and namespaces on the node: nothing runs for a pod whose identity is not clean.
      assertUid(uid);
      assertPodName(pod.metadata.name);
      assertDnsLabel(pod.metadata.namespace ?? "default", "metadata.namespace");
    } catch (err) {
      this.ctx.log.error({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, error: (err as Error).message }, "pod not run");
      return;
    }
    const phase = pod.status?.phase;
    const terminal = phase === "Succeeded" || phase === "Failed";
    // A finished pod is not run again (after a restart); one being deleted still gets its teardown.
    if (terminal && !pod.metadata.deletionTimestamp) return;
    const w = new PodWorker(this.ctx, pod, (id) => this.workerGone(id));
    this.workers.set(uid, w);
    const mine = this.inventory?.filter((c) => c.labels[LABEL.uid] === uid) ?? [];
    if (mine.length > 0 || this.sandboxes.existing(uid)) {
      const stale = w.adopt(mine, this.sandboxes.existing(uid));
      for (const s of stale) void this.podman.remove(s.id, 0).catch(() => {});
    }
    w.kick();
  }

  private workerGone(uid: string): void {
    this.workers.delete(uid);
    for (const [name, owner] of [...this.names]) if (owner === uid) this.names.delete(name);
  }

  /** Containers and sandboxes of pods that no longer exist (deleted while no kubelet ran). */
  private async collectOrphans(inventory: PsEntry[], live: Set<string | undefined>): Promise<void> {
    const byUid = new Map<string, PsEntry>();
    for (const c of inventory) if (!live.has(c.labels[LABEL.uid])) byUid.set(c.labels[LABEL.uid] ?? "", c);
    for (const [uid, c] of byUid) {
      await this.forgetPod({ metadata: { uid, name: c.labels[LABEL.pod], namespace: c.labels[LABEL.namespace] } });
    }
    for (const record of this.sandboxes.recorded()) {
      if (!live.has(record.uid) && !byUid.has(record.uid)) await this.forgetPod({ metadata: { uid: record.uid, name: record.name, namespace: record.namespace } });
    }
  }

  /** Removes what the node still holds of a pod no worker runs: containers, sandbox (CNI DEL). */
  private async forgetPod(pod: Pod): Promise<void> {
    const uid = pod.metadata.uid ?? "";
    const { podman, sandboxes } = this;
    const { log } = this.ctx;
    try {
      for (const c of await podman.list({ ...this.nodeLabels(), [LABEL.uid]: uid })) await podman.remove(c.id, 0);
      await sandboxes.destroy(pod);
    } catch (err) {
      log.warn({ uid, error: (err as Error).message }, "removing an orphaned pod failed");
    }
  }

  private onDied(e: DiedEvent): void {
    if (e.labels[LABEL.node] !== String(this.opts.nodeIndex)) return;
    this.workers.get(e.labels[LABEL.uid] ?? "")?.containerDied(e.id, e.exitCode, Date.now());
  }

  private relistSoon(): void {
    if (this.relistTimer || this.mode !== "no") return;
    this.relistTimer = setTimeout(() => {
      this.relistTimer = undefined;
      void this.relist();
    }, 200);
  }

  /** Containers the workers believe running that podman says are not (a missed died event). */
  private async relist(): Promise<void> {
    let entries: PsEntry[];
    try {
      entries = await this.podman.list(this.nodeLabels());
    } catch (err) {
      this.ctx.log.warn({ error: (err as Error).message }, "relist failed");
      return;
    }
    const byId = new Map(entries.map((e) => [e.id, e]));
    for (const w of this.workers.values()) {
      for (const s of w.slots) {
        // One being killed is looked at once its stop returns (it asks for a relist then).
        const id = s.current?.running && !s.killing ? s.current.id : undefined;
        if (!id) continue;
        const e = byId.get(id);
        if (!e) w.containerDied(id, 137, Date.now());
        else if (!e.running) w.containerDied(id, e.exitCode, e.exitedAtMs || Date.now());
      }
    }
  }

  private reportNode(heartbeat: boolean): Promise<void> {
    this.reporting = this.reporting.then(async () => {
      if (this.mode !== "no") return;
      const ready = readFirstConflist(this.opts.paths.cniConfDir) !== undefined;
      if (!heartbeat && ready === this.networkReady) return;
      try {
        this.conditions ??= ((await this.api.getNode(this.opts.nodeName)).status?.conditions ?? []) as Partial<NodeCondition>[];
        const conditions = nodeConditions(this.conditions, ready, Date.now());
        await this.api.patchNodeStatus(this.opts.nodeName, { conditions });
        this.conditions = conditions;
        const becameReady = ready && this.networkReady === false;
        this.networkReady = ready;
        if (becameReady) for (const w of this.workers.values()) w.networkReady();
      } catch (err) {
        this.ctx.log.warn({ error: (err as Error).message }, "node status report failed");
      }
    });
    return this.reporting;
  }

  /**
   * Stops watching and reporting; tears the pods down (containers, CNI DEL, namespaces) —
   * the pods of the pod network first, hostNetwork ones (which may serve the CNI) last — or,
   * with leavePods, leaves them running for the next kubelet to adopt. Returns problems.
   */
  async stop(opts: { leavePods?: boolean } = {}): Promise<string[]> {
    if (this.mode !== "no") return [];
    this.mode = opts.leavePods ? "leave" : "teardown";
    this.abort.abort();
    for (const t of this.timers) clearInterval(t);
    if (this.relistTimer) clearTimeout(this.relistTimer);
    this.followDied?.stop();
    await this.reporting;
    const problems: string[] = [];
    const all = [...this.workers.values()];
    for (const group of [all.filter((w) => !w.hostNetwork), all.filter((w) => w.hostNetwork)]) {
      for (const p of await Promise.all(group.map((w) => w.shutdown(opts.leavePods === true)))) problems.push(...p);
    }
    await this.net.close();
    await this.events.flush();
    await this.host?.stop();
    return problems;
  }

  private requireHost(): NodeHost {
    if (!this.host) throw new Error(`kubelet of ${this.opts.nodeName}: not started`);
    return this.host;
  }
}
