// The DaemonSet controller: keeps one pod of every DaemonSet on each node that should run it
// (daemonset-plan.ts decides), bound to that node at creation (its node may be NotReady: the
// CNI is a DaemonSet itself), rolls a changed template out node by node (rollout.ts) unless
// the strategy is OnDelete, replaces failed pods with a growing back-off, and keeps the
// DaemonSet's status as kubectl get ds and kubectl rollout status read it.
import type { KubeObject } from "../sim-kube/validate.ts";
import { DAEMONSETS, NODES, PODS } from "./cluster.ts";
import type { ClusterApi } from "./cluster.ts";
import { daemonPodFor, isControlledBy, isPodUpdated, templateGeneration, templateHash, templateOf } from "./daemon-pods.ts";
import { daemonSetStatus, planDaemonSet } from "./daemonset-plan.ts";
import type { DaemonSetStatus } from "./daemonset-plan.ts";
import { EventRecorder } from "./events.ts";
import { ReconcileLoop, SILENT_LOG } from "./reconcile-loop.ts";
import type { ControllerLog } from "./reconcile-loop.ts";
import { createOwnedPod, deleteOwnedPod } from "./owned-pods.ts";
import { isPodAvailable } from "./rollout.ts";

export const DAEMONSET_CONTROLLER = "daemonset-controller";

export interface DaemonSetControllerOptions {
  log?: ControllerLog;
  /** First wait before a failed pod is replaced; doubles up to 15 min (default 1 s). */
  failedPodBackoffMs?: number;
}

const MAX_BACKOFF_MS = 15 * 60_000;
const STATUS_FIELDS: ReadonlyArray<keyof DaemonSetStatus> = [
  "currentNumberScheduled", "desiredNumberScheduled", "numberMisscheduled", "numberReady",
  "observedGeneration", "updatedNumberScheduled", "numberAvailable", "numberUnavailable",
];

function minReadySecondsOf(daemonSet: KubeObject): number {
  return (daemonSet.spec as { minReadySeconds?: number } | undefined)?.minReadySeconds ?? 0;
}

export class DaemonSetController {
  readonly #loop: ReconcileLoop;
  readonly #events: EventRecorder;
  readonly #log: ControllerLog;
  readonly #firstBackoffMs: number;
  /** `<DaemonSet uid>/<node>` → back-off of failed pods there. */
  readonly #backoff = new Map<string, { delayMs: number; until: number }>();

  constructor(private readonly cluster: ClusterApi, options: DaemonSetControllerOptions = {}) {
    this.#log = options.log ?? SILENT_LOG;
    this.#loop = new ReconcileLoop(DAEMONSET_CONTROLLER, () => this.#pass(), this.#log);
    this.#events = new EventRecorder(cluster, DAEMONSET_CONTROLLER);
    this.#firstBackoffMs = options.failedPodBackoffMs ?? 1000;
  }

  start(): void {
    this.#loop.start((onChange) => this.cluster.subscribe([DAEMONSETS, PODS, NODES], onChange));
  }

  stop(): void {
    this.#loop.stop();
  }

  #pass(): number | undefined {
    const nodes = this.cluster.list(NODES);
    const pods = this.cluster.list(PODS);
    const daemonSets = this.cluster.list(DAEMONSETS);
    const uids = new Set(daemonSets.map((daemonSet) => daemonSet.metadata.uid));
    for (const key of this.#backoff.keys()) if (!uids.has(key.slice(0, key.indexOf("/")))) this.#backoff.delete(key);
    let again: number | undefined;
    for (const daemonSet of daemonSets) {
      if (daemonSet.metadata.deletionTimestamp !== undefined) continue;
      try {
        const wait = this.#sync(daemonSet, nodes, pods.filter((pod) => isControlledBy(pod, daemonSet)));
        if (wait !== undefined) again = Math.min(again ?? Infinity, wait);
      } catch (error) {
        this.#log.warn({ daemonSet: `${daemonSet.metadata.namespace}/${daemonSet.metadata.name}`, error: String(error) }, "daemonset sync failed");
        again = Math.min(again ?? Infinity, 1000);
      }
    }
    return again;
  }

  /** One DaemonSet: create, delete, then report; returns when it wants another pass. */
  #sync(daemonSet: KubeObject, nodes: KubeObject[], pods: KubeObject[]): number | undefined {
    const hash = templateHash(templateOf(daemonSet));
    const generation = templateGeneration(daemonSet);
    const minReadySeconds = minReadySecondsOf(daemonSet);
    const now = this.cluster.now();
    const plan = planDaemonSet(daemonSet, nodes, pods, (pod) => isPodUpdated(pod, hash, generation), (pod) => isPodAvailable(pod, minReadySeconds, now));
    let again: number | undefined;
    for (const pod of plan.failed) {
      const wait = this.#failedPodWait(daemonSet, pod);
      if (wait > 0) again = Math.min(again ?? Infinity, wait);
      else this.#deletePod(daemonSet, pod);
    }
    for (const pod of plan.remove) this.#deletePod(daemonSet, pod);
    for (const nodeName of plan.create) this.#createPod(daemonSet, nodeName, hash);

    const fresh = this.cluster.list(PODS, daemonSet.metadata.namespace).filter((pod) => isControlledBy(pod, daemonSet));
    const { status, availableInMs } = daemonSetStatus(daemonSet, nodes, fresh, hash, generation, this.cluster.now());
    this.#writeStatus(daemonSet, status);
    if (availableInMs !== undefined) again = Math.min(again ?? Infinity, availableInMs + 50);
    return again;
  }

  /** 0 when a failed pod may be replaced now (and the next failure waits twice as long). */
  #failedPodWait(daemonSet: KubeObject, pod: KubeObject): number {
    const key = `${daemonSet.metadata.uid}/${(pod.spec as { nodeName?: string }).nodeName}`;
    const entry = this.#backoff.get(key);
    if (entry !== undefined && Date.now() < entry.until) return entry.until - Date.now();
    const delayMs = entry === undefined ? this.#firstBackoffMs : Math.min(MAX_BACKOFF_MS, entry.delayMs * 2);
    this.#backoff.set(key, { delayMs, until: Date.now() + delayMs });
    return 0;
  }

  #createPod(daemonSet: KubeObject, nodeName: string, hash: string): void {
    createOwnedPod(this.cluster, this.#events, daemonSet, daemonPodFor(daemonSet, nodeName, hash));
  }

  #deletePod(daemonSet: KubeObject, pod: KubeObject): void {
    deleteOwnedPod(this.cluster, this.#events, daemonSet, pod);
  }

  #writeStatus(daemonSet: KubeObject, status: DaemonSetStatus): void {
    const current = this.cluster.get(DAEMONSETS, daemonSet.metadata.namespace, daemonSet.metadata.name ?? "");
    if (current === undefined || current.metadata.uid !== daemonSet.metadata.uid) return;
    // fields absent from the new status are removed (null), the others set
    const patch = Object.fromEntries(STATUS_FIELDS.map((field) => [field, status[field] ?? null]));
    this.cluster.patch(DAEMONSETS, current, { status: patch }, { subresource: "status" });
  }
}
