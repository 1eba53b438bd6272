// The verbs on one resource against the store, with the API server's checks: kind and
// namespace agree with the URL, names are valid, resourceVersion preconditions, dry-run,
// server-owned metadata, defaults and immutable fields. Deletion is in deletion.ts.
import { prepareCreate, prepareUpdate, sameJson } from "./lifecycle.ts";
import { applyPatch } from "./patch.ts";
import { CRD_KEY, storedKeysOfCrd } from "./registry.ts";
import { apiVersionOf, fieldValue, resourceKey, supportedFields } from "./resources.ts";
import type { ResourceDef } from "./resources.ts";
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import { alreadyExists, badRequest, conflict, invalid, notFound } from "./status.ts";
import type { Subject } from "./status.ts";
import type { KubeStore } from "./store.ts";
import { validateFinalizers } from "./update-rules.ts";
import { validateMetadata } from "./validate.ts";
import type { KubeObject } from "./validate.ts";

export interface Target {
  def: ResourceDef;
  /** Undefined for cluster-scoped resources and for lists across all namespaces. */
  namespace: string | undefined;
}

export type ObjectFilter = (object: KubeObject) => boolean;

export function subject(def: ResourceDef, name: string): Subject {
  return { group: def.group, plural: def.plural, kind: def.kind, name };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function selectorFilter(def: ResourceDef, labelSelector?: string, fieldSelector?: string): ObjectFilter {
  const labels = parseLabelSelector(labelSelector);
  const fields = parseFieldSelector(fieldSelector, supportedFields(def));
  return (object) =>
    matchesLabels(labels, object.metadata.labels) && matchesFields(fields, (field) => fieldValue(def, object, field));
}

export function listObjects(store: KubeStore, target: Target, filter: ObjectFilter): KubeObject[] {
  return store.list(resourceKey(target.def), target.namespace).filter(filter);
}

export function getObject(store: KubeStore, target: Target, name: string): KubeObject {
  const object = store.get(resourceKey(target.def), target.namespace, name);
  if (object === undefined) throw notFound(subject(target.def, name));
  return object;
}

/** Checks a body sent for this URL and fills apiVersion, kind and namespace. */
function checkBody(target: Target, body: unknown): KubeObject {
  const { def } = target;
  if (!isRecord(body)) throw badRequest("the body of the request must be a JSON object");
  const metadata = body.metadata ?? {};
  if (!isRecord(metadata)) throw badRequest("metadata: must be an object");
  const object = { ...body, metadata: { ...metadata } } as KubeObject;
  const apiVersion = apiVersionOf(def);
  if (object.kind !== undefined && object.kind !== def.kind) {
    throw badRequest(`the API version in the data (${String(object.apiVersion)}) and kind (${String(object.kind)}) do not match the request's ${apiVersion} ${def.kind}`);
  }
  if (object.apiVersion !== undefined && object.apiVersion !== apiVersion) {
    throw badRequest(`the API version in the data (${String(object.apiVersion)}) does not match the expected API version (${apiVersion})`);
  }
  object.apiVersion = apiVersion;
  object.kind = def.kind;
  if (def.namespaced) {
    const inBody = object.metadata.namespace;
    if (inBody !== undefined && inBody !== "" && inBody !== target.namespace) {
      throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
    }
    object.metadata.namespace = target.namespace;
  } else {
    delete object.metadata.namespace;
  }
  return object;
}

export function validate(def: ResourceDef, object: KubeObject, current?: KubeObject): void {
  const causes = [...validateMetadata(object), ...(def.validate?.(object) ?? [])];
  if (current !== undefined) causes.push(...(def.validateUpdate?.(current, object) ?? []), ...validateFinalizers(current, object));
  if (causes.length > 0) throw invalid(subject(def, object.metadata.name ?? ""), causes);
}

function randomSuffix(): string {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  return Array.from(crypto.getRandomValues(new Uint8Array(5)), (byte) => alphabet[byte % alphabet.length]).join("");
}

/** generateName's base is cut so the name with its 5 random characters stays within 63. */
const MAX_GENERATE_NAME_BASE = 58;

export function createObject(store: KubeStore, target: Target, body: unknown, dryRun: boolean): KubeObject {
  const { def } = target;
  const object = checkBody(target, body);
  if ((object.metadata.name ?? "") === "" && object.metadata.generateName) {
    object.metadata.name = `${object.metadata.generateName.slice(0, MAX_GENERATE_NAME_BASE)}${randomSuffix()}`;
  }
  prepareCreate(def, object, store.now());
  def.defaults?.(object);
  store.admitCreate(resourceKey(def), object);
  validate(def, object);
  if (target.namespace !== undefined && store.get("namespaces", undefined, target.namespace) === undefined) {
    throw notFound({ group: "", plural: "namespaces", kind: "Namespace", name: target.namespace });
  }
  const name = object.metadata.name ?? "";
  if (store.get(resourceKey(def), target.namespace, name) !== undefined) throw alreadyExists(subject(def, name));
  if (dryRun) return object;
  return store.create(resourceKey(def), object);
}

/** Whether an object being deleted has nothing left to wait for. */
export function deletionIsDue(object: KubeObject): boolean {
  return object.metadata.deletionTimestamp !== undefined && (object.metadata.finalizers ?? []).length === 0 && (object.metadata.deletionGracePeriodSeconds ?? 0) === 0;
}

/**
 * Stores `next` in place of `current`: identity fields cannot change, a stale
 * resourceVersion is a conflict, status follows the status-subresource rules, and a
 * change that changes nothing does not bump the resourceVersion. Removing the last
 * finalizer of an object being deleted removes the object.
 */
function replaceObject(store: KubeStore, target: Target, current: KubeObject, next: KubeObject, subresource: string | undefined, dryRun: boolean): KubeObject {
  const { def } = target;
  const name = current.metadata.name ?? "";
  const wanted = next.metadata.resourceVersion;
  if (wanted !== undefined && wanted !== "" && wanted !== current.metadata.resourceVersion) {
    throw conflict(subject(def, name), "the object has been modified; please apply your changes to the latest version and try again");
  }
  if (next.metadata.name !== undefined && next.metadata.name !== name) {
    throw badRequest(`the name of the object (${next.metadata.name}) does not match the name on the URL (${name})`);
  }
  const merged: KubeObject = subresource === "status"
    ? { ...current, status: next.status }
    : { ...next, metadata: { ...next.metadata } };
  if (subresource !== "status" && def.hasStatus) merged.status = current.status;
  if (merged.status === undefined) delete merged.status;
  merged.apiVersion = current.apiVersion;
  merged.kind = current.kind;
  prepareUpdate(def, current, merged);
  def.defaults?.(merged);
  validate(def, merged, current);
  if (sameJson(merged, current) || dryRun) return merged;
  if (deletionIsDue(merged)) return removeObject(store, def, merged);
  return store.update(resourceKey(def), merged);
}

export function updateObject(store: KubeStore, target: Target, name: string, body: unknown, subresource: string | undefined, dryRun: boolean): KubeObject {
  const current = getObject(store, target, name);
  return replaceObject(store, target, current, checkBody(target, body), subresource, dryRun);
}

export function patchObject(store: KubeStore, target: Target, name: string, contentType: string, patch: unknown, subresource: string | undefined, dryRun: boolean): KubeObject {
  const current = getObject(store, target, name);
  const patched = applyPatch(contentType, current, patch);
  if (!isRecord(patched) || !isRecord(patched.metadata)) throw badRequest("the patch removed the object's metadata");
  return replaceObject(store, target, current, checkBody(target, patched), subresource, dryRun);
}

/** Removes an object from the store for good; a CRD takes its custom objects with it. */
export function removeObject(store: KubeStore, def: ResourceDef, object: KubeObject): KubeObject {
  const removed = store.delete(resourceKey(def), object.metadata.namespace, object.metadata.name ?? "") ?? object;
  if (resourceKey(def) === CRD_KEY) {
    for (const key of storedKeysOfCrd(removed)) {
      for (const custom of store.list(key)) store.delete(key, custom.metadata.namespace, custom.metadata.name ?? "");
    }
  }
  return removed;
}
