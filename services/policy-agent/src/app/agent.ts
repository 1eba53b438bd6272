/**
 * The agent's state and its one writer: PolicyEndpoints (from the watch), the node's pods
 * (from addr-broker's calls, its own pod book, and addr-broker's assignments), the node's
 * addresses. Every change asks for one apply of the whole resolved state; applies run one at
 * a time and requests made while one runs share the next (a burst of ADDs and watch events
 * costs a few kernel transactions, never a half-applied state).
 */
import type { EnforcingMode, NodePolicyState, PodPolicyState, PolicyEndpoint } from "../../../../shared/contracts/policy.ts";
import { LAST_CHANGE_TRIGGER_TIME } from "../../../../shared/contracts/policy.ts";
import { hostVethName } from "../../../../shared/naming.ts";
import { canonicalIp } from "../../../../shared/ip.ts";
import type { ApplyReport, PolicyEngine } from "../engine/engine.ts";
import { LocalPods, podKey } from "../core/local-pods.ts";
import { concernsNode, resolvePod, type LocalPod } from "../core/resolve.ts";
import { EndpointStore } from "../core/endpoint-store.ts";
import { NodeResolver } from "../core/resolve-cache.ts";
import type { PodBook } from "../adapters/pod-book.ts";
import type { AgentMetrics } from "./metrics.ts";
import { ProgrammingTrace } from "./programming-trace.ts";
import { Settler } from "./settle.ts";

export interface AgentLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** What addr-broker's /v1/assignments says of one pod (the fields the agent uses). */
export interface AssignedPod {
  podNamespace?: string | undefined;
  podName?: string | undefined;
  containerId: string;
  ifName: string;
  address: string;
  vethPrefix?: string | undefined;
}

export interface AgentDeps {
  engine: PolicyEngine;
  book: PodBook;
  mode: EnforcingMode;
  /** --enable-network-policy: false = serve and answer success, program nothing (as upstream). */
  enabled: boolean;
  /** The node's veth prefix (AWS_VPC_K8S_CNI_VETHPREFIX), to name the veths of pods learned from assignments. */
  vethPrefix: string;
  log: AgentLog;
  metrics?: AgentMetrics;
  /** addr-broker's assignments; undefined result = not known right now (addr-broker down or not restored). */
  assignments?: () => Promise<AssignedPod[] | undefined>;
  /**
   * PolicyEndpoints come from a watch (main.ts with a Kubernetes API): until its first list,
   * pods the kernel already holds rules for keep them (a restarted agent knows no policies yet;
   * applying then would open or close every pod). Default false: endpoints are complete at once.
   */
  awaitFirstList?: boolean;
  now?: () => number;
  /** How long after the answer the record of a pod the kernel holds nothing for is written (BOOK_DELAY_MS; 0: at the next turn). */
  bookDelayMs?: number;
  /**
   * PolicyEndpoint changes apply once none came for this long (ms; 0, the default: at once), and
   * at most `endpointSettleMaxMs` after the first pending one. Calls for pods (ADD, DEL) never wait.
   */
  endpointSettleMs?: number;
  endpointSettleMaxMs?: number;
}

/** Default of AgentDeps.bookDelayMs: past the end of the ADD whose call runs beside the wiring. */
export const BOOK_DELAY_MS = 50;

export interface PodRequest {
  podNamespace: string;
  podName: string;
}

export class PolicyAgent {
  readonly pods: LocalPods;
  /** Only what concerns this node, compact (core/endpoint-store.ts). */
  private readonly endpoints = new EndpointStore();
  private readonly resolver: NodeResolver;
  private nodeIps: string[] = [];
  private nodeKnown: Array<() => void> = [];
  private chain: Promise<unknown> = Promise.resolve();
  private queued: Promise<ApplyReport> | undefined;
  /** Trigger times (epoch ms) of PolicyEndpoint changes not yet programmed. */
  private triggers: number[] = [];
  /** Each PolicyEndpoint change's way through the agent (watch → apply → kernel), for /debug. */
  readonly trace = new ProgrammingTrace();
  lastApply: { at: number; report?: ApplyReport; error?: string } | undefined;
  lastReconcile: { at: number; pruned: string[]; learned: string[]; error?: string } | undefined;
  readonly startedAt: number;
  /** False until the watch's first list (with awaitFirstList): applies keep what the kernel holds for known pods. */
  private listed: boolean;
  /** The kernel's rules per host veth, read at the first apply before the first list. */
  private kept: Map<string, PodPolicyState> | undefined;
  private bookPending = false;
  /**
   * Endpoint changes apply once they settle (AgentDeps.endpointSettleMs). A burst of watch
   * events (a controller's resync, a policy selecting many pods) is parsed and stored before
   * the apply's work starts, rather than between its steps: the endpoints that stay then share
   * their memory with less of the apply's garbage (bench/README.md).
   */
  private readonly settling: Settler;

