// Metadata the API server owns: what a create fills in whatever the client sent (uid,
// creationTimestamp, generation), what an update keeps from the stored object (identity,
// deletion state), and when `generation` moves (a spec change, never status or metadata).
import type { ResourceDef } from "./resources.ts";
import type { KubeObject } from "./validate.ts";

/** The annotation apps/v1 DaemonSets carry their template generation in; pods get it as a label. */
export const TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation";

const SERVER_OWNED = ["uid", "creationTimestamp", "resourceVersion", "generation", "deletionTimestamp", "deletionGracePeriodSeconds"] as const;

/** Kubernetes timestamps have whole seconds. */
export function timestamp(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, "Z");
}

/** Deep equality that ignores key order (JSON documents). */
export function sameJson(a: unknown, b: unknown): boolean {
  return Bun.deepEquals(a, b);
}

/** The object without metadata (and without status where /status owns it): what `generation` tracks. */
function specPart(def: ResourceDef, object: KubeObject): Record<string, unknown> {
  const { metadata: _metadata, status, apiVersion: _apiVersion, kind: _kind, ...rest } = object;
  return def.hasStatus ? rest : { ...rest, status };
}

function templateOf(object: KubeObject): unknown {
  return (object.spec as { template?: unknown } | undefined)?.template;
}

export function prepareCreate(def: ResourceDef, object: KubeObject, now: Date): void {
  for (const key of SERVER_OWNED) delete object.metadata[key];
  object.metadata.uid = crypto.randomUUID();
  object.metadata.creationTimestamp = timestamp(now);
  if (def.generation) object.metadata.generation = 1;
  if (def.kind === "DaemonSet") {
    object.metadata.annotations = { ...object.metadata.annotations, [TEMPLATE_GENERATION_ANNOTATION]: "1" };
  }
}

/**
 * Fills `next` (what the client wants stored) with what only the server changes: identity and
 * deletion state from `current`, `generation` bumped when the spec changed (only through the
 * main endpoint; /status never changes the spec), and a DaemonSet's template generation.
 */
export function prepareUpdate(def: ResourceDef, current: KubeObject, next: KubeObject): void {
  const kept: Record<string, unknown> = next.metadata;
  for (const key of ["name", "namespace", ...SERVER_OWNED]) {
    if (current.metadata[key] === undefined) delete kept[key];
    else kept[key] = current.metadata[key];
  }
  const generation = current.metadata.generation;
  if (typeof generation === "number" && !sameJson(specPart(def, current), specPart(def, next))) {
    next.metadata.generation = generation + 1;
  }
  if (def.kind === "DaemonSet") {
    const previous = Number(current.metadata.annotations?.[TEMPLATE_GENERATION_ANNOTATION] ?? "0");
    const changed = !sameJson(templateOf(current), templateOf(next));
    next.metadata.annotations = { ...next.metadata.annotations, [TEMPLATE_GENERATION_ANNOTATION]: String(changed ? previous + 1 : previous) };
  }
}
