/**
 * What one NetworkPolicy resolves to: the PolicyEndpoint content (selected pods, ingress and
 * egress entries), computed from a snapshot of pods, namespaces and Services. A pure function:
 * the reconciler feeds it the watched objects. Follows upstream's controller rule by rule
 * (docs/DESIGN-NOTES.md, "Network policy controller"), with one deliberate difference: named
 * egress ports also work with no `to` and with ipBlock peers, as the Kubernetes e2e suite
 * expects, by emitting one entry per destination pod that has the named port.
 */
import type { EndpointInfo, PodEndpoint, PolicyPort } from "../../../shared/contracts/policy.ts";
import { contains, parseCidr } from "../../../shared/ip.ts";
import { isNetworkReady, matches, podIp, type NetworkPolicy, type NetworkPolicyPeer, type NetworkPolicyPort, type Namespace, type Pod, type Service } from "./objects.ts";
import { dedupPorts, isNamed, numericPort, portsForPod, servicePorts } from "./ports.ts";

/** The objects resolution reads. */
export interface ClusterView {
  /** Pods of one namespace, or of every namespace when undefined. */
  pods(namespace?: string): readonly Pod[];
  namespaces(): readonly Namespace[];
  services(namespace: string): readonly Service[];
}

export interface Resolved {
  podSelectorEndpoints: PodEndpoint[];
  ingress: EndpointInfo[];
  egress: EndpointInfo[];
}

const ANY = ["0.0.0.0/0", "::/0"];

function anyPeer(ports: PolicyPort[]): EndpointInfo[] {
  return ANY.map((cidr) => ({ cidr, ports }));
}

function ipBlockEntry(block: NonNullable<NetworkPolicyPeer["ipBlock"]>, ports: PolicyPort[]): EndpointInfo {
  return { cidr: block.cidr, ...(block.except?.length ? { except: [...block.except] } : {}), ports };
}

/** Pods the policy applies to: its namespace, its podSelector; hostNetwork pods are not selected. */
function targetPods(policy: NetworkPolicy, view: ClusterView): Pod[] {
  const selector = policy.spec.podSelector ?? {};
  return view.pods(policy.metadata.namespace).filter((pod) => matches(selector, pod.metadata.labels));
}

export function podSelectorEndpoints(policy: NetworkPolicy, view: ClusterView): PodEndpoint[] {
  return targetPods(policy, view)
    .filter((pod) => pod.spec?.hostNetwork !== true && isNetworkReady(pod))
    .map((pod) => ({ hostIP: pod.status?.hostIP ?? "", podIP: podIp(pod), name: pod.metadata.name, namespace: pod.metadata.namespace ?? "" }));
}

/** The namespaces a pod peer reaches: the policy's own without a namespaceSelector. */
function peerNamespaces(policy: NetworkPolicy, peer: NetworkPolicyPeer, view: ClusterView): string[] {
  if (peer.namespaceSelector === undefined) return [policy.metadata.namespace ?? ""];
  const selector = peer.namespaceSelector;
  return view.namespaces().filter((ns) => matches(selector, ns.metadata.labels)).map((ns) => ns.metadata.name);
}

function peerPods(namespace: string, peer: NetworkPolicyPeer, view: ClusterView): Pod[] {
  const selector = peer.podSelector ?? {};
  return view.pods(namespace).filter((pod) => matches(selector, pod.metadata.labels) && isNetworkReady(pod));
}

/** Ingress ports: named ones resolved against the policy's own (network-ready) pods. */
function ingressPorts(policy: NetworkPolicy, ports: readonly NetworkPolicyPort[], view: ClusterView): PolicyPort[] {
  if (!ports.some(isNamed)) return ports.map(numericPort).filter((port) => port !== undefined);
  const own = targetPods(policy, view).filter(isNetworkReady);
  return dedupPorts(own.flatMap((pod) => portsForPod(pod, ports)));
}

export function ingressEntries(policy: NetworkPolicy, view: ClusterView): EndpointInfo[] {
  const out: EndpointInfo[] = [];
  for (const rule of policy.spec.ingress ?? []) {
    const rulePorts = rule.ports ?? [];
    const ports = ingressPorts(policy, rulePorts, view);
    if (rulePorts.length > 0 && ports.length === 0) continue; // no port resolves: the rule allows nothing
    if (!rule.from?.length) {
      out.push(...anyPeer(ports));
      continue;
    }
    for (const peer of rule.from) {
      if (peer.ipBlock !== undefined) {
        out.push(ipBlockEntry(peer.ipBlock, ports));
        continue;
      }
      for (const namespace of peerNamespaces(policy, peer, view)) {
        for (const pod of peerPods(namespace, peer, view)) out.push({ cidr: podIp(pod), ports });
      }
    }
  }
  return out;
}

