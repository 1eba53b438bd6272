/**
 * The pool-manager's Kubernetes port (the only file of the service that talks to the API):
 * this node's labels, annotations and taints; its ENIConfig (custom networking); the pods
 * scheduled to it (list + watch, re-listed after errors or 410 Gone) counted as demand; a
 * Warning event on the Node when EC2 refuses an action for lack of IAM permissions; the
 * trunk label and CNINode feature for security groups for pods.
 *
 * Requests and the watch go through shared/kube-rest.ts (Bun's fetch), not client-node's
 * generated APIs and Watch: those cost ≈ 8 MiB of the node's 100 MiB budget, and under Bun
 * pass no cluster CA or client certificate to the connection (kube-rest.ts and
 * docs/ARCHITECTURE.md section 1b say what client-node still does). Same paths, queries,
 * merge patches and errors (`code`) as client-node's CoreV1Api, CustomObjectsApi and Watch.
 *
 * The API being unreachable never blocks pool work that does not need it: every call has
 * a timeout, a supervisor loop retries with backoff, and status() says why and when
 * (kube-connection.ts: reachability; kube-cninode.ts: the CNINode's features).
 */
import type { Config } from "../../../../shared/config/types.ts";
import { KubeRest, kubeRestFrom } from "../../../../shared/kube-rest.ts";
import type { EniConfig, KubePort } from "../app/service-ports.ts";
import { ensureCniNodeFeature } from "./kube-cninode.ts";
import { KubeConnection, type KubeLog } from "./kube-connection.ts";
import { nodeCapacityPods, describeKubeError, eniConfigNameOf, eniConfigSpecOf, iamWarningEvent, nodeIsUnschedulable, PodDemandCache, type EventSubject, type NodeLike, type PodLike } from "./kube-node.ts";

const ENI_CONFIGS = "/apis/crd.k8s.amazonaws.com/v1alpha1/eniconfigs";
const nodePath = (name: string) => `/api/v1/nodes/${encodeURIComponent(name)}`;

export interface KubeAdapterOptions {
  nodeName: string | undefined;
  /** MY_POD_NAME: events go on this aws-node pod (kube-system), as upstream; unset, on the Node. */
  podName?: string | undefined;
  eniConfigAnnotation: string;
  eniConfigLabel: string;
  /** List + watch the node's pods (demand-aware growth). */
  watchPods: boolean;
  log?: KubeLog;
  /** Called (debounced) when demand, node or reachability changed: re-plan now. */
  onChange?: () => void;
  retry?: { firstMs: number; maxMs: number };
  requestTimeoutMs?: number;
  /** The same (reason, action) event is sent at most once per this window (default 1 h). */
  eventDedupMs?: number;
  /** A node read is reused this long (default 1 s): one refresh reads the node once. */
  nodeCacheMs?: number;
}

export class KubeAdapter extends KubeConnection implements KubePort {
  private watchCtl: AbortController | undefined;
  private node: { at: number; value: NodeLike } | undefined;
  private nodeRead: Promise<NodeLike> | undefined;
  private readonly pods = new PodDemandCache();
  private lastPending = 0;
  private lastEniConfig: EniConfig | undefined;
  private readonly sentEvents = new Map<string, number>();
  private sgpDone = false;
  private sgpRetryAtMs = 0;
  private readonly featuresDone = new Set<string>();
  readonly eventsSent: { reason: string; message: string }[] = [];

  constructor(api: KubeRest, private readonly o: KubeAdapterOptions) {
    super(api, o);
  }

  protected override onReachableAgain(): void {
    this.sgpRetryAtMs = 0; // what failed while the API was away is tried at once
  }

  debug(): Record<string, unknown> {
    return {
      status: this.statusText(),
      phase: this.state.phase,
      node: this.o.nodeName,
      pods: this.o.watchPods ? { watching: this.pods.live, known: this.pods.size, needingAddress: this.lastPending } : "not watched (demand-aware growth off)",
      relists: Math.max(0, this.pods.lists - 1),
      eniConfig: this.lastEniConfig,
      eventsSent: this.eventsSent.slice(-10),
      securityGroupsForPods: this.sgpDone,
    };
  }

  // ---- node ----------------------------------------------------------------------------

  private async readNode(maxAgeMs = this.o.nodeCacheMs ?? 1_000): Promise<NodeLike> {
    if (this.node && Date.now() - this.node.at < maxAgeMs) return this.node.value;
    this.nodeRead ??= this.timed(this.api.request("GET", nodePath(this.nodeName)), "read node")
      .then((n) => {
        this.reachable();
        this.node = { at: Date.now(), value: n as NodeLike };
        return n as NodeLike;
      })
      .finally(() => (this.nodeRead = undefined));
    return this.nodeRead;
  }

  async nodeMaxPods(): Promise<number | undefined> {
    return nodeCapacityPods(await this.readNode());
  }

