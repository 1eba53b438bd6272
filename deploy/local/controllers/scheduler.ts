// A minimal default-scheduler: binds every pod without a node (and without another
// schedulerName) round robin over the nodes it fits (node-fit.ts), through pods/binding, with a
// Scheduled event. A pod no node fits stays Pending with PodScheduled=False (Unschedulable)
// and a FailedScheduling event, and is tried again when a node changes (or after `retryMs`).
import { timestamp } from "../sim-kube/lifecycle.ts";
import type { KubeObject } from "../sim-kube/validate.ts";
import { NODES, PODS } from "./cluster.ts";
import type { ClusterApi } from "./cluster.ts";
import { EventRecorder } from "./events.ts";
import { misfit, unavailableMessage } from "./node-fit.ts";
import type { Misfit, PodPlacement } from "./node-fit.ts";
import { ReconcileLoop, SILENT_LOG } from "./reconcile-loop.ts";
import type { ControllerLog } from "./reconcile-loop.ts";

export const SCHEDULER_NAME = "default-scheduler";

export interface SchedulerOptions {
  log?: ControllerLog;
  /** An unschedulable pod is tried again after this long even if no node changed (default 60 s). */
  retryMs?: number;
}

interface PodCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

function phaseOf(pod: KubeObject): string | undefined {
  return (pod.status as { phase?: string } | undefined)?.phase;
}

function isFinished(pod: KubeObject): boolean {
  const phase = phaseOf(pod);
  return phase === "Succeeded" || phase === "Failed";
}

/** A pod this scheduler should place now. */
export function needsScheduling(pod: KubeObject): boolean {
  const spec = (pod.spec ?? {}) as { nodeName?: string; schedulerName?: string };
  return (spec.nodeName ?? "") === "" && (spec.schedulerName ?? SCHEDULER_NAME) === SCHEDULER_NAME && pod.metadata.deletionTimestamp === undefined && !isFinished(pod);
}

/** Pods bound to each node that still take a place there. */
export function podsPerNode(pods: readonly KubeObject[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const pod of pods) {
    const nodeName = (pod.spec as { nodeName?: string } | undefined)?.nodeName;
    if (nodeName && !isFinished(pod)) counts.set(nodeName, (counts.get(nodeName) ?? 0) + 1);
  }
  return counts;
}

export class Scheduler {
  readonly #loop: ReconcileLoop;
  readonly #events: EventRecorder;
  readonly #retryMs: number;
  readonly #log: ControllerLog;
  /** Pod uid → when it was last found unschedulable, and the node changes seen then. */
  readonly #unschedulable = new Map<string, { nodeChanges: number; at: number }>();
  #nodeChanges = 0;
  #roundRobin = 0;

  constructor(private readonly cluster: ClusterApi, options: SchedulerOptions = {}) {
    this.#log = options.log ?? SILENT_LOG;
    this.#loop = new ReconcileLoop("scheduler", () => this.#pass(), this.#log);
    this.#events = new EventRecorder(cluster, SCHEDULER_NAME);
    this.#retryMs = options.retryMs ?? 60_000;
  }

  start(): void {
    this.#loop.start((onChange) => this.cluster.subscribe([PODS, NODES], (change) => {
      if (change.resource === "nodes") this.#nodeChanges += 1;
      onChange();
    }));
  }

  stop(): void {
    this.#loop.stop();
  }

  #pass(): number | undefined {
    const nodes = this.cluster.list(NODES);
    const pods = this.cluster.list(PODS);
    const counts = podsPerNode(pods);
    const waiting = new Set<string>();
    let retryIn: number | undefined;
    for (const pod of pods.filter(needsScheduling)) {
      const uid = pod.metadata.uid ?? "";
      const last = this.#unschedulable.get(uid);
      if (last !== undefined && last.nodeChanges === this.#nodeChanges && Date.now() < last.at + this.#retryMs) {
        waiting.add(uid);
        retryIn = Math.min(retryIn ?? Infinity, last.at + this.#retryMs - Date.now());
        continue;
      }
      try {
        if (this.#schedule(pod, nodes, counts)) continue;
        this.#unschedulable.set(uid, { nodeChanges: this.#nodeChanges, at: Date.now() });
        retryIn = Math.min(retryIn ?? Infinity, this.#retryMs);
      } catch (error) {
        this.#log.warn({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, error: String(error) }, "scheduling failed");
        retryIn = Math.min(retryIn ?? Infinity, 1000);
      }
      waiting.add(uid);
    }
    for (const uid of this.#unschedulable.keys()) if (!waiting.has(uid)) this.#unschedulable.delete(uid);
    return retryIn;
  }

  /** Binds the pod to the next node it fits; false when none does. */
  #schedule(pod: KubeObject, nodes: readonly KubeObject[], counts: Map<string, number>): boolean {
    const placement = (pod.spec ?? {}) as PodPlacement;
    const misfits: Misfit[] = [];
    const fitting: string[] = [];
    for (const node of nodes) {
      const name = node.metadata.name ?? "";
      const reason = misfit(placement, node, counts.get(name) ?? 0);
      if (reason === undefined) fitting.push(name);
      else misfits.push(reason);
    }
    if (fitting.length === 0) {
      this.#markUnschedulable(pod, unavailableMessage(nodes.length, misfits));
      return false;
    }
    const nodeName = fitting[this.#roundRobin++ % fitting.length]!;
    this.cluster.bind(pod, nodeName);
    counts.set(nodeName, (counts.get(nodeName) ?? 0) + 1);
    this.#events.record(pod, "Normal", "Scheduled", `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${nodeName}`);
    return true;
  }

  #markUnschedulable(pod: KubeObject, message: string): void {
    const conditions = (pod.status as { conditions?: PodCondition[] } | undefined)?.conditions ?? [];
    const current = conditions.find((condition) => condition.type === "PodScheduled");
    if (current?.status !== "False" || current.reason !== "Unschedulable" || current.message !== message) {
      const condition = { type: "PodScheduled", status: "False", reason: "Unschedulable", message, lastProbeTime: null, lastTransitionTime: timestamp(this.cluster.now()) };
      this.cluster.patch(PODS, pod, { status: { conditions: [condition] } }, { subresource: "status" });
    }
    this.#events.record(pod, "Warning", "FailedScheduling", message);
  }
}
