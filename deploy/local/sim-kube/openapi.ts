// Just enough OpenAPI v3 for kubectl: the root index of group versions, and per group version
// the PATCH operations tagged with their kind and the `fieldValidation` query parameter.
// kubectl reads that to learn the server validates fields itself, and then skips client-side
// schema validation (which would need full schemas this server does not have).
import type { ResourceDef } from "./resources.ts";

const SPEC_HASH = "sim0";

function gvPath(group: string, version: string): string {
  return group === "" ? `api/${version}` : `apis/${group}/${version}`;
}

export function openApiRoot(defs: readonly ResourceDef[]) {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const def of defs) {
    const path = gvPath(def.group, def.version);
    paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${SPEC_HASH}` };
  }
  return { paths };
}

function itemPath(def: ResourceDef): string {
  const scope = def.namespaced ? "namespaces/{namespace}/" : "";
  return `/${gvPath(def.group, def.version)}/${scope}${def.plural}/{name}`;
}

function patchOperation(def: ResourceDef) {
  const query = (name: string) => ({ name, in: "query", schema: { type: "string", uniqueItems: true } });
  return {
    operationId: `patch${def.kind}`,
    "x-kubernetes-action": "patch",
    "x-kubernetes-group-version-kind": { group: def.group, version: def.version, kind: def.kind },
    parameters: [query("dryRun"), query("fieldManager"), query("fieldValidation")],
    responses: { "200": { description: "OK" } },
  };
}

/** The OpenAPI v3 document of one group version (`api/v1`, `apis/apps/v1`), or undefined. */
export function openApiGroupVersion(all: readonly ResourceDef[], path: string) {
  const defs = all.filter((def) => gvPath(def.group, def.version) === path);
  if (defs.length === 0) return undefined;
  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes", version: "v1.32.0-sim" },
    paths: Object.fromEntries(defs.map((def) => [itemPath(def), { patch: patchOperation(def) }])),
    components: { schemas: {} },
  };
}