  async eniConfigName(): Promise<string> {
    return eniConfigNameOf(await this.readNode(), this.o.eniConfigAnnotation, this.o.eniConfigLabel).name;
  }

  async nodeUnschedulable(): Promise<boolean> {
    try {
      return nodeIsUnschedulable(await this.readNode());
    } catch (err) {
      // Last known answer while the API is away; a node never seen counts as schedulable.
      if (this.node) return nodeIsUnschedulable(this.node.value);
      throw err;
    }
  }

  // ---- ENIConfig -------------------------------------------------------------------------

  async myEniConfig(): Promise<EniConfig | { missing: string }> {
    let node: NodeLike;
    try {
      node = await this.readNode();
    } catch (err) {
      if (this.lastEniConfig && this.isOutage(err)) return this.lastEniConfig; // keep using what was read
      if (!this.o.nodeName) return { missing: `custom networking: ${(err as Error).message}` };
      const why = this.isOutage(err) ? `Kubernetes API unreachable at ${this.url}: ${describeKubeError(err)}` : `node ${this.o.nodeName} could not be read: ${describeKubeError(err)}`;
      return { missing: `custom networking: ${why}; no ENIConfig can be read, no pod addresses until it can` };
    }
    const { name, source } = eniConfigNameOf(node, this.o.eniConfigAnnotation, this.o.eniConfigLabel);
    let obj: unknown;
    try {
      obj = await this.timed(this.api.request("GET", `${ENI_CONFIGS}/${encodeURIComponent(name)}`), "read ENIConfig");
    } catch (err) {
      if ((err as { code?: unknown }).code === 404) {
        delete this.lastEniConfig;
        return { missing: `no ENIConfig named ${name} for node ${this.nodeName} (from ${source})` };
      }
      if (this.lastEniConfig?.name === name && this.isOutage(err)) return this.lastEniConfig;
      return { missing: `custom networking: ENIConfig ${name} could not be read: ${describeKubeError(err)}` };
    }
    const spec = eniConfigSpecOf(obj);
    if (!spec.subnet) return { missing: `ENIConfig ${name} (for node ${this.nodeName}) has no spec.subnet` };
    this.lastEniConfig = { name, subnetId: spec.subnet, securityGroups: spec.securityGroups };
    if (name !== "default") {
      // Announce it on the CNINode as upstream does; a failure there must not withhold the ENIConfig.
      await this.ensureCniNodeFeature("CustomNetworking", name).catch((err) => this.log("warn", "CNINode feature CustomNetworking not set", { err: describeKubeError(err) }));
    }
    return this.lastEniConfig;
  }

  // ---- pods ------------------------------------------------------------------------------

  /** True while the pod watch is live, so pending counts are current (the demand policy trusts them). */
  podsWatched(): boolean {
    return this.o.watchPods === true && this.pods.live;
  }

  async pendingPods(): Promise<number> {
    return this.pods.pending();
  }

  private notePods(): void {
    const n = this.pods.pending();
    if (n !== this.lastPending) {
      this.lastPending = n;
      this.changed();
    }
  }

  /** One list + watch session; resolves when the watch must be re-listed, rejects on failure. */
  private async podSession(): Promise<void> {
    const fieldSelector = `spec.nodeName=${this.nodeName}`;
    const list = await this.timed(this.api.request<{ items: PodLike[]; metadata?: { resourceVersion?: string } }>("GET", "/api/v1/pods", { query: { fieldSelector } }), "list pods");
    this.reachable();
    this.pods.replace(list.items ?? []);
    this.notePods();
    let rv = list.metadata?.resourceVersion;
    for (;;) {
      const started = Date.now();
      const end = await new Promise<{ error?: unknown; gone?: boolean }>((resolve) => {
        let gone = false;
        void this.api
          .watch(
            "/api/v1/pods",
            { fieldSelector, allowWatchBookmarks: true, ...(rv ? { resourceVersion: rv } : {}) },
            (type, o) => {
              const obj = o as PodLike & { code?: number };
              if (type === "ERROR") {
                gone = obj.code === 410;
                return;
              }
              if (obj.metadata?.resourceVersion) rv = obj.metadata.resourceVersion;
              if (this.pods.apply(type, obj)) this.notePods();
            },
            (err: unknown) => resolve(err ? { error: err } : { gone }),
          )
          .then((ctl) => {
            this.watchCtl = ctl;
            if (this.stopped) ctl.abort();
          });
      });
      this.watchCtl = undefined;
      if (this.stopped) return;
      if (end.gone) {
        this.log("info", "pod watch expired (410 Gone): re-listing");
        return;
      }
      if (end.error) throw end.error;
      // Closed cleanly (server timeout): resume from the last resourceVersion.
      if (Date.now() - started < 1_000) await this.pause(this.o.retry?.firstMs ?? 1_000);
    }
  }

  // ---- supervisor ------------------------------------------------------------------------

