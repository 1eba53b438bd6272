// The three patch formats clients send: JSON patch (RFC 6902), JSON merge patch (RFC 7386)
// and a strategic merge patch close enough to Kubernetes' for the objects this API serves.
import { badRequest, KubeError } from "./status.ts";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export const JSON_PATCH = "application/json-patch+json";
export const MERGE_PATCH = "application/merge-patch+json";
export const STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json";

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value) as Json;
  }
  return result;
}

/** Lists Kubernetes merges by key in a strategic merge patch (the ones of pods and nodes). */
const MERGE_KEYS: Record<string, string> = {
  containers: "name",
  initContainers: "name",
  ephemeralContainers: "name",
  env: "name",
  volumes: "name",
  volumeMounts: "mountPath",
  volumeDevices: "devicePath",
  ports: "containerPort",
  conditions: "type",
  addresses: "type",
  imagePullSecrets: "name",
  hostAliases: "ip",
  ownerReferences: "uid",
  resourceClaims: "name",
};

/** Lists of strings merged as sets (`$deleteFromPrimitiveList/<key>` removes entries). */
const MERGED_PRIMITIVE_LISTS = new Set(["finalizers"]);

function mergeListByKey(current: Json[], patch: Json[], key: string): Json[] {
  const result = [...current];
  for (const item of patch) {
    if (!isObject(item)) continue;
    const index = result.findIndex((existing) => isObject(existing) && existing[key] === item[key]);
    if (item.$patch === "delete") {
      if (index >= 0) result.splice(index, 1);
      continue;
    }
    if (index >= 0) result[index] = strategicMergePatch(result[index], item) as Json;
    else result.push(strategicMergePatch({}, item) as Json);
  }
  return result;
}

/** `$setElementOrder/<key>`: the listed elements in that order, then any the patch did not list. */
function ordered(list: Json[], order: Json[], key: string): Json[] {
  const keyOf = (item: Json) => (isObject(item) ? item[key] : item);
  const wanted = order.map(keyOf);
  const listed = wanted.flatMap((value) => list.filter((item) => keyOf(item) === value));
  return [...listed, ...list.filter((item) => !wanted.includes(keyOf(item)))];
}

function directiveLists(patch: JsonObject, prefix: string): Map<string, Json[]> {
  const lists = new Map<string, Json[]>();
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith(prefix) && Array.isArray(value)) lists.set(key.slice(prefix.length), value);
  }
  return lists;
}

export function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  if (patch.$patch === "replace") {
    const { $patch: _ignored, ...rest } = patch;
    return structuredClone(rest);
  }
  const result: JsonObject = isObject(target) ? { ...target } : {};
  const order = directiveLists(patch, "$setElementOrder/");
  const removals = directiveLists(patch, "$deleteFromPrimitiveList/");
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith("$")) continue;
    if (value === null) {
      delete result[key];
      continue;
    }
    const mergeKey = MERGE_KEYS[key];
    const current = result[key];
    if (mergeKey !== undefined && Array.isArray(value) && Array.isArray(current)) {
      result[key] = mergeListByKey(current, value, mergeKey);
    } else if (MERGED_PRIMITIVE_LISTS.has(key) && Array.isArray(value) && Array.isArray(current)) {
      result[key] = [...current, ...value.filter((entry) => !current.includes(entry))];
    } else {
      result[key] = strategicMergePatch(current, value) as Json;
    }
  }
  for (const [key, doomed] of removals) {
    const current = result[key];
    if (Array.isArray(current)) result[key] = current.filter((entry) => !doomed.includes(entry));
  }
  for (const [key, wanted] of order) {
    const current = result[key];
    if (Array.isArray(current)) result[key] = ordered(current, wanted, MERGE_KEYS[key] ?? "");
  }
  if (Array.isArray(patch.$retainKeys)) {
    const retained = new Set(patch.$retainKeys);
    for (const key of Object.keys(result)) if (!retained.has(key)) delete result[key];
  }
  return result;
}

interface Operation {
  op: string;
  path: string;
  value?: unknown;
  from?: string;
}

function pointer(path: string): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) throw badRequest(`json patch: path "${path}" must start with "/"`);
  return path
    .slice(1)
    .split("/")
    .map((token) => token.replaceAll("~1", "/").replaceAll("~0", "~"));
}

