// Events about pods, as the kubelet records them: one Event per (pod, container, reason,
// message), its count and lastTimestamp raised when it happens again, so `kubectl describe
// pod` shows "(x4 over 2m)" rather than a list. Written in the background: an API outage
// loses events, never blocks a pod.
import { createHash } from "node:crypto";
import type { KubeApi } from "./api.ts";
import { kubeTime, type Pod } from "./pod-types.ts";

export type EventType = "Normal" | "Warning";

interface Recorded {
  name: string;
  namespace: string;
  count: number;
  firstTimestamp: string;
}

const MAX_REMEMBERED = 4096;

export class EventRecorder {
  private readonly seen = new Map<string, Recorded>();
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly api: KubeApi,
    private readonly nodeName: string,
    private readonly onError: (message: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** `container` names the container the event is about (fieldPath spec.containers{name}). */
  record(pod: Pod, type: EventType, reason: string, message: string, container?: { name: string; init: boolean }): void {
    const namespace = pod.metadata.namespace ?? "default";
    const podName = pod.metadata.name ?? "";
    const uid = pod.metadata.uid ?? "";
    const fieldPath = container ? `spec.${container.init ? "initContainers" : "containers"}{${container.name}}` : undefined;
    const key = createHash("sha1").update([uid, fieldPath ?? "", reason, message].join("\0")).digest("hex");
    const at = kubeTime(this.now());
    const known = this.seen.get(key);
    if (known) {
      known.count++;
      const { namespace: n, name, count } = known;
      this.enqueue(() => this.api.patchEvent(n, name, { count, lastTimestamp: at }));
      return;
    }
    const name = `${podName}.${this.now().toString(16)}${key.slice(0, 4)}`;
    this.seen.set(key, { name, namespace, count: 1, firstTimestamp: at });
    if (this.seen.size > MAX_REMEMBERED) this.seen.delete(this.seen.keys().next().value as string);
    this.enqueue(() =>
      this.api.createEvent(namespace, {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name, namespace },
        involvedObject: { kind: "Pod", apiVersion: "v1", namespace, name: podName, uid, ...(fieldPath ? { fieldPath } : {}) },
        reason,
        message,
        type,
        count: 1,
        firstTimestamp: at,
        lastTimestamp: at,
        source: { component: "kubelet", host: this.nodeName },
        reportingComponent: "kubelet",
        reportingInstance: this.nodeName,
      }),
    );
  }

  /** Resolves once every event recorded so far was written (or failed). */
  flush(): Promise<void> {
    return this.chain.then(() => undefined);
  }

  private enqueue(write: () => Promise<unknown>): void {
    this.chain = this.chain.then(write).catch((e: Error) => this.onError(`event: ${e.message}`));
  }
}
