// The pods/binding subresource: how a scheduler assigns a pod to a node. The only way to set
// spec.nodeName of a stored pod; a pod already assigned, or being deleted, is a conflict.
import { getObject, isRecord, validate } from "./operations.ts";
import type { Target } from "./operations.ts";
import { timestamp } from "./lifecycle.ts";
import { resourceKey } from "./resources.ts";
import { badRequest, conflict } from "./status.ts";
import type { KubeStore } from "./store.ts";
import type { KubeObject } from "./validate.ts";

export interface BindingStatus {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Success";
  code: 201;
}

type Condition = { type: string; status: string; lastProbeTime?: string | null; lastTransitionTime?: string };

/** Sets (or replaces) the condition of `condition.type`, keeping the others in order. */
export function withCondition(conditions: unknown, condition: Condition): Condition[] {
  const list = Array.isArray(conditions) ? (conditions as Condition[]) : [];
  const index = list.findIndex((existing) => existing.type === condition.type);
  if (index < 0) return [...list, condition];
  return list.map((existing, at) => (at === index ? condition : existing));
}

export function bindPod(store: KubeStore, target: Target, name: string, body: unknown, dryRun: boolean): BindingStatus {
  const subject = { group: "", plural: "pods/binding", kind: "Binding", name };
  if (!isRecord(body)) throw badRequest("the body of the request must be a Binding object");
  if (body.kind !== undefined && body.kind !== "Binding") throw badRequest(`the kind of the body must be Binding, got ${JSON.stringify(body.kind)}`);
  const metadata = isRecord(body.metadata) ? body.metadata : {};
  if (metadata.name !== undefined && metadata.name !== name) throw badRequest(`the name of the binding (${String(metadata.name)}) does not match the name on the URL (${name})`);
  const bindTo = isRecord(body.target) ? body.target : {};
  if (typeof bindTo.name !== "string" || bindTo.name === "") throw badRequest("target.name: Required value");
  if (bindTo.kind !== undefined && bindTo.kind !== "" && bindTo.kind !== "Node") throw badRequest(`target.kind: must be Node, got ${JSON.stringify(bindTo.kind)}`);

  const pod: KubeObject = getObject(store, target, name);
  if (typeof metadata.uid === "string" && metadata.uid !== "" && metadata.uid !== pod.metadata.uid) {
    throw conflict(subject, `Precondition failed: UID in precondition: ${metadata.uid}, UID in object meta: ${pod.metadata.uid}`);
  }
  if (pod.metadata.deletionTimestamp !== undefined) throw conflict(subject, `pod ${name} is being deleted, cannot be assigned to a host`);
  const spec = (pod.spec ?? {}) as Record<string, unknown>;
  if (typeof spec.nodeName === "string" && spec.nodeName !== "") {
    throw conflict(subject, `pod ${name} is already assigned to node "${spec.nodeName}"`);
  }
  spec.nodeName = bindTo.name;
  pod.spec = spec;
  if (isRecord(metadata.annotations)) pod.metadata.annotations = { ...pod.metadata.annotations, ...(metadata.annotations as Record<string, string>) };
  const status = (pod.status ?? {}) as Record<string, unknown>;
  status.conditions = withCondition(status.conditions, { type: "PodScheduled", status: "True", lastProbeTime: null, lastTransitionTime: timestamp(store.now()) });
  pod.status = status;
  validate(target.def, pod);
  if (!dryRun) store.update(resourceKey(target.def), pod);
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 };
}
