// Legacy (non-aggregated) discovery documents, built from the resource table. kubectl falls
// back to these when the answer is not an aggregated discovery document.
import { VERBS } from "./resources.ts";
import type { ResourceDef } from "./resources.ts";

export const SERVER_VERSION = {
  major: "1",
  minor: "32",
  gitVersion: "v1.32.0-sim",
  gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean",
  buildDate: "2025-01-01T00:00:00Z",
  goVersion: "go1.23.0",
  compiler: "gc",
  platform: "linux/amd64",
};

function groupVersions(defs: readonly ResourceDef[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const def of defs) {
    if (def.group === "") continue;
    const versions = groups.get(def.group) ?? [];
    if (!versions.includes(def.version)) versions.push(def.version);
    groups.set(def.group, versions);
  }
  return groups;
}

export function coreVersions(serverAddress: string) {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
  };
}

function apiGroup(name: string, versions: string[]) {
  const entries = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions: entries, preferredVersion: entries[0] };
}

export function groupList(defs: readonly ResourceDef[]) {
  return {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: [...groupVersions(defs)].map(([name, versions]) => apiGroup(name, versions)),
  };
}

export function groupDocument(defs: readonly ResourceDef[], group: string) {
  const versions = groupVersions(defs).get(group);
  return versions === undefined ? undefined : { kind: "APIGroup", apiVersion: "v1", ...apiGroup(group, versions) };
}

function resourceEntries(def: ResourceDef) {
  const main = {
    name: def.plural,
    singularName: def.singular,
    namespaced: def.namespaced,
    kind: def.kind,
    verbs: VERBS,
    ...(def.shortNames.length > 0 ? { shortNames: def.shortNames } : {}),
  };
  const entries: Array<Record<string, unknown>> = [main];
  if (def.hasStatus) entries.push({ name: `${def.plural}/status`, singularName: "", namespaced: def.namespaced, kind: def.kind, verbs: ["get", "patch", "update"] });
  if (def.isPod) entries.push({ name: `${def.plural}/binding`, singularName: "", namespaced: true, kind: "Binding", verbs: ["create"] });
  return entries;
}

/** The APIResourceList of one group version ("" group is the core /api/v1), or undefined. */
export function resourceList(all: readonly ResourceDef[], group: string, version: string) {
  const defs = all.filter((def) => def.group === group && def.version === version);
  if (defs.length === 0) return undefined;
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: group === "" ? version : `${group}/${version}`,
    resources: defs.flatMap(resourceEntries),
  };
}
