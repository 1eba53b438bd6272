// The simulated VPC resource controller (security groups for pods), as upstream behaves:
//  - nodes: a node with an OS label and a providerID whose CNINode has SecurityGroupsForPods
//    (or the legacy has-trunk-attached label) is managed; a Linux node of a trunking type gets a
//    trunk (reused when attached, else created and attached at the highest free device index)
//    and the capacity vpc.amazonaws.com/pod-eni; after a restart the trunk's branch ENIs are
//    rebuilt from pod annotations and vlan-id tags, and ENIs no pod owns are queued for deletion;
//  - pods: a scheduled pod asking for pod-eni gets that many branch ENIs (lowest free VLAN,
//    security groups of its SGPs or else the instance's) and the annotation; a deleted or
//    finished pod's ENIs cool down (ConfigMap kube-system/amazon-vpc-cni `branch-eni-cooldown`,
//    default 60 s, at least 30 s), then are disassociated and deleted; a deleted node's ENIs go
//    one minute later.
// Level-triggered: one async pass at a time, after any change of nodes, CNINodes, pods or
// ConfigMaps, and when the next cooldown or retry is due.
import type { EC2Client } from "@aws-sdk/client-ec2";
import { CONFIGMAPS, ClusterApi, NODES, PODS } from "../cluster.ts";
import { EventRecorder } from "../events.ts";
import { SILENT_LOG, type ControllerLog } from "../reconcile-loop.ts";
import type { KubeObject } from "../../sim-kube/validate.ts";
import { BranchEc2 } from "./branch-ec2.ts";
import { CNINODES, initTrunk, isManagedNode, nodeInstanceId, releaseDue } from "./nodes.ts";
import { createAndAnnotate } from "./pods.ts";
import { podEniRequest, POD_ENI } from "./sgp.ts";
import { branchInterfaceLimit, type TrunkState } from "./trunk.ts";

export const DEFAULT_COOLDOWN_MS = 60_000;
export const MIN_COOLDOWN_MS = 30_000;
/** A deleted node's branch ENIs are removed this long after it went. */
export const NODE_DELETE_DELAY_MS = 60_000;
/** A node whose trunk could not be set up is tried again after this. */
const INIT_RETRY_MS = 5_000;

export interface VpcResourceControllerOptions {
  ec2: EC2Client;
  clusterName: string;
  log?: ControllerLog;
  /** The clock for cooldowns (tests move it); timers still run in real time. */
  now?: () => number;
  /** Tests only: the floor of `branch-eni-cooldown` (default MIN_COOLDOWN_MS, upstream's). */
  minCooldownMs?: number;
  /** Tests only: how long after first seeing a pod its branch ENI waits (a slow controller; 0: none). */
  annotationDelayMs?: (pod: KubeObject) => number;
}

export class VpcResourceController {
  readonly trunks = new Map<string, TrunkState>();
  readonly #cluster: ClusterApi;
  readonly #ec2: BranchEc2;
  readonly #events: EventRecorder;
  readonly #log: ControllerLog;
  readonly #now: () => number;
  readonly #initRetryAt = new Map<string, number>();
  readonly #unsupported = new Set<string>();
  readonly #nodeGoneAt = new Map<string, number>();
  /** Pods waiting for capacity: retried at this time. */
  readonly #requeueAt = new Map<string, number>();
  readonly #minCooldownMs: number;
  readonly #annotationDelayMs: ((pod: KubeObject) => number) | undefined;
  /** annotationDelayMs: when each delayed pod was first seen. */
  readonly #firstSeen = new Map<string, number>();
  #running: Promise<void> | undefined;
  #dirty = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #unsubscribe: (() => void) | undefined;

  constructor(cluster: ClusterApi, options: VpcResourceControllerOptions) {
    this.#cluster = cluster;
    this.#ec2 = new BranchEc2(options.ec2, options.clusterName);
    this.#events = new EventRecorder(cluster, "vpc-resource-controller");
    this.#log = options.log ?? SILENT_LOG;
    this.#now = options.now ?? (() => Date.now());
    this.#minCooldownMs = options.minCooldownMs ?? MIN_COOLDOWN_MS;
    this.#annotationDelayMs = options.annotationDelayMs;
  }

