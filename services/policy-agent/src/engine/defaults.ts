/**
 * The kernel's default for a pod it holds no state for (pure). Standard: open both ways (a
 * miss in the dispatch maps falls through to the base chains' accept). Strict: denied both
 * ways when its host veth is named with one of the catch-all prefixes (render.ts
 * catchAllRule), else open. So a pod in its mode's default state (nearly every new pod: its
 * PolicyEndpoints can only list it once it has an address) needs no chain, no dispatch
 * element and no transaction; only pods whose state differs get chains.
 */
import type { DirectionState, PodPolicyState } from "../../../../shared/contracts/policy.ts";
import { invalidState, type DirectionModel, type PodModel } from "./model.ts";
import type { Direction } from "./render.ts";

/** A catch-all prefix is written into the table as `<prefix>*`: letters and digits only. */
const PREFIX = /^[A-Za-z0-9]{1,15}$/;

export function checkDenyPrefixes(prefixes: readonly string[] | undefined, field: string): string[] {
  const out = [...new Set(prefixes ?? [])];
  out.forEach((p, i) => {
    if (!PREFIX.test(p)) throw invalidState(`${field}.${i}`, `${JSON.stringify(p)} is not a veth prefix (1-15 letters or digits)`);
  });
  return out.sort();
}

export const coveredBy = (prefixes: readonly string[], veth: string): boolean => prefixes.some((p) => veth.startsWith(p));

const isDeny = (d: DirectionModel) => d.kind === "rules" && d.groups.length === 0;

/** The directions in which `pod` differs from what a miss gives it: only those are dispatched to its chains. */
export function dispatchedDirections(pod: PodModel, denyPrefixes: readonly string[]): Direction[] {
  const missDenies = coveredBy(denyPrefixes, pod.hostVeth);
  return (["egress", "ingress"] as const).filter((dir) => (missDenies ? !isDeny(pod[dir]) : pod[dir].kind !== "open"));
}

/** True when the kernel needs nothing for `pod`: both directions are what a miss gives. */
export function isDefaultPod(pod: PodModel, denyPrefixes: readonly string[]): boolean {
  return dispatchedDirections(pod, denyPrefixes).length === 0;
}

/** What a miss gives in direction `dir` for `veth`, given the catch-all prefixes the kernel holds (undefined: none readable). */
export function missState(denyPrefixes: Record<Direction, readonly string[] | undefined>, dir: Direction, veth: string): DirectionState {
  return coveredBy(denyPrefixes[dir] ?? [], veth) ? { kind: "deny" } : { kind: "open" };
}

/** A pod the agent knows of, as programmed() reports one the kernel holds nothing for. */
export function absentPod(known: Pick<PodPolicyState, "namespace" | "name" | "hostVeth" | "addresses">, denyPrefixes: Record<Direction, readonly string[] | undefined>): PodPolicyState {
  const { namespace, name, hostVeth, addresses } = known;
  return { namespace, name, hostVeth, addresses: [...addresses], ingress: missState(denyPrefixes, "ingress", hostVeth), egress: missState(denyPrefixes, "egress", hostVeth) };
}