function parentOf(document: unknown, tokens: string[], path: string): { parent: Json[] | JsonObject; last: string } {
  let node: unknown = document;
  for (const token of tokens.slice(0, -1)) {
    node = Array.isArray(node) ? node[Number(token)] : isObject(node) ? node[token] : undefined;
    if (node === undefined) throw new KubeError("Invalid", `json patch: path "${path}" does not exist`);
  }
  if (!Array.isArray(node) && !isObject(node)) throw new KubeError("Invalid", `json patch: path "${path}" does not exist`);
  return { parent: node, last: tokens[tokens.length - 1] ?? "" };
}

function read(document: unknown, path: string): unknown {
  let node: unknown = document;
  for (const token of pointer(path)) {
    node = Array.isArray(node) ? node[Number(token)] : isObject(node) ? node[token] : undefined;
    if (node === undefined) throw new KubeError("Invalid", `json patch: path "${path}" does not exist`);
  }
  return node;
}

function arrayIndex(list: Json[], token: string, path: string, forInsert: boolean): number {
  if (forInsert && token === "-") return list.length;
  const index = Number(token);
  const limit = forInsert ? list.length : list.length - 1;
  if (!/^\d+$/.test(token) || index > limit) throw new KubeError("Invalid", `json patch: index "${token}" out of range in "${path}"`);
  return index;
}

function remove(document: unknown, path: string): unknown {
  const { parent, last } = parentOf(document, pointer(path), path);
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, last, path, false), 1)[0];
  if (!(last in parent)) throw new KubeError("Invalid", `json patch: path "${path}" does not exist`);
  const removed = parent[last];
  delete parent[last];
  return removed;
}

function add(document: unknown, path: string, value: unknown, replace: boolean): unknown {
  const tokens = pointer(path);
  if (tokens.length === 0) return structuredClone(value);
  const { parent, last } = parentOf(document, tokens, path);
  const copy = structuredClone(value) as Json;
  if (Array.isArray(parent)) {
    const index = arrayIndex(parent, last, path, !replace);
    parent.splice(index, replace ? 1 : 0, copy);
  } else {
    if (replace && !(last in parent)) throw new KubeError("Invalid", `json patch: path "${path}" does not exist`);
    parent[last] = copy;
  }
  return document;
}

export function jsonPatch(target: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw badRequest("json patch: the body must be an array of operations");
  let document: unknown = structuredClone(target);
  for (const raw of operations as Operation[]) {
    if (!isObject(raw) || typeof raw.path !== "string") throw badRequest("json patch: every operation needs op and path");
    switch (raw.op) {
      case "add":
        document = add(document, raw.path, raw.value, false);
        break;
      case "replace":
        document = add(document, raw.path, raw.value, true);
        break;
      case "remove":
        remove(document, raw.path);
        break;
      case "test":
        if (JSON.stringify(read(document, raw.path)) !== JSON.stringify(raw.value)) {
          throw new KubeError("Invalid", `json patch: test failed at "${raw.path}"`);
        }
        break;
      case "move":
      case "copy": {
        if (typeof raw.from !== "string") throw badRequest(`json patch: ${raw.op} needs from`);
        const value = raw.op === "move" ? remove(document, raw.from) : structuredClone(read(document, raw.from));
        document = add(document, raw.path, value, false);
        break;
      }
      default:
        throw badRequest(`json patch: unknown op "${String(raw.op)}"`);
    }
  }
  return document;
}

/** Applies a patch body of the given content type (parameters after `;` ignored). */
export function applyPatch(contentType: string, target: unknown, patch: unknown): unknown {
  const mediaType = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  switch (mediaType) {
    case JSON_PATCH:
      return jsonPatch(target, patch);
    case MERGE_PATCH:
      return mergePatch(target, patch);
    case STRATEGIC_MERGE_PATCH:
      return strategicMergePatch(target, patch);
    default:
      throw new KubeError(
        "UnsupportedMediaType",
        `the body of the request was in an unknown format - accepted media types include: ${JSON_PATCH}, ${MERGE_PATCH}, ${STRATEGIC_MERGE_PATCH}`,
      );
  }
}
