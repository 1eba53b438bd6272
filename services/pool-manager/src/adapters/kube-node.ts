/**
 * Pure readings of Kubernetes objects, as upstream reads them: which ENIConfig a node asks
 * for, whether the node is tainted unschedulable, whether a pod still needs a VPC address.
 * Plain JSON shapes (no client library types) so they are table-tested without a server.
 */

/** The label the resource controller / operators set to pin an ENIConfig (checked first). */
export const EXTERNAL_ENI_CONFIG_LABEL = "vpc.amazonaws.com/externalEniConfig";
export const DEFAULT_ENI_CONFIG = "default";
export const UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable";

export interface NodeLike {
  metadata?: { name?: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { unschedulable?: boolean; taints?: { key: string; effect: string; value?: string }[] };
  status?: { capacity?: Record<string, string> };
}

/** status.capacity.pods as a positive integer, or undefined. */
export function nodeCapacityPods(node: NodeLike): number | undefined {
  const v = Number(node.status?.capacity?.pods);
  return Number.isInteger(v) && v > 0 ? v : undefined;
}

export interface PodLike {
  metadata?: { uid?: string; namespace?: string; name?: string; deletionTimestamp?: unknown; resourceVersion?: string };
  spec?: { nodeName?: string; hostNetwork?: boolean };
  status?: { phase?: string; podIP?: string };
}

/**
 * upstream eniconfig.GetNodeSpecificENIConfigName: the label vpc.amazonaws.com/externalEniConfig,
 * else the annotation named by ENI_CONFIG_ANNOTATION_DEF, else the label named by
 * ENI_CONFIG_LABEL_DEF, else "default". A key that is present wins even with an empty value
 * (Go's `v, ok := m[k]`).
 */
export function eniConfigNameOf(node: NodeLike, annotationKey: string, labelKey: string): { name: string; source: string } {
  const labels = node.metadata?.labels ?? {};
  const annotations = node.metadata?.annotations ?? {};
  if (Object.hasOwn(labels, EXTERNAL_ENI_CONFIG_LABEL)) return { name: labels[EXTERNAL_ENI_CONFIG_LABEL]!, source: `label ${EXTERNAL_ENI_CONFIG_LABEL}` };
  if (Object.hasOwn(annotations, annotationKey)) return { name: annotations[annotationKey]!, source: `annotation ${annotationKey}` };
  if (Object.hasOwn(labels, labelKey)) return { name: labels[labelKey]!, source: `label ${labelKey}` };
  return { name: DEFAULT_ENI_CONFIG, source: "default" };
}

/** Tainted node.kubernetes.io/unschedulable:NoSchedule (what cordon adds), or spec.unschedulable. */
export function nodeIsUnschedulable(node: NodeLike): boolean {
  if (node.spec?.unschedulable === true) return true;
  return (node.spec?.taints ?? []).some((t) => t.key === UNSCHEDULABLE_TAINT && t.effect === "NoSchedule");
}

/** A pod on this node that will ask the CNI for a VPC address and has none yet. */
export function podNeedsAddress(pod: PodLike): boolean {
  if (pod.spec?.hostNetwork === true) return false;
  if (pod.metadata?.deletionTimestamp) return false;
  const phase = pod.status?.phase;
  if (phase === "Succeeded" || phase === "Failed") return false;
  return !pod.status?.podIP;
}

/** ENIConfig spec as read from the CRD object; undefined fields are reported, not guessed. */
export function eniConfigSpecOf(obj: unknown): { subnet?: string; securityGroups: string[] } {
  const spec = (obj as { spec?: { subnet?: unknown; securityGroups?: unknown } } | undefined)?.spec ?? {};
  const subnet = typeof spec.subnet === "string" && spec.subnet !== "" ? spec.subnet : undefined;
  const securityGroups = Array.isArray(spec.securityGroups) ? spec.securityGroups.filter((g): g is string => typeof g === "string" && g !== "") : [];
  return { ...(subnet ? { subnet } : {}), securityGroups };
}

/** CNINode spec.features with `feature` (and its value) added; unchanged when already there. */
export function withFeature(features: { name: string; value?: string }[], feature: { name: string; value?: string }): { name: string; value?: string }[] | undefined {
  const at = features.findIndex((f) => f.name === feature.name);
  if (at >= 0 && (features[at]!.value ?? "") === (feature.value ?? "")) return undefined;
  const next = features.filter((f) => f.name !== feature.name);
  next.push(feature.value ? { name: feature.name, value: feature.value } : { name: feature.name });
  return next;
}

/** A short, single-line description of a client error: HTTP code and the Status message, or the network error. */
export function describeKubeError(err: unknown): string {
  const e = err as { code?: unknown; body?: unknown; message?: unknown; name?: unknown; statusCode?: unknown };
  const code = typeof e?.code === "number" ? e.code : typeof e?.statusCode === "number" ? e.statusCode : undefined;
  if (code !== undefined) {
    let msg = "";
    try {
      const body = typeof e.body === "string" ? JSON.parse(e.body) : e.body;
      if (body && typeof body === "object" && typeof (body as { message?: unknown }).message === "string") msg = (body as { message: string }).message;
    } catch {
      msg = typeof e.body === "string" ? e.body.slice(0, 120) : "";
    }
    return `HTTP ${code}${msg ? ` ${msg}` : ""}`;
  }
  const first = String(e?.message ?? err).split("\n")[0] ?? "";
  const tag = typeof e?.code === "string" ? e.code : "";
  return tag && !first.includes(tag) ? `${tag}: ${first}` : first;
}

/** The node's pods as last listed/watched: which of them still need an address. */
export class PodDemandCache {
  private readonly pods = new Map<string, boolean>();
  /** Lists applied (the first is the initial sync; more are re-lists after errors or 410). */
  lists = 0;
  live = false;

