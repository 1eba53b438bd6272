/**
 * The policy controller: watches NetworkPolicies, pods, namespaces, Services, its own
 * PolicyEndpoints and the `kube-system/amazon-vpc-cni` ConfigMap; reconciles a policy at once
 * when the policy changes and after the batch period (1 s) when a pod, namespace or Service
 * it depends on changes; up to `concurrency` policies at a time, each policy never twice at
 * once. With the ConfigMap check on, nothing is written unless the key
 * `enable-network-policy-controller` is "true".
 */
import type { KubeRest } from "../../../shared/kube-rest.ts";
import { planChunks, type SpecHeader } from "./chunks.ts";
import { Informer, type InformerLog } from "./informer.ts";
import type { ControllerMetrics } from "./metrics.ts";
import { keyOf, type NetworkPolicy, type Namespace, type Pod, type Service } from "./objects.ts";
import { resolvePolicy, type ClusterView } from "./resolve.ts";
import { podChangeMatters, policyTouchesPod, policyUsesNamespaces, policyUsesServices } from "./triggers.ts";
import { applyPlan, deleteEndpoint, POLICY_FINALIZER, setFinalizers, type StoredEndpoint } from "./writer.ts";

const epochMs = () => performance.timeOrigin + performance.now();

export const ENABLE_KEY = "enable-network-policy-controller";

export interface ControllerOptions {
  chunkSize: number;
  batchPeriodMs: number;
  concurrency: number;
  configMapCheck: boolean;
}

export interface ControllerLog extends InformerLog {
  info(obj: object, msg: string): void;
}

interface ConfigMap {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  data?: Record<string, string>;
}

export class PolicyController {
  readonly #policies: Informer<NetworkPolicy>;
  readonly #pods: Informer<Pod>;
  readonly #namespaces: Informer<Namespace>;
  readonly #services: Informer<Service>;
  readonly #endpoints: Informer<StoredEndpoint>;
  readonly #configMaps: Informer<ConfigMap>;
  /** Pods by namespace, kept with the pod cache. */
  readonly #podsByNs = new Map<string, Map<string, Pod>>();
  /** Policy key → when its first unhandled trigger was seen. */
  readonly #queued = new Map<string, Date>();
  readonly #batched = new Map<string, Date>();
  #batchTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #running = new Set<string>();
  #started = false;
  #stopped = false;

  constructor(
    private readonly kube: KubeRest,
    private readonly options: ControllerOptions,
    private readonly log: ControllerLog,
    private readonly metrics?: ControllerMetrics,
  ) {
    this.#policies = new Informer(kube, "/apis/networking.k8s.io/v1/networkpolicies", (old, current) => this.#onPolicy(old, current), log);
    this.#pods = new Informer(kube, "/api/v1/pods", (old, current) => this.#onPod(old, current), log);
    this.#namespaces = new Informer(kube, "/api/v1/namespaces", () => this.#enqueueWhere(policyUsesNamespaces), log);
    this.#services = new Informer(kube, "/api/v1/services", () => this.#enqueueWhere(policyUsesServices), log);
    // an object changed or deleted by someone else is put right (its policy reconciled after the batch period)
    this.#endpoints = new Informer(kube, "/apis/networking.k8s.aws/v1alpha1/policyendpoints", (old, current) => this.#onEndpoint(old, current), log);
    this.#configMaps = new Informer(kube, "/api/v1/namespaces/kube-system/configmaps", () => this.#onConfigMap(), log, { fieldSelector: "metadata.name=amazon-vpc-cni" });
  }

