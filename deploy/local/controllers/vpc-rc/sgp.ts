// SecurityGroupPolicy matching and the pod webhook's effect, as the VPC resource controller
// has them: the SGPs of the pod's namespace, each with a pod and/or ServiceAccount selector that
// must all match (`{}` matches everything), the union of their groups without duplicates; a
// non-hostNetwork pod that matches gets `vpc.amazonaws.com/pod-eni: "1"` in containers[0]'s
// requests and limits when it is created.
import type { KubeStore } from "../../sim-kube/store.ts";
import type { KubeObject } from "../../sim-kube/validate.ts";
import { requirementMatches } from "../node-fit.ts";

export const POD_ENI = "vpc.amazonaws.com/pod-eni";
export const SGP_KEY = "securitygrouppolicies.vpcresources.k8s.aws";

type Loose = Record<string, unknown>;
const isRecord = (v: unknown): v is Loose => typeof v === "object" && v !== null && !Array.isArray(v);

const SELECTOR_OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"];

/**
 * A metav1.LabelSelector against labels: matchLabels and matchExpressions all hold. An invalid
 * selector (unknown operator, In/NotIn without values) matches nothing, as upstream's
 * LabelSelectorAsSelector error leaves the SGP unmatched.
 */
export function labelSelectorMatches(selector: unknown, labels: Record<string, string> | undefined): boolean {
  if (!isRecord(selector)) return false;
  const have = labels ?? {};
  const matchLabels = isRecord(selector.matchLabels) ? selector.matchLabels : {};
  if (!Object.entries(matchLabels).every(([k, v]) => have[k] === v)) return false;
  const expressions = Array.isArray(selector.matchExpressions) ? selector.matchExpressions : [];
  return expressions.every((e) => {
    if (!isRecord(e) || typeof e.key !== "string" || typeof e.operator !== "string" || !SELECTOR_OPERATORS.includes(e.operator)) return false;
    const values = Array.isArray(e.values) ? e.values.filter((v): v is string => typeof v === "string") : [];
    if ((e.operator === "In" || e.operator === "NotIn") && values.length === 0) return false;
    return requirementMatches({ key: e.key, operator: e.operator, values }, have[e.key]);
  });
}

/** The security groups the SGPs of the pod's namespace give it (empty: none matches). */
export function matchingSecurityGroups(store: KubeStore, pod: KubeObject): string[] {
  const namespace = pod.metadata.namespace;
  const policies = store.list(SGP_KEY, namespace);
  if (policies.length === 0) return [];
  const spec = isRecord(pod.spec) ? pod.spec : {};
  const saName = typeof spec.serviceAccountName === "string" && spec.serviceAccountName !== "" ? spec.serviceAccountName : "default";
  // A missing ServiceAccount has no labels here (upstream denies the pod; see DESIGN-NOTES).
  const sa = store.get("serviceaccounts", namespace, saName);
  const groups: string[] = [];
  for (const sgp of policies) {
    const s = isRecord(sgp.spec) ? sgp.spec : {};
    const ids = isRecord(s.securityGroups) && Array.isArray(s.securityGroups.groupIds) ? s.securityGroups.groupIds.filter((g): g is string => typeof g === "string") : [];
    const hasPod = s.podSelector !== undefined && s.podSelector !== null;
    const hasSa = s.serviceAccountSelector !== undefined && s.serviceAccountSelector !== null;
    if ((!hasPod && !hasSa) || ids.length === 0) continue;
    if (hasPod && !labelSelectorMatches(s.podSelector, pod.metadata.labels)) continue;
    if (hasSa && !labelSelectorMatches(s.serviceAccountSelector, sa?.metadata.labels)) continue;
    groups.push(...ids);
  }
  return [...new Set(groups)];
}

/** The branch ENIs a pod asks for: the sum of its containers' pod-eni requests (limits when no request). */
export function podEniRequest(pod: KubeObject): number {
  const spec = isRecord(pod.spec) ? pod.spec : {};
  const containers = Array.isArray(spec.containers) ? spec.containers.filter(isRecord) : [];
  let total = 0;
  for (const c of containers) {
    const r = isRecord(c.resources) ? c.resources : {};
    const value = (isRecord(r.requests) ? r.requests[POD_ENI] : undefined) ?? (isRecord(r.limits) ? r.limits[POD_ENI] : undefined);
    const n = typeof value === "number" ? value : typeof value === "string" && /^\d+$/.test(value) ? Number(value) : 0;
    total += n;
  }
  return total;
}

/**
 * The mutating webhook (pod CREATE): a non-hostNetwork pod matching an SGP gets one pod-eni in
 * containers[0]'s limits and requests. Other resources and unmatched pods are left alone.
 */
export function podEniAdmission(resource: string, pod: KubeObject, store: KubeStore): void {
  if (resource !== "pods") return;
  const spec = isRecord(pod.spec) ? pod.spec : undefined;
  if (!spec || spec.hostNetwork === true) return;
  const first = Array.isArray(spec.containers) ? spec.containers[0] : undefined;
  if (!isRecord(first)) return;
  // The SGPs are read from the store, which cannot fail: upstream's denial on a list error has no counterpart.
  if (matchingSecurityGroups(store, pod).length === 0) return;
  const resources = isRecord(first.resources) ? first.resources : (first.resources = {});
  const limits = isRecord(resources.limits) ? resources.limits : (resources.limits = {});
  const requests = isRecord(resources.requests) ? resources.requests : (resources.requests = {});
  limits[POD_ENI] = "1";
  requests[POD_ENI] = "1";
}