/** One entry per network-ready pod (of `pods`) having at least one of the rule's named ports, with the ports it has. */
function namedPortEntries(pods: readonly Pod[], namedPorts: readonly NetworkPolicyPort[]): EndpointInfo[] {
  if (namedPorts.length === 0) return [];
  return pods.filter(isNetworkReady).flatMap((pod) => {
    const ports = portsForPod(pod, namedPorts);
    return ports.length > 0 ? [{ cidr: podIp(pod), ports }] : [];
  });
}

/** Whether an address is inside an ipBlock and outside its exceptions. */
function inBlock(ip: string, block: NonNullable<NetworkPolicyPeer["ipBlock"]>): boolean {
  const outer = parseCidr(block.cidr, false);
  if (outer === undefined || !contains(outer, ip)) return false;
  return !(block.except ?? []).some((except) => {
    const inner = parseCidr(except, false);
    return inner !== undefined && contains(inner, ip);
  });
}

export function egressEntries(policy: NetworkPolicy, view: ClusterView): EndpointInfo[] {
  const out: EndpointInfo[] = [];
  for (const rule of policy.spec.egress ?? []) {
    const rulePorts = rule.ports ?? [];
    const numeric = rulePorts.map(numericPort).filter((port) => port !== undefined);
    const named = rulePorts.filter(isNamed);
    if (!rule.to?.length) {
      // upstream drops named ports here; this project resolves them on every destination pod
      if (rulePorts.length === 0 || numeric.length > 0) out.push(...anyPeer(numeric));
      out.push(...namedPortEntries(view.pods(), named));
      continue;
    }
    for (const peer of rule.to) {
      const block = peer.ipBlock;
      if (block !== undefined) {
        if (rulePorts.length === 0 || numeric.length > 0) out.push(ipBlockEntry(block, numeric));
        out.push(...namedPortEntries(view.pods().filter((pod) => inBlock(podIp(pod), block)), named));
        continue;
      }
      for (const namespace of peerNamespaces(policy, peer, view)) {
        for (const pod of peerPods(namespace, peer, view)) {
          const ports = portsForPod(pod, rulePorts);
          if (rulePorts.length > 0 && ports.length === 0) continue;
          out.push({ cidr: podIp(pod), ports });
        }
        out.push(...serviceEntries(namespace, peer, rulePorts, view));
      }
    }
  }
  return out;
}

/** ClusterIPs of the namespace's non-headless Services whose selector satisfies the peer's podSelector. */
function serviceEntries(namespace: string, peer: NetworkPolicyPeer, rulePorts: readonly NetworkPolicyPort[], view: ClusterView): EndpointInfo[] {
  const selector = peer.podSelector ?? {};
  const pods = view.pods(namespace);
  const out: EndpointInfo[] = [];
  for (const service of view.services(namespace)) {
    const clusterIp = service.spec?.clusterIP ?? "";
    if (clusterIp === "" || clusterIp === "None") continue;
    if (!matches(selector, service.spec?.selector)) continue;
    const ports = servicePorts(service, rulePorts, pods);
    if (ports !== undefined) out.push({ cidr: clusterIp, ports });
  }
  return out;
}

export function resolvePolicy(policy: NetworkPolicy, view: ClusterView): Resolved {
  return {
    podSelectorEndpoints: podSelectorEndpoints(policy, view),
    ingress: mergeEntries(ingressEntries(policy, view)),
    egress: mergeEntries(egressEntries(policy, view)),
  };
}

/**
 * Entries with equal cidr and except become one: ports unioned, and an entry with no ports
 * (everything) wins. Empty `ports` and `except` are left out of the result, as upstream's
 * objects omit them.
 */
export function mergeEntries(entries: readonly EndpointInfo[]): EndpointInfo[] {
  const merged = new Map<string, EndpointInfo & { ports: NonNullable<EndpointInfo["ports"]> }>();
  for (const entry of entries) {
    const key = `${entry.cidr ?? ""}|${[...(entry.except ?? [])].sort().join(",")}`;
    const seen = merged.get(key);
    if (seen === undefined) {
      merged.set(key, { ...entry, ports: [...(entry.ports ?? [])] });
      continue;
    }
    const everything = seen.ports.length === 0 || (entry.ports ?? []).length === 0;
    seen.ports = everything ? [] : dedupPorts([...seen.ports, ...(entry.ports ?? [])]);
  }
  return [...merged.values()].map(({ ports, except, ...rest }) => ({ ...rest, ...(except?.length ? { except } : {}), ...(ports.length > 0 ? { ports } : {}) }));
}
