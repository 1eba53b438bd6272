/**
 * The few fields of Kubernetes objects the controller reads (NetworkPolicy, Pod, Namespace,
 * Service), as loose types: objects come from the API as JSON, and a field the controller
 * does not know is never an error. Plus label-selector matching (metav1.LabelSelectorAsSelector).
 */
import type { LabelSelector } from "../../../shared/contracts/policy.ts";

export interface Meta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  deletionTimestamp?: string;
  generateName?: string;
  ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }>;
}

export type Protocol = "TCP" | "UDP" | "SCTP";

export interface NetworkPolicyPort {
  protocol?: Protocol;
  port?: number | string;
  endPort?: number;
}

export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

export interface NetworkPolicy {
  metadata: Meta;
  spec: {
    podSelector?: LabelSelector;
    policyTypes?: Array<"Ingress" | "Egress">;
    ingress?: Array<{ ports?: NetworkPolicyPort[]; from?: NetworkPolicyPeer[] }>;
    egress?: Array<{ ports?: NetworkPolicyPort[]; to?: NetworkPolicyPeer[] }>;
  };
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: Protocol;
}

export interface Pod {
  metadata: Meta;
  spec?: { hostNetwork?: boolean; containers?: Array<{ name?: string; ports?: ContainerPort[] }> };
  status?: { phase?: string; podIP?: string; hostIP?: string };
}

export interface Namespace {
  metadata: Meta;
}

export interface ServicePort {
  name?: string;
  protocol?: Protocol;
  port: number;
  targetPort?: number | string;
}

export interface Service {
  metadata: Meta;
  spec?: { clusterIP?: string; selector?: Record<string, string>; ports?: ServicePort[] };
}

/** The annotation ipamd writes with ANNOTATE_POD_IP=true; used while status.podIP is empty. */
export const POD_IPS_ANNOTATION = "vpc.amazonaws.com/pod-ips";

/** status.podIP, else the pod-ips annotation, else "". */
export function podIp(pod: Pod): string {
  return pod.status?.podIP || pod.metadata.annotations?.[POD_IPS_ANNOTATION] || "";
}

/** Has an address and has not finished (upstream's IsPodNetworkReady). */
export function isNetworkReady(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return podIp(pod) !== "" && phase !== "Succeeded" && phase !== "Failed";
}

/**
 * Whether labels satisfy a selector: every matchLabels pair and every expression. An absent
 * selector is handled by the caller (it means "everything" in a peer, "nothing" nowhere).
 */
export function matches(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const set = labels ?? {};
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (set[key] !== value) return false;
  for (const expression of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(set, expression.key);
    const values = expression.values ?? [];
    switch (expression.operator) {
      case "In":
        if (!has || !values.includes(set[expression.key]!)) return false;
        break;
      case "NotIn":
        if (has && values.includes(set[expression.key]!)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
    }
  }
  return true;
}

/** namespace/name. */
export function keyOf(meta: Meta): string {
  return `${meta.namespace ?? ""}/${meta.name}`;
}