  constructor(private readonly d: AgentDeps) {
    this.startedAt = this.now();
    let recorded: LocalPod[] = [];
    try {
      recorded = d.book.load();
    } catch (err) {
      d.log.error({ err: (err as Error).message }, "pod book unreadable: starting without recorded pods (addr-broker's assignments refill it)");
    }
    this.pods = new LocalPods(recorded);
    this.listed = !d.awaitFirstList;
    this.resolver = new NodeResolver(this.endpoints, d.mode);
    const settle = d.endpointSettleMs ?? 0;
    this.settling = new Settler(settle, d.endpointSettleMaxMs ?? settle * 10, () => void this.requestApply().catch(() => undefined));
  }

  private now(): number {
    return (this.d.now ?? Date.now)();
  }

  get mode(): EnforcingMode {
    return this.d.mode;
  }

  get enabled(): boolean {
    return this.d.enabled;
  }

  // ---- inputs ------------------------------------------------------------------------------

  setNodeIps(ips: string[]): void {
    const next = [...new Set(ips.map((ip) => canonicalIp(ip) ?? ip))];
    if (next.join() === this.nodeIps.join()) return;
    this.nodeIps = next;
    for (const wake of this.nodeKnown.splice(0)) wake();
    void this.requestApply().catch(() => undefined);
  }

  nodeAddresses(): string[] {
    return [...this.nodeIps];
  }

  /** Resolves once the node's addresses are known, or after `timeoutMs`. */
  async whenNodeKnown(timeoutMs: number): Promise<boolean> {
    if (this.nodeIps.length > 0) return true;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      this.nodeKnown.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
    return this.nodeIps.length > 0;
  }

  /** A full list (the watch's list or resync): the stored PolicyEndpoints become exactly these. */
  replaceEndpoints(list: readonly PolicyEndpoint[]): void {
    this.listed = true;
    this.kept = undefined;
    // as putEndpoint: only what concerns this node is kept (a relist otherwise held every node's endpoints)
    this.endpoints.replace(list, (pe) => this.nodeIps.length === 0 || concernsNode(pe, this.nodeIps));
    this.settling.touch();
  }

  putEndpoint(pe: PolicyEndpoint): void {
    const trigger = pe.metadata.annotations?.[LAST_CHANGE_TRIGGER_TIME];
    const key = podKey(pe.metadata);
    const had = this.endpoints.has(key);
    const mine = this.nodeIps.length === 0 || concernsNode(pe, this.nodeIps);
    // Only what concerns this node is kept (a cluster-wide watch sees every node's endpoints); one that stopped concerning it is dropped.
    if (mine) this.endpoints.put(pe);
    else this.endpoints.delete(key);
    if (!mine && !had) return;
    if (trigger && mine) {
      const t = Date.parse(trigger);
      if (Number.isFinite(t)) this.triggers.push(t);
    }
    if (mine) this.trace.seen(key, pe.metadata.resourceVersion);
    this.settling.touch();
  }

  dropEndpoint(namespace: string, name: string): void {
    if (this.endpoints.delete(podKey({ namespace, name }))) this.settling.touch();
  }

  endpointList(): PolicyEndpoint[] {
    return this.endpoints.list();
  }

  // ---- state and applies -----------------------------------------------------------------------

  desired(): NodePolicyState {
    const state = this.resolver.resolve(this.pods.list(), this.nodeIps);
    const kept = this.listed ? undefined : this.kept;
    if (!kept) return state;
    // Before the first list: a pod the kernel holds rules for keeps them (same veth, name and addresses).
    return { ...state, pods: state.pods.map((p) => keptOrResolved(p, kept.get(p.hostVeth))) };
  }