  /** Starts the connection loop; returns at once (never throws). */
  start(): void {
    if (!this.o.nodeName) {
      this.state = { phase: "misconfigured", error: "MY_NODE_NAME is not set: this node cannot be found in the Kubernetes API" };
      this.log("error", this.state.error);
      return;
    }
    void this.supervise();
  }

  private async supervise(): Promise<void> {
    const first = this.o.retry?.firstMs ?? 1_000;
    const max = this.o.retry?.maxMs ?? 30_000;
    let delay = first;
    while (!this.stopped) {
      try {
        await this.readNode(0);
        if (this.o.watchPods) await this.podSession();
        else await this.pause(60_000); // node reads by the pool loop keep the state current
        delay = first;
      } catch (err) {
        this.pods.live = false;
        if (this.stopped) return;
        this.failed(err, delay, this.isOutage(err));
        await this.pause(delay);
        delay = Math.min(delay * 2, max);
      }
    }
  }

  stop(): void {
    this.watchCtl?.abort();
    this.stopConnection();
  }

  // ---- events ----------------------------------------------------------------------------

  /** Where events go: the aws-node pod when MY_POD_NAME is set (its uid when it can be read), else the Node. */
  private async eventSubject(): Promise<EventSubject> {
    const pod = this.o.podName;
    if (pod) {
      const read = (await this.timed(this.api.request("GET", `/api/v1/namespaces/kube-system/pods/${encodeURIComponent(pod)}`), "read own pod").catch(() => undefined)) as { metadata?: { uid?: string } } | undefined;
      return { kind: "Pod", name: pod, namespace: "kube-system", uid: read?.metadata?.uid };
    }
    const node = this.node?.value ?? (await this.readNode().catch(() => undefined));
    return { kind: "Node", name: this.nodeName, uid: node?.metadata?.uid };
  }

  /** Warning event on the aws-node pod or the Node: EC2 answered UnauthorizedOperation for `action`. Deduplicated. */
  async ec2Unauthorized(action: string, detail?: string): Promise<void> {
    const reason = "MissingIAMPermissions";
    const key = `${reason}/${action}`;
    const last = this.sentEvents.get(key);
    if (last !== undefined && Date.now() - last < (this.o.eventDedupMs ?? 3_600_000)) return;
    this.sentEvents.set(key, Date.now());
    try {
      const on = await this.eventSubject();
      const body = iamWarningEvent(this.nodeName, on, action, detail, new Date().toISOString());
      await this.timed(this.api.request("POST", `/api/v1/namespaces/${on.namespace ?? "default"}/events`, { body }), "create event");
      this.eventsSent.push({ reason, message: body.message });
      this.log("warn", `EC2 refused an action for lack of IAM permissions; Warning event sent on the ${on.kind === "Pod" ? "aws-node pod" : "node"}`, { action });
    } catch (err) {
      this.sentEvents.delete(key); // try again on the next refusal
      this.log("warn", "could not send the MissingIAMPermissions event", { action, err: describeKubeError(err) });
    }
  }

  // ---- security groups for pods ----------------------------------------------------------

  /**
   * ENABLE_POD_ENI on a trunking-capable instance with an ENI slot free: the CNINode feature
   * SecurityGroupsForPods, which tells the VPC resource controller to attach the trunk. The
   * label vpc.amazonaws.com/has-trunk-attached is not set: upstream stopped in v1.15.
   */
  async ensureSecurityGroupsForPods(): Promise<void> {
    if (this.sgpDone || Date.now() < this.sgpRetryAtMs) return;
    this.sgpRetryAtMs = Date.now() + 60_000; // a refusal (e.g. RBAC without cninodes/create) is retried once a minute, not every cycle
    await this.ensureCniNodeFeature("SecurityGroupsForPods");
    this.sgpDone = true;
    this.log("info", "security groups for pods: CNINode feature SecurityGroupsForPods set");
  }

  /** Adds a feature to this node's CNINode once (kube-cninode.ts). */
  private async ensureCniNodeFeature(name: string, value?: string): Promise<void> {
    const key = `${name}=${value ?? ""}`;
    if (this.featuresDone.has(key)) return;
    await ensureCniNodeFeature({ api: this.api, nodeName: this.nodeName, nodeUid: this.node?.value.metadata?.uid, timed: (p, what) => this.timed(p, what) }, name, value);
    this.featuresDone.add(key);
  }
}

/** The adapter for this config, or undefined when neither KUBECONFIG nor an in-cluster API server is set. */
export function createKubeAdapter(config: Pick<Config, "kubernetes" | "eni">, o: Omit<KubeAdapterOptions, "nodeName" | "eniConfigAnnotation" | "eniConfigLabel">): KubeAdapter | undefined {
  const api = kubeRestFrom(config.kubernetes);
  if (!api) return undefined;
  return new KubeAdapter(api, { nodeName: config.kubernetes.nodeName, podName: config.kubernetes.podName, eniConfigAnnotation: config.eni.eniConfigAnnotation, eniConfigLabel: config.eni.eniConfigLabel, ...o });
}