  /** Lists everything, then starts watching and reconciling. */
  async start(): Promise<void> {
    await Promise.all([this.#configMaps, this.#namespaces, this.#pods, this.#services, this.#endpoints].map((informer) => informer.start()));
    await this.#policies.start();
    this.#started = true;
    this.#enqueueAll();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#batchTimer);
    for (const informer of [this.#policies, this.#pods, this.#namespaces, this.#services, this.#endpoints, this.#configMaps]) informer.stop();
  }

  get synced(): boolean {
    return this.#started;
  }

  /** Whether policies are reconciled now (the ConfigMap key, unless the check is off). */
  get enabled(): boolean {
    if (!this.options.configMapCheck) return true;
    return this.#configMaps.values().some((cm) => cm.data?.[ENABLE_KEY] === "true");
  }

  debug() {
    return { enabled: this.enabled, synced: this.synced, policies: this.#policies.items.size, policyEndpoints: this.#endpoints.items.size, queued: this.#queued.size + this.#batched.size, running: this.#running.size };
  }

  readonly view: ClusterView = {
    pods: (namespace) => (namespace === undefined ? this.#pods.values() : [...(this.#podsByNs.get(namespace)?.values() ?? [])]),
    namespaces: () => this.#namespaces.values(),
    services: (namespace) => this.#services.values().filter((service) => service.metadata.namespace === namespace),
  };

  #onPolicy(old: NetworkPolicy | undefined, current: NetworkPolicy | undefined): void {
    // the echo of the controller's own write (its finalizer): the cache already holds this version
    if (old !== undefined && current !== undefined && old.metadata.resourceVersion === current.metadata.resourceVersion) return;
    const policy = current ?? old;
    if (policy !== undefined) this.#enqueue(keyOf(policy.metadata), 0);
  }

  #onPod(old: Pod | undefined, current: Pod | undefined): void {
    const pod = current ?? old!;
    const ns = pod.metadata.namespace ?? "";
    const byNs = this.#podsByNs.get(ns) ?? new Map<string, Pod>();
    if (current === undefined) byNs.delete(pod.metadata.name);
    else byNs.set(pod.metadata.name, current);
    this.#podsByNs.set(ns, byNs);
    if (!this.#started || !podChangeMatters(old, current)) return;
    const namespaces = new Map(this.#namespaces.values().map((n) => [n.metadata.name, n]));
    for (const policy of this.#policies.values()) {
      if ((old && policyTouchesPod(policy, old, namespaces)) || (current && policyTouchesPod(policy, current, namespaces))) this.#enqueue(keyOf(policy.metadata), this.options.batchPeriodMs);
    }
  }

  #onEndpoint(old: StoredEndpoint | undefined, current: StoredEndpoint | undefined): void {
    // the echo of the controller's own write: the cache already holds this version
    if (old !== undefined && current !== undefined && old.metadata.resourceVersion === current.metadata.resourceVersion) return;
    const pe = current ?? old;
    const name = pe?.spec?.policyRef?.name;
    if (!this.#started || pe === undefined || name === undefined) return;
    this.#enqueue(`${pe.metadata.namespace ?? ""}/${name}`, this.options.batchPeriodMs);
  }

  #onConfigMap(): void {
    if (this.#started && this.enabled) this.#enqueueAll();
  }

  #enqueueWhere(predicate: (policy: NetworkPolicy) => boolean): void {
    if (!this.#started) return;
    for (const policy of this.#policies.values()) if (predicate(policy)) this.#enqueue(keyOf(policy.metadata), this.options.batchPeriodMs);
  }

  #enqueueAll(): void {
    for (const policy of this.#policies.values()) this.#enqueue(keyOf(policy.metadata), 0);
  }

  #enqueue(key: string, delayMs: number): void {
    if (this.#stopped) return;
    const now = new Date();
    if (delayMs > 0) {
      if (!this.#batched.has(key)) this.#batched.set(key, now);
      this.#batchTimer ??= setTimeout(() => {
        this.#batchTimer = undefined;
        const batch = [...this.#batched];
        this.#batched.clear();
        for (const [k, at] of batch) this.#queue(k, at);
      }, delayMs);
      return;
    }
    this.#queue(key, now);
  }

  #queue(key: string, at: Date): void {
    const earlier = this.#queued.get(key);
    if (earlier === undefined || at < earlier) this.#queued.set(key, at);
    this.#pump();
  }

  #pump(): void {
    if (!this.#started || !this.enabled) return;
    for (const [key, at] of this.#queued) {
      if (this.#running.size >= this.options.concurrency) return;
      if (this.#running.has(key)) continue;
      this.#queued.delete(key);
      this.#running.add(key);
      void this.#reconcile(key, at)
        .catch((error) => {
          this.log.warn({ policy: key, error: String(error) }, "reconcile failed; retrying in 1 s");
          setTimeout(() => this.#queue(key, at), 1000);
        })
        .finally(() => {
          this.#running.delete(key);
          this.#pump();
        });
    }
  }

  #endpointsOf(namespace: string, name: string): StoredEndpoint[] {
    return this.#endpoints.values().filter((pe) => pe.metadata.namespace === namespace && pe.spec?.policyRef?.name === name);
  }

  async #reconcile(key: string, triggeredAt: Date): Promise<void> {
    const started = performance.now();
    const [namespace, name] = key.split("/") as [string, string];
    const policy = this.#policies.items.get(key);
    if (policy === undefined || policy.metadata.deletionTimestamp !== undefined) {
      // gone or going: its objects are removed (ownerReferences would also take them), then its finalizer
      for (const pe of this.#endpointsOf(namespace, name)) {
        await deleteEndpoint(this.kube, pe);
        this.#endpoints.forget(pe);
      }
      const finalizers = policy?.metadata.finalizers ?? [];
      if (policy !== undefined && finalizers.includes(POLICY_FINALIZER)) this.#policies.remember(await setFinalizers(this.kube, policy, finalizers.filter((f) => f !== POLICY_FINALIZER)));
      this.metrics?.reconciled(performance.now() - started, this.#endpoints.items.size);
      return;
    }
    const header: SpecHeader = { policyRef: { name, namespace }, podSelector: policy.spec.podSelector ?? {}, podIsolation: policy.spec.policyTypes ?? ["Ingress"] };
    const existing = this.#endpointsOf(namespace, name);
    const plan = planChunks(header, resolvePolicy(policy, this.view), existing.map((pe) => ({ name: pe.metadata.name, spec: pe.spec })), this.options.chunkSize);
    const resolvedAt = epochMs();
    // The finalizer and the endpoints are written side by side (one API round trip, not two): the
    // endpoints are owned by the policy, so one written just before a deletion is collected anyway.
    const withFinalizer = (policy.metadata.finalizers ?? []).includes(POLICY_FINALIZER)
      ? undefined
      : setFinalizers(this.kube, policy, [...(policy.metadata.finalizers ?? []), POLICY_FINALIZER]).then((p) => this.#policies.remember(p));
    const [result] = await Promise.all([applyPlan(this.kube, policy, plan, existing, triggeredAt), withFinalizer]);
    for (const pe of result.written) this.#endpoints.remember(pe);
    for (const pe of result.deleted) this.#endpoints.forget(pe);
    if (plan.create.length + plan.update.length + plan.delete.length > 0) {
      // the stages' times (epoch ms) let a bench line this up with the API server's and the agents'
      const timing = { eventAt: triggeredAt.getTime(), startedAt: started + performance.timeOrigin, resolvedAt, writtenAt: epochMs() };
      this.log.info({ policy: key, created: plan.create.length, updated: plan.update.length, deleted: plan.delete.length, timing }, "policy endpoints written");
    }
    this.metrics?.reconciled(performance.now() - started, this.#endpoints.items.size);
  }
}
