// Events as client-go's recorder writes them (core/v1, what kubectl describe lists): one
// Event per object, reason and message, whose count and lastTimestamp grow when it repeats.
// Best effort: an event that cannot be written is dropped, never an error of the caller.
import { timestamp } from "../sim-kube/lifecycle.ts";
import type { KubeObject } from "../sim-kube/validate.ts";
import { EVENTS } from "./cluster.ts";
import type { ClusterApi } from "./cluster.ts";

export type EventType = "Normal" | "Warning";

/** Events remembered for aggregation; past this the oldest are forgotten (a repeat starts a new Event). */
const REMEMBERED = 1000;

export class EventRecorder {
  readonly #names = new Map<string, { namespace: string; name: string }>();
  #sequence = 0;

  constructor(
    private readonly cluster: ClusterApi,
    private readonly component: string,
  ) {}

  record(involved: KubeObject, type: EventType, reason: string, message: string): void {
    const namespace = involved.metadata.namespace ?? "default";
    const key = `${involved.metadata.uid}\n${type}\n${reason}\n${message}`;
    const now = timestamp(this.cluster.now());
    try {
      const known = this.#names.get(key);
      const existing = known === undefined ? undefined : this.cluster.get(EVENTS, known.namespace, known.name);
      if (existing !== undefined) {
        const count = typeof existing.count === "number" ? existing.count : 1;
        this.cluster.patch(EVENTS, existing, { count: count + 1, lastTimestamp: now });
        return;
      }
      const name = `${involved.metadata.name}.${(Date.now() * 1000 + (this.#sequence++ % 1000)).toString(16)}`;
      this.cluster.create(EVENTS, namespace, {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name, namespace },
        involvedObject: {
          apiVersion: involved.apiVersion,
          kind: involved.kind,
          namespace: involved.metadata.namespace,
          name: involved.metadata.name,
          uid: involved.metadata.uid,
          resourceVersion: involved.metadata.resourceVersion,
        },
        reason,
        message,
        type,
        source: { component: this.component },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
        reportingComponent: this.component,
        reportingInstance: this.component,
      });
      if (this.#names.size >= REMEMBERED) this.#names.delete(this.#names.keys().next().value as string);
      this.#names.set(key, { namespace, name });
    } catch {
      // events are best effort, as for client-go's recorder
    }
  }
}