  start(): void {
    this.#unsubscribe ??= this.#cluster.subscribe([NODES, PODS, CNINODES, CONFIGMAPS], () => this.trigger());
    this.trigger();
  }

  stop(): void {
    this.#stopped = true;
    this.#unsubscribe?.();
    if (this.#timer) clearTimeout(this.#timer);
  }

  /** Runs a pass soon (one at a time; a change during a pass runs another after it). */
  trigger(): void {
    if (this.#stopped) return;
    this.#dirty = true;
    this.#running ??= this.#loop().finally(() => {
      this.#running = undefined;
    });
  }

  /** Resolves once no pass runs or is pending. */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  cooldownMs(): number {
    const cm = this.#cluster.get(CONFIGMAPS, "kube-system", "amazon-vpc-cni");
    const raw = (cm?.data as Record<string, string> | undefined)?.["branch-eni-cooldown"];
    const seconds = raw !== undefined && /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : undefined;
    if (seconds === undefined) return DEFAULT_COOLDOWN_MS;
    return Math.max(this.#minCooldownMs, seconds * 1000);
  }

  async #loop(): Promise<void> {
    while (this.#dirty && !this.#stopped) {
      this.#dirty = false;
      let wake: number | undefined;
      try {
        wake = await this.#pass();
      } catch (error) {
        this.#log.error({ controller: "vpc-resource-controller", error: String(error) }, "pass failed");
        wake = this.#now() + INIT_RETRY_MS;
      }
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = undefined;
      if (wake !== undefined && !this.#stopped) this.#timer = setTimeout(() => this.trigger(), Math.max(0, wake - this.#now()));
    }
  }

  /** One pass; returns when the next one is due (a cooldown, a retry), if any. */
  async #pass(): Promise<number | undefined> {
    const now = this.#now();
    const cooldown = this.cooldownMs();
    const nodes = this.#cluster.list(NODES);
    const cniNodes = new Map(this.#cluster.list(CNINODES).map((c) => [c.metadata.name ?? "", c]));
    const wakes: number[] = [];

    // Deleted nodes: their ENIs go NODE_DELETE_DELAY_MS later.
    for (const [name, trunk] of this.trunks) {
      if (nodes.some((n) => n.metadata.name === name)) continue;
      const goneAt = this.#nodeGoneAt.get(name) ?? now;
      this.#nodeGoneAt.set(name, goneAt);
      if (now < goneAt + NODE_DELETE_DELAY_MS) {
        wakes.push(goneAt + NODE_DELETE_DELAY_MS);
        continue;
      }
      for (const enis of trunk.pods.values()) for (const e of enis) await this.#ec2.deleteBranch(e.eniId, e.associationID).catch((error) => this.#log.error({ eni: e.eniId, error: String(error) }, "deleting a branch ENI of a deleted node failed"));
      for (const q of trunk.deleteQueue) await this.#ec2.deleteBranch(q.eniId, q.associationID).catch((error) => this.#log.error({ eni: q.eniId, error: String(error) }, "deleting a branch ENI of a deleted node failed"));
      this.trunks.delete(name);
      this.#nodeGoneAt.delete(name);
    }

    const pods = this.#cluster.list(PODS);
    for (const node of nodes) {
      const name = node.metadata.name ?? "";
      if (this.trunks.has(name) || !isManagedNode(node, cniNodes.get(name))) continue;
      const retryAt = this.#initRetryAt.get(name);
      if (retryAt !== undefined && now < retryAt) {
        if (Number.isFinite(retryAt)) wakes.push(retryAt);
        continue;
      }
      await this.#setUpNode(node, pods, now);
      const again = this.#initRetryAt.get(name);
      if (again !== undefined && Number.isFinite(again)) wakes.push(again);
    }

    for (const trunk of this.trunks.values()) {
      const onNode = pods.filter((p) => (p.spec as { nodeName?: string } | undefined)?.nodeName === trunk.nodeName);
      const live = new Set(onNode.filter((p) => !isFinished(p)).map((p) => p.metadata.uid ?? ""));
      for (const uid of [...trunk.pods.keys()]) if (!live.has(uid)) trunk.release(uid, now);
      // Cooled-down ENIs go first, so a pod waiting for capacity can have the room now.
      await releaseDue(this.#ec2, this.#log, trunk, now, cooldown);
      for (const pod of onNode) {
        if (isFinished(pod) || pod.metadata.deletionTimestamp !== undefined || podEniRequest(pod) === 0) continue;
        if (pod.metadata.annotations?.[POD_ENI] !== undefined || trunk.pods.has(pod.metadata.uid ?? "")) continue;
        const key = pod.metadata.uid ?? "";
        const at = this.#requeueAt.get(key);
        if (at !== undefined && now < at) {
          wakes.push(at);
          continue;
        }
        this.#requeueAt.delete(key);
        const delay = this.#annotationDelayMs?.(pod) ?? 0;
        if (delay > 0) {
          const seen = this.#firstSeen.get(key) ?? now;
          this.#firstSeen.set(key, seen);
          if (now < seen + delay) {
            wakes.push(seen + delay);
            continue;
          }
        }
        const outcome = await createAndAnnotate({ cluster: this.#cluster, ec2: this.#ec2, events: this.#events, log: this.#log }, trunk, pod);
        if (outcome === "at-capacity") {
          this.#requeueAt.set(key, now + cooldown);
          wakes.push(now + cooldown);
        } else if (outcome === "failed") {
          this.#requeueAt.set(key, now + INIT_RETRY_MS);
          wakes.push(now + INIT_RETRY_MS);
        }
      }
      const due = trunk.nextDueMs(cooldown);
      if (due !== undefined) wakes.push(due);
    }
    for (const key of [...this.#requeueAt.keys()]) if (!pods.some((p) => p.metadata.uid === key)) this.#requeueAt.delete(key);
    for (const key of [...this.#firstSeen.keys()]) if (!pods.some((p) => p.metadata.uid === key)) this.#firstSeen.delete(key);
    return wakes.length > 0 ? Math.min(...wakes) : undefined;
  }

  async #setUpNode(node: KubeObject, pods: KubeObject[], now: number): Promise<void> {
    const name = node.metadata.name ?? "";
    const instanceId = nodeInstanceId(node) ?? "";
    const linux = node.metadata.labels?.["kubernetes.io/os"] === "linux";
    try {
      const view = await this.#ec2.instance(instanceId);
      const limit = branchInterfaceLimit(view.instanceType);
      if (!linux || limit === undefined) {
        if (!this.#unsupported.has(name)) this.#events.record(node, "Warning", "Unsupported", `The instance type ${view.instanceType} is not supported for trunk interface (Security Group for Pods)`);
        this.#unsupported.add(name);
        this.#initRetryAt.set(name, Number.POSITIVE_INFINITY);
        return;
      }
      const trunk = await initTrunk(this.#ec2, this.#log, name, view, limit, pods, now);
      this.trunks.set(name, trunk);
      this.#initRetryAt.delete(name);
      const current = this.#cluster.get(NODES, undefined, name);
      if (current) this.#cluster.patch(NODES, current, { status: { capacity: { [POD_ENI]: String(limit) }, allocatable: { [POD_ENI]: String(limit) } } }, { subresource: "status" });
      this.#events.record(node, "Normal", "NodeTrunkInitiated", "The node has trunk interface initialized successfully");
    } catch (error) {
      this.#log.error({ node: name, error: String(error) }, "trunk initialization failed");
      const code = (error as { name?: string }).name;
      this.#events.record(node, "Warning", "TrunkENICreationFailed", `Failed to create trunk interface: Error Code: ${code ?? String(error)}`);
      this.#initRetryAt.set(name, now + INIT_RETRY_MS);
    }
  }
}

function isFinished(pod: KubeObject): boolean {
  const phase = (pod.status as { phase?: string } | undefined)?.phase;
  return phase === "Succeeded" || phase === "Failed";
}
