/**
 * Which policies a change of a pod, namespace or Service can alter, so only those are
 * reconciled again (upstream's event handlers). A pod matters to a policy it is a target of
 * (also through named ingress ports) or a peer of; named egress ports with no `to` or with
 * ipBlock peers make every pod matter (this project resolves them on destination pods).
 */
import { matches, type NetworkPolicy, type NetworkPolicyPeer, type Namespace, type Pod } from "./objects.ts";

/** Pod fields whose change alters resolution (upstream: labels, annotations, deletion, podIP, phase; hostIP too). */
export function podChangeMatters(old: Pod | undefined, current: Pod | undefined): boolean {
  if (old === undefined || current === undefined) return true;
  const view = (pod: Pod) => JSON.stringify([pod.metadata.labels ?? {}, pod.metadata.annotations ?? {}, pod.metadata.deletionTimestamp ?? "", pod.status?.podIP ?? "", pod.status?.phase ?? "", pod.status?.hostIP ?? ""]);
  return view(old) !== view(current);
}

function peers(policy: NetworkPolicy): NetworkPolicyPeer[] {
  return [...(policy.spec.ingress ?? []).flatMap((rule) => rule.from ?? []), ...(policy.spec.egress ?? []).flatMap((rule) => rule.to ?? [])];
}

/** Egress rules whose named ports are resolved on any pod of the cluster. */
function namedEgressAnywhere(policy: NetworkPolicy): boolean {
  return (policy.spec.egress ?? []).some((rule) => (rule.ports ?? []).some((port) => typeof port.port === "string") && (!rule.to?.length || rule.to.some((peer) => peer.ipBlock !== undefined)));
}

export function policyTouchesPod(policy: NetworkPolicy, pod: Pod, namespaces: ReadonlyMap<string, Namespace>): boolean {
  const podNs = pod.metadata.namespace ?? "";
  const policyNs = policy.metadata.namespace ?? "";
  if (podNs === policyNs && matches(policy.spec.podSelector ?? {}, pod.metadata.labels)) return true;
  if (namedEgressAnywhere(policy)) return true;
  return peers(policy).some((peer) => {
    if (peer.ipBlock !== undefined) return false;
    const nsOk = peer.namespaceSelector === undefined ? podNs === policyNs : matches(peer.namespaceSelector, namespaces.get(podNs)?.metadata.labels);
    return nsOk && matches(peer.podSelector ?? {}, pod.metadata.labels);
  });
}

export function policyUsesNamespaces(policy: NetworkPolicy): boolean {
  return peers(policy).some((peer) => peer.namespaceSelector !== undefined);
}

/** Services become ClusterIP entries of egress pod peers. */
export function policyUsesServices(policy: NetworkPolicy): boolean {
  return (policy.spec.egress ?? []).some((rule) => (rule.to ?? []).some((peer) => peer.ipBlock === undefined));
}