  private keyOf(p: PodLike): string {
    return p.metadata?.uid ?? `${p.metadata?.namespace}/${p.metadata?.name}`;
  }

  replace(items: PodLike[]): void {
    this.lists++;
    this.pods.clear();
    for (const p of items) this.pods.set(this.keyOf(p), podNeedsAddress(p));
    this.live = true;
  }

  /** A watch event; answers whether it changed anything. */
  apply(type: string, pod: PodLike): boolean {
    if (type === "ADDED" || type === "MODIFIED") this.pods.set(this.keyOf(pod), podNeedsAddress(pod));
    else if (type === "DELETED") this.pods.delete(this.keyOf(pod));
    else return false;
    return true;
  }

  /** Pods needing an address; 0 while not live (no stale demand while blind). */
  pending(): number {
    if (!this.live) return 0;
    let n = 0;
    for (const needs of this.pods.values()) if (needs) n++;
    return n;
  }

  get size(): number {
    return this.pods.size;
  }
}

/** upstream's MissingIAMPermissions Warning, as a core/v1 Event on the Node. */
/** What a Warning event is about: the Node, or (MY_POD_NAME, as upstream) the aws-node pod in kube-system. */
export interface EventSubject {
  kind: "Node" | "Pod";
  name: string;
  namespace?: string;
  uid?: string | undefined;
}

export function iamWarningEvent(nodeName: string, on: EventSubject, action: string, detail: string | undefined, nowIso: string) {
  return {
    metadata: { generateName: `${on.name}.`, ...(on.namespace ? { namespace: on.namespace } : {}) },
    involvedObject: { apiVersion: "v1", kind: on.kind, name: on.name, ...(on.namespace ? { namespace: on.namespace } : {}), ...(on.uid ? { uid: on.uid } : {}) },
    reason: "MissingIAMPermissions",
    message: `Unauthorized operation: failed to call ec2:${action} due to missing IAM permissions; attach the policy the VPC CNI needs (AmazonEKS_CNI_Policy) to the node's role${detail ? ` (${detail.split("\n")[0]})` : ""}`,
    type: "Warning",
    source: { component: "aws-node", host: nodeName },
    reportingComponent: "aws-node",
    reportingInstance: nodeName,
    firstTimestamp: nowIso,
    lastTimestamp: nowIso,
    count: 1,
  };
}
