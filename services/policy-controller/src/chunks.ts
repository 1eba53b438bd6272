/**
 * Splitting one policy's resolved content over PolicyEndpoint objects (upstream's
 * `--endpoint-chunk-size`, default 200, capping each of the three lists per object): a pure
 * planner. Entries an existing object already holds and that are still wanted stay where they
 * are; stale ones go; new ones fill the free room of existing objects first, then new objects
 * are created for the remainder; objects left empty are deleted, but a policy always keeps one
 * object (even one selecting nothing). An object whose spec comes out unchanged is not written.
 */
import type { EndpointInfo, PodEndpoint, PolicyEndpointSpec } from "../../../shared/contracts/policy.ts";
import type { Resolved } from "./resolve.ts";

export const DEFAULT_CHUNK_SIZE = 200;

export interface ExistingEndpoint {
  name: string;
  spec: PolicyEndpointSpec;
}

/** What every object of the policy repeats. */
export type SpecHeader = Pick<PolicyEndpointSpec, "policyRef" | "podSelector" | "podIsolation">;

export interface ChunkPlan {
  create: PolicyEndpointSpec[];
  update: Array<{ name: string; spec: PolicyEndpointSpec }>;
  delete: string[];
}

type ListName = "ingress" | "egress" | "podSelectorEndpoints";
const LISTS: readonly ListName[] = ["ingress", "egress", "podSelectorEndpoints"];

function entryKey(entry: EndpointInfo | PodEndpoint): string {
  if ("podIP" in entry) return `${entry.namespace}/${entry.name}|${entry.podIP}|${entry.hostIP}`;
  return JSON.stringify([entry.cidr ?? "", entry.except ?? [], entry.ports ?? [], entry.domainName ?? ""]);
}

function listOf(spec: PolicyEndpointSpec, list: ListName): Array<EndpointInfo | PodEndpoint> {
  return (spec[list] ?? []) as Array<EndpointInfo | PodEndpoint>;
}

/** The spec as it is written: header, then the three lists (empty ones left out, as upstream's omitempty). */
function buildSpec(header: SpecHeader, lists: Record<ListName, Array<EndpointInfo | PodEndpoint>>): PolicyEndpointSpec {
  const spec: PolicyEndpointSpec = { ...structuredClone(header) };
  if (lists.podSelectorEndpoints.length > 0) spec.podSelectorEndpoints = lists.podSelectorEndpoints as PodEndpoint[];
  if (lists.ingress.length > 0) spec.ingress = lists.ingress as EndpointInfo[];
  if (lists.egress.length > 0) spec.egress = lists.egress as EndpointInfo[];
  return spec;
}

/** Key-order-insensitive JSON, so a spec read back from the API compares equal to the one written. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0));
    return `{${entries.sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export function sameSpec(a: PolicyEndpointSpec, b: PolicyEndpointSpec): boolean {
  return canonical(a) === canonical(b);
}

export function planChunks(header: SpecHeader, wanted: Resolved, existing: readonly ExistingEndpoint[], chunkSize = DEFAULT_CHUNK_SIZE): ChunkPlan {
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new Error(`chunkSize: must be a positive integer, got ${chunkSize}`);
  const objects = [...existing].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const kept = objects.map(() => ({ ingress: [], egress: [], podSelectorEndpoints: [] }) as Record<ListName, Array<EndpointInfo | PodEndpoint>>);
  const fresh: Array<Record<ListName, Array<EndpointInfo | PodEndpoint>>> = [];
  for (const list of LISTS) {
    const remaining = new Map(listOf(wanted as PolicyEndpointSpec, list).map((entry) => [entryKey(entry), entry]));
    // keep what is still wanted where it is (once: a duplicate in a second object is dropped)
    objects.forEach((object, i) => {
      for (const entry of listOf(object.spec, list)) {
        const key = entryKey(entry);
        if (!remaining.has(key) || kept[i]![list].length >= chunkSize) continue;
        kept[i]![list].push(remaining.get(key)!);
        remaining.delete(key);
      }
    });
    const rest = [...remaining.values()];
    // fill free room of existing objects, then of objects created in this pass, then create more
    for (const slots of [...kept, ...fresh]) {
      while (rest.length > 0 && slots[list].length < chunkSize) slots[list].push(rest.shift()!);
    }
    while (rest.length > 0) {
      const slots: Record<ListName, Array<EndpointInfo | PodEndpoint>> = { ingress: [], egress: [], podSelectorEndpoints: [] };
      slots[list] = rest.splice(0, chunkSize);
      fresh.push(slots);
    }
  }
  const plan: ChunkPlan = { create: fresh.map((lists) => buildSpec(header, lists)), update: [], delete: [] };
  const isEmpty = (lists: Record<ListName, unknown[]>) => LISTS.every((list) => lists[list].length === 0);
  objects.forEach((object, i) => {
    const lists = kept[i]!;
    // a policy keeps at least one object: the first existing one when nothing else remains
    const lastOne = plan.create.length === 0 && i === 0 && objects.slice(1).every((_, j) => isEmpty(kept[j + 1]!));
    if (isEmpty(lists) && !lastOne) {
      plan.delete.push(object.name);
      return;
    }
    const spec = buildSpec(header, lists);
    if (!sameSpec(spec, object.spec)) plan.update.push({ name: object.name, spec });
  });
  if (objects.length === 0 && plan.create.length === 0) plan.create.push(buildSpec(header, { ingress: [], egress: [], podSelectorEndpoints: [] }));
  return plan;
}