  /** An apply of the state as it is when the apply starts; requests made before it starts share it. */
  requestApply(): Promise<ApplyReport> {
    if (this.queued) return this.queued;
    const run = this.chain.then(() => {
      this.queued = undefined;
      return this.applyNow();
    });
    this.queued = run;
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async applyNow(): Promise<ApplyReport> {
    // this apply takes every endpoint change so far: one waiting to settle needs no apply of its own
    this.settling.cancel();
    if (!this.d.enabled) return { changedPods: [], removedPods: [], durationMs: 0 };
    const triggers = this.triggers.splice(0);
    const traced = this.trace.take();
    const started = performance.now();
    try {
      // pods the kernel holds nothing for are reported with what a miss gives them (open, or strict's catch-all deny)
      if (!this.listed && !this.kept) this.kept = new Map((await this.d.engine.programmed(this.pods.list())).map((p) => [p.hostVeth, p]));
      const report = await this.d.engine.apply(this.desired());
      this.trace.done(traced, true, report.durationMs);
      this.lastApply = { at: this.now(), report };
      this.d.metrics?.applies.inc({ outcome: "ok" });
      this.d.metrics?.applyDuration.observe((performance.now() - started) / 1000);
      const done = this.now();
      for (const t of triggers) this.d.metrics?.programmingLatency.observe(Math.max(0, (done - t) / 1000));
      return report;
    } catch (err) {
      this.triggers.unshift(...triggers);
      this.trace.done(traced, false, 0);
      const error = err instanceof Error ? err.message : String(err);
      this.lastApply = { at: this.now(), error };
      this.d.metrics?.applies.inc({ outcome: "error" });
      this.d.log.error({ err: error }, "policy apply failed");
      throw err;
    }
  }

  private saveBook(): void {
    try {
      this.d.book.save(this.pods.list());
    } catch (err) {
      this.d.log.error({ err: (err as Error).message, book: this.d.book.location }, "could not record the node's pods: a restart of the agent would re-learn them from addr-broker");
    }
  }

  /**
   * The record after the answer, one write for a burst: used for pods the kernel holds
   * nothing for, whose lost record (a crash in between) costs nothing the next reconcile
   * does not restore; an fsync on the ADD's path cost milliseconds under load. The call
   * now runs beside net-config's wiring and addr-broker's checkpoint write, so the write
   * waits `bookDelayMs` (past the ADD's answer) rather than meeting their work.
   */
  private saveBookSoon(): void {
    if (this.bookPending) return;
    this.bookPending = true;
    const save = () => {
      this.bookPending = false;
      this.saveBook();
    };
    const delay = this.d.bookDelayMs ?? BOOK_DELAY_MS;
    if (delay > 0) setTimeout(save, delay);
    else setImmediate(save);
  }

  /** Records the pods and, unless the kernel needs nothing for the change, applies; false when the apply failed. */
  private async recordAndApply(nothingToWrite: boolean): Promise<boolean> {
    if (nothingToWrite) {
      this.saveBookSoon();
      return true;
    }
    this.saveBook();
    try {
      await this.requestApply();
      return true;
    } catch {
      return false;
    }
  }

  // ---- addr-broker's calls ---------------------------------------------------------------------

  /** Beside a pod's wiring (its veth may not exist yet: nothing here needs it): record it and program what is known for it before answering. */
  async enforcePod(req: PodRequest & { hostVeth: string; addresses: string[] }): Promise<{ success: boolean; state?: { ingress: string; egress: string } }> {
    const started = performance.now();
    const known = this.pods.get(req.podNamespace, req.podName);
    const displaced = this.pods.upsert({ namespace: req.podNamespace, name: req.podName, hostVeth: req.hostVeth, addresses: req.addresses });
    if (displaced.length) this.d.log.info({ pod: podKey({ namespace: req.podNamespace, name: req.podName }), displaced }, "a new pod took the veth or address of pods the agent still knew: forgotten");
    if (!this.d.enabled) {
      this.saveBook();
      return { success: true };
    }
    // The node's addresses decide which endpoints are this node's: a pod added during start-up waits briefly for them.
    await this.whenNodeKnown(2_000);
    // this pod's state alone (resolving the whole node again would cost as much as the apply's own resolution)
    const resolve = () => {
      const pod = this.pods.get(req.podNamespace, req.podName);
      return pod ? resolvePod(this.endpointList(), pod, this.nodeIps, this.d.mode) : undefined;
    };
    let mine = resolve();
    // Nearly every new pod is in its mode's default state (its PolicyEndpoints can only list it once it has an address): nothing to write.
    const untouched = !known && displaced.length === 0 && this.listed && mine !== undefined && this.d.engine.needsNothing?.(req.hostVeth, mine) === true;
    if (!(await this.recordAndApply(untouched))) return { success: false };
    if (!untouched) mine = resolve();
    this.d.metrics?.podSeries.added({ name: req.podName, namespace: req.podNamespace });
    this.d.metrics?.setupLatencyMs.observe({ name: req.podName, namespace: req.podNamespace }, performance.now() - started);
    return { success: true, ...(mine ? { state: { ingress: mine.ingress.kind, egress: mine.egress.kind } } : {}) };
  }

  /** Beside a pod's teardown, or after its ADD failed: its rules go before its address can be reused. */
  async deletePod(req: PodRequest): Promise<{ success: boolean }> {
    const started = performance.now();
    const removed = this.pods.remove(req.podNamespace, req.podName);
    if (!removed) return { success: true };
    // the kernel held nothing for the pod (its mode's default): nothing to remove
    if (!(await this.recordAndApply(this.listed && this.d.engine.needsNothing?.(removed.hostVeth) === true))) return { success: false };
    this.d.metrics?.teardownLatencyMs.observe({ name: req.podName, namespace: req.podNamespace }, performance.now() - started);
    this.d.metrics?.podSeries.deleted({ name: req.podName, namespace: req.podNamespace }, this.now());
    return { success: true };
  }

  // ---- reconcile -------------------------------------------------------------------------------

  /**
   * Periodic: pods addr-broker no longer has are forgotten (deleted while the agent was
   * down), pods it has that the agent does not know are learned (a lost pod book, or mode
   * none), then the whole state is applied again (the engine repairs hand edits).
   */
  async reconcile(): Promise<ApplyReport> {
    const pruned: string[] = [];
    const learned: string[] = [];
    let error: string | undefined;
    try {
      const assigned = this.d.assignments ? await this.d.assignments() : undefined;
      if (assigned) this.syncWithAssignments(assigned, pruned, learned);
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    this.lastReconcile = { at: this.now(), pruned, learned, ...(error ? { error } : {}) };
    this.d.metrics?.podSeries.prune(this.now());
    if (pruned.length || learned.length) {
      this.saveBook();
      this.d.log.info({ pruned, learned }, "pods reconciled with addr-broker's assignments");
    }
    return this.requestApply();
  }

  private syncWithAssignments(assigned: readonly AssignedPod[], pruned: string[], learned: string[]): void {
    const named = assigned.filter((a) => a.podNamespace && a.podName);
    const live = new Set(named.map((a) => `${a.podNamespace}/${a.podName}@${canonicalIp(a.address) ?? a.address}`));
    for (const p of this.pods.list()) {
      if (!p.addresses.some((ip) => live.has(`${podKey(p)}@${ip}`))) {
        this.pods.remove(p.namespace, p.name);
        this.d.metrics?.podSeries.deleted({ name: p.name, namespace: p.namespace }, this.now());
        pruned.push(podKey(p));
      }
    }
    for (const a of named) {
      const known = this.pods.get(a.podNamespace!, a.podName!);
      if (known) continue;
      const hostVeth = hostVethName(a.vethPrefix ?? this.d.vethPrefix, { namespace: a.podNamespace, name: a.podName, containerId: a.containerId, ifName: a.ifName });
      this.pods.upsert({ namespace: a.podNamespace!, name: a.podName!, hostVeth, addresses: [a.address] });
      learned.push(`${a.podNamespace}/${a.podName}`);
    }
  }

  debug(): object {
    return {
      enabled: this.d.enabled,
      mode: this.d.mode,
      policyEndpointsListed: this.listed,
      nodeIps: this.nodeIps,
      podBook: this.d.book.location,
      pods: this.pods.list(),
      policyEndpoints: this.endpointList().map((pe) => ({ name: `${pe.metadata.namespace}/${pe.metadata.name}`, policy: `${pe.spec.policyRef.namespace}/${pe.spec.policyRef.name}`, isolation: pe.spec.podIsolation ?? [] })),
      lastApply: this.lastApply,
      lastReconcile: this.lastReconcile,
      programming: this.trace.list(),
    };
  }
}

/** The kernel's state for a pod when it is this very pod (name, namespace, addresses), else the resolved one. */
function keptOrResolved(resolved: PodPolicyState, kept: PodPolicyState | undefined): PodPolicyState {
  if (!kept || kept.namespace !== resolved.namespace || kept.name !== resolved.name) return resolved;
  const same = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));
  if (!same(kept.addresses.map((a) => canonicalIp(a) ?? a), resolved.addresses)) return resolved;
  return { ...resolved, ingress: kept.ingress, egress: kept.egress };
}
