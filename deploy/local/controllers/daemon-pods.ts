// The pods a DaemonSet owns: built from its template for one node (named `<ds>-<5 chars>`,
// owned by the DaemonSet as controller, labelled with the template's hash and generation,
// pinned to the node by node affinity and bound to it at creation), and how to tell which of
// them run the current template. Pure.
import { TEMPLATE_GENERATION_ANNOTATION } from "../sim-kube/lifecycle.ts";
import type { KubeObject } from "../sim-kube/validate.ts";
import type { PodPlacement, Toleration } from "./node-fit.ts";

export const REVISION_HASH_LABEL = "controller-revision-hash";
export const TEMPLATE_GENERATION_LABEL = "pod-template-generation";

type Loose = Record<string, unknown>;

function isRecord(value: unknown): value is Loose {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** JSON with object keys sorted at every level: equal templates give equal text. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (isRecord(value)) {
    const entries = Object.keys(value).sort().filter((key) => value[key] !== undefined);
    return `{${entries.map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** 32-bit FNV-1a. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** The label value of a template's revision, in the alphabet Kubernetes uses for generated names. */
export function templateHash(template: unknown): string {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  return [...String(fnv1a(canonical(template)))].map((digit) => alphabet[digit.charCodeAt(0) % alphabet.length]).join("");
}

export function templateOf(daemonSet: KubeObject): Loose {
  const spec = isRecord(daemonSet.spec) ? daemonSet.spec : {};
  return isRecord(spec.template) ? spec.template : {};
}

export function templateGeneration(daemonSet: KubeObject): string | undefined {
  return daemonSet.metadata.annotations?.[TEMPLATE_GENERATION_ANNOTATION];
}

/** Whether `pod` runs the DaemonSet's current template (by hash, or by template generation). */
export function isPodUpdated(pod: KubeObject, hash: string, generation: string | undefined): boolean {
  const labels = pod.metadata.labels ?? {};
  return labels[REVISION_HASH_LABEL] === hash || (generation !== undefined && labels[TEMPLATE_GENERATION_LABEL] === generation);
}

export function isControlledBy(pod: KubeObject, owner: KubeObject): boolean {
  return (pod.metadata.ownerReferences ?? []).some((reference) => reference.controller === true && reference.uid === owner.metadata.uid);
}

/**
 * What every DaemonSet pod tolerates, whatever its template says: node conditions that do not
 * stop a node agent (not ready, unreachable, pressure, unschedulable) and, with host
 * networking, a node whose network is not ready yet.
 */
export function daemonTolerations(hostNetwork: boolean): Toleration[] {
  const tolerations: Toleration[] = [
    { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute" },
    { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute" },
    { key: "node.kubernetes.io/disk-pressure", operator: "Exists", effect: "NoSchedule" },
    { key: "node.kubernetes.io/memory-pressure", operator: "Exists", effect: "NoSchedule" },
    { key: "node.kubernetes.io/pid-pressure", operator: "Exists", effect: "NoSchedule" },
    { key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" },
  ];
  if (hostNetwork) tolerations.push({ key: "node.kubernetes.io/network-unavailable", operator: "Exists", effect: "NoSchedule" });
  return tolerations;
}

/** The template's tolerations plus the DaemonSet ones it does not already have. */
export function withDaemonTolerations(spec: Loose): Toleration[] {
  const own = Array.isArray(spec.tolerations) ? (spec.tolerations as Toleration[]) : [];
  const missing = daemonTolerations(spec.hostNetwork === true).filter(
    (added) => !own.some((existing) => existing.key === added.key && existing.effect === added.effect),
  );
  return [...own, ...missing];
}

/** The template's placement as the DaemonSet controller judges nodes with it. */
export function daemonPlacement(daemonSet: KubeObject): PodPlacement {
  const spec = isRecord(templateOf(daemonSet).spec) ? (templateOf(daemonSet).spec as Loose) : {};
  return { ...(spec as PodPlacement), tolerations: withDaemonTolerations(spec) };
}

/** The pod of `daemonSet` for `nodeName`, ready to create. */
export function daemonPodFor(daemonSet: KubeObject, nodeName: string, hash: string): KubeObject {
  const template = structuredClone(templateOf(daemonSet));
  const metadata = isRecord(template.metadata) ? template.metadata : {};
  const spec = isRecord(template.spec) ? template.spec : {};
  const affinity = isRecord(spec.affinity) ? spec.affinity : {};
  const nodeAffinity = isRecord(affinity.nodeAffinity) ? affinity.nodeAffinity : {};
  const generation = templateGeneration(daemonSet);
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      generateName: `${daemonSet.metadata.name}-`,
      namespace: daemonSet.metadata.namespace,
      labels: {
        ...(metadata.labels as Record<string, string> | undefined),
        [REVISION_HASH_LABEL]: hash,
        ...(generation === undefined ? {} : { [TEMPLATE_GENERATION_LABEL]: generation }),
      },
      ...(isRecord(metadata.annotations) ? { annotations: metadata.annotations as Record<string, string> } : {}),
      ownerReferences: [
        { apiVersion: "apps/v1", kind: "DaemonSet", name: daemonSet.metadata.name ?? "", uid: daemonSet.metadata.uid ?? "", controller: true, blockOwnerDeletion: true },
      ],
    },
    spec: {
      ...spec,
      nodeName,
      tolerations: withDaemonTolerations(spec),
      affinity: {
        ...affinity,
        nodeAffinity: {
          ...nodeAffinity,
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: [nodeName] }] }],
          },
        },
      },
    },
  };
}
