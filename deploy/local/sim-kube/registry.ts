// The resources served at a moment: the built-in table plus one resource per served version of
// every stored CustomResourceDefinition, so a CRD applied with kubectl becomes a resource with
// its group, version, plural and scope (with watch, selectors, /status when declared). Custom
// objects are stored as given: no schema validation, no conversion between versions.
import { RESOURCES, resourceKey } from "./resources.ts";
import type { ResourceDef } from "./resources.ts";
import type { KubeStore } from "./store.ts";
import type { KubeObject } from "./validate.ts";

export const CRD_KEY = "customresourcedefinitions.apiextensions.k8s.io";

type Loose = Record<string, unknown>;

function isRecord(value: unknown): value is Loose {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** The resources one CRD declares (its served versions), skipping any a built-in already serves. */
export function resourcesOfCrd(crd: KubeObject): ResourceDef[] {
  const spec = isRecord(crd.spec) ? crd.spec : {};
  const names = isRecord(spec.names) ? spec.names : {};
  const group = text(spec.group);
  const plural = text(names.plural);
  const kind = text(names.kind);
  if (group === "" || plural === "" || kind === "" || !Array.isArray(spec.versions)) return [];
  const shortNames = Array.isArray(names.shortNames) ? names.shortNames.filter((name): name is string => typeof name === "string") : [];
  return spec.versions
    .filter((version): version is Loose => isRecord(version) && text(version.name) !== "" && version.served !== false)
    .filter((version) => !RESOURCES.some((def) => def.group === group && def.version === version.name && def.plural === plural))
    .map((version) => ({
      group,
      version: text(version.name),
      plural,
      singular: text(names.singular) || kind.toLowerCase(),
      kind,
      namespaced: spec.scope === "Namespaced",
      shortNames,
      hasStatus: isRecord(version.subresources) && isRecord(version.subresources.status),
      fields: {},
      generation: true,
    }));
}

export class ResourceRegistry {
  constructor(private readonly store: KubeStore) {}

  /** Every resource served now, built-ins first. */
  all(): ResourceDef[] {
    return [...RESOURCES, ...this.store.list(CRD_KEY).flatMap(resourcesOfCrd)];
  }

  find(group: string, version: string, plural: string): ResourceDef | undefined {
    return this.all().find((def) => def.group === group && def.version === version && def.plural === plural);
  }
}

/** The store keys of the objects a CRD's resources hold (removed with the CRD). */
export function storedKeysOfCrd(crd: KubeObject): string[] {
  return [...new Set(resourcesOfCrd(crd).map(resourceKey))];
}
