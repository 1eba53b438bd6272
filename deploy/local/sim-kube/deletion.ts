// DELETE as the API server does it. A pod bound to a node is deleted gracefully: it gets
// deletionTimestamp and deletionGracePeriodSeconds (a MODIFIED event) and stays until it is
// deleted again with gracePeriodSeconds=0 (the kubelet, once its containers are gone). An object
// with finalizers stays, marked, until they are removed. propagationPolicy Foreground and
// Orphan add the garbage collector's finalizers; Background (the default) leaves dependents to
// the garbage collector once the owner is gone.
import { deletionIsDue, getObject, removeObject, subject } from "./operations.ts";
import type { Target } from "./operations.ts";
import { resourceKey } from "./resources.ts";
import type { ResourceDef } from "./resources.ts";
import { badRequest, conflict, invalid } from "./status.ts";
import type { KubeStore } from "./store.ts";
import { timestamp } from "./lifecycle.ts";
import type { KubeObject } from "./validate.ts";

export const FOREGROUND_FINALIZER = "foregroundDeletion";
export const ORPHAN_FINALIZER = "orphan";

export type PropagationPolicy = "Orphan" | "Background" | "Foreground";

export interface DeleteOptions {
  dryRun: boolean;
  gracePeriodSeconds?: number;
  propagationPolicy?: PropagationPolicy;
  preconditions?: { uid?: string; resourceVersion?: string };
}

const POLICIES: readonly string[] = ["Orphan", "Background", "Foreground"];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * DeleteOptions from a DELETE's body and query (the query wins, as kubectl and client-go
 * send either). Bad values are refused naming the field.
 */
export function parseDeleteOptions(body: unknown, query: (key: string) => string | undefined, dryRun: boolean): DeleteOptions {
  const options = isRecord(body) ? body : {};
  const graceText = query("gracePeriodSeconds");
  const grace = graceText !== undefined ? Number(graceText) : options.gracePeriodSeconds;
  if (grace !== undefined && grace !== null && !(typeof grace === "number" && Number.isInteger(grace))) {
    throw badRequest(`gracePeriodSeconds: must be an integer, got ${JSON.stringify(graceText ?? grace)}`);
  }
  let policy = query("propagationPolicy") ?? options.propagationPolicy;
  if (policy === undefined && typeof options.orphanDependents === "boolean") policy = options.orphanDependents ? "Orphan" : "Background";
  if (policy !== undefined && policy !== null && (typeof policy !== "string" || !POLICIES.includes(policy))) {
    throw invalid({ group: "", plural: "deleteoptions", kind: "DeleteOptions", name: "" }, [
      { field: "propagationPolicy", message: `Unsupported value: ${JSON.stringify(policy)}: supported values: "Foreground", "Background", "Orphan"`, type: "FieldValueNotSupported" },
    ]);
  }
  const preconditions = isRecord(options.preconditions) ? (options.preconditions as DeleteOptions["preconditions"]) : undefined;
  return {
    dryRun,
    ...(typeof grace === "number" ? { gracePeriodSeconds: grace } : {}),
    ...(typeof policy === "string" ? { propagationPolicy: policy as PropagationPolicy } : {}),
    ...(preconditions === undefined ? {} : { preconditions }),
  };
}

/**
 * Seconds a deletion waits for: a pod's requested or own terminationGracePeriodSeconds (30),
 * 0 when no kubelet runs it (unbound, or already finished); every other object 0.
 */
export function gracePeriodOf(def: ResourceDef, object: KubeObject, requested: number | undefined): number {
  if (!def.isPod) return 0;
  const spec = (object.spec ?? {}) as { nodeName?: string; terminationGracePeriodSeconds?: number };
  const phase = (object.status as { phase?: string } | undefined)?.phase;
  if ((spec.nodeName ?? "") === "" || phase === "Succeeded" || phase === "Failed") return 0;
  const period = requested ?? spec.terminationGracePeriodSeconds ?? 30;
  return period < 0 ? 1 : period;
}

function finalizersFor(current: KubeObject, policy: PropagationPolicy | undefined): string[] {
  const finalizers = [...(current.metadata.finalizers ?? [])];
  const wanted = policy === "Foreground" ? FOREGROUND_FINALIZER : policy === "Orphan" ? ORPHAN_FINALIZER : undefined;
  if (wanted !== undefined && !finalizers.includes(wanted)) finalizers.push(wanted);
  return finalizers;
}

/** Marks `current` as being deleted: removal after `grace` seconds and once its finalizers are gone. */
function markDeleted(store: KubeStore, current: KubeObject, grace: number, finalizers: string[]): KubeObject {
  const marked = structuredClone(current);
  const now = store.now();
  marked.metadata.deletionTimestamp = timestamp(new Date(now.getTime() + grace * 1000));
  marked.metadata.deletionGracePeriodSeconds = grace;
  if (finalizers.length > 0) marked.metadata.finalizers = finalizers;
  if (typeof marked.metadata.generation === "number") marked.metadata.generation += 1;
  return marked;
}

/** The object after the DELETE: gone from the store, or stored marked as being deleted. */
export function deleteObject(store: KubeStore, target: Target, name: string, options: DeleteOptions): KubeObject {
  const { def } = target;
  const current = getObject(store, target, name);
  const { preconditions } = options;
  if (preconditions?.uid !== undefined && preconditions.uid !== current.metadata.uid) {
    throw conflict(subject(def, name), `Precondition failed: UID in precondition: ${preconditions.uid}, UID in object meta: ${current.metadata.uid}`);
  }
  if (preconditions?.resourceVersion !== undefined && preconditions.resourceVersion !== current.metadata.resourceVersion) {
    throw conflict(subject(def, name), `Precondition failed: ResourceVersion in precondition: ${preconditions.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`);
  }
  const grace = gracePeriodOf(def, current, options.gracePeriodSeconds);
  let next: KubeObject;
  if (current.metadata.deletionTimestamp === undefined) {
    next = markDeleted(store, current, grace, finalizersFor(current, options.propagationPolicy));
  } else if (grace < (current.metadata.deletionGracePeriodSeconds ?? 0)) {
    // a second DELETE may only shorten the wait (the kubelet's final gracePeriodSeconds=0)
    next = markDeleted(store, current, grace, current.metadata.finalizers ?? []);
    next.metadata.generation = current.metadata.generation;
  } else {
    return current;
  }
  if (options.dryRun) return next;
  if (deletionIsDue(next)) return removeObject(store, def, current);
  return store.update(resourceKey(def), next);
}
