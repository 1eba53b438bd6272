/**
 * A small, independent model of the Kubernetes NetworkPolicy API's semantics: which pod may
 * reach which pod on which port and protocol, computed from the policy objects themselves (the
 * truth the conformance suite compares the probed matrix with). Written from the API's
 * documented meaning, not from the controller's or the agent's code, so a shared mistake cannot
 * hide. Pure: no I/O.
 *
 * - A pod is isolated in a direction when some policy of its namespace selects it and lists the
 *   direction in policyTypes (defaulted as the API server does: Ingress always, Egress when the
 *   policy has egress rules). A flow needs the source's egress and the target's ingress to allow
 *   it; an isolated direction allows what the union of its selecting policies' rules allows.
 * - A rule allows a flow when one of its peers matches (none listed: any peer) and one of its
 *   ports matches (none listed: any). In a peer, namespaceSelector and podSelector are ANDed; a
 *   peer with a podSelector alone means the policy's namespace; ipBlock matches the address
 *   within `cidr` and outside every `except`.
 * - A named port is the container port of that name and protocol on the pod receiving the flow
 *   (the target, in both directions); `endPort` makes a numeric port a range.
 * - strict (the project's NETWORK_POLICY_ENFORCING_MODE=strict): a pod that no policy selects is
 *   denied both ways; once one selects it, the rules above apply.
 */

export type Protocol = "TCP" | "UDP" | "SCTP";

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] }>;
}

export interface PolicyPort {
  protocol?: Protocol;
  port?: number | string;
  endPort?: number;
}

export interface PolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

export interface PolicyRule {
  from?: PolicyPeer[];
  to?: PolicyPeer[];
  ports?: PolicyPort[];
}

export interface NetworkPolicy {
  metadata: { name: string; namespace: string };
  spec: { podSelector: LabelSelector; policyTypes?: Array<"Ingress" | "Egress">; ingress?: PolicyRule[]; egress?: PolicyRule[] };
}

export interface ModelPod {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  ip: string;
  ports: Array<{ name: string; containerPort: number; protocol: Protocol }>;
}

/** One probe: `from` reaches `to` on `port`/`protocol`. Pods are named "namespace/name". */
export interface Probe {
  from: string;
  to: string;
  port: number;
  protocol: Protocol;
}

export interface World {
  pods: ModelPod[];
  /** Namespace name → its labels. */
  namespaces: Record<string, Record<string, string>>;
  policies: NetworkPolicy[];
  strict?: boolean;
}

export const podKey = (p: Pick<ModelPod, "namespace" | "name">): string => `${p.namespace}/${p.name}`;

export function selects(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const ok =
      e.operator === "In" ? has && (e.values ?? []).includes(labels[e.key]!)
      : e.operator === "NotIn" ? !has || !(e.values ?? []).includes(labels[e.key]!)
      : e.operator === "Exists" ? has
      : !has;
    if (!ok) return false;
  }
  return true;
}

/** The policy's types as the API server defaults them. */
export function policyTypes(policy: NetworkPolicy): Array<"Ingress" | "Egress"> {
  if (policy.spec.policyTypes && policy.spec.policyTypes.length > 0) return policy.spec.policyTypes;
  return policy.spec.egress && policy.spec.egress.length > 0 ? ["Ingress", "Egress"] : ["Ingress"];
}

function ipv4ToNumber(ip: string): number {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) throw new Error(`not an IPv4 address: ${ip}`);
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

export function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split("/");
  const bits = Number(bitsText);
  if (!base || !Number.isInteger(bits) || bits < 0 || bits > 32) throw new Error(`not an IPv4 CIDR: ${cidr}`);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return ((ipv4ToNumber(ip) & mask) >>> 0) === ((ipv4ToNumber(base) & mask) >>> 0);
}

function peerMatches(peer: PolicyPeer, policy: NetworkPolicy, remote: ModelPod, world: World): boolean {
  if (peer.ipBlock) return inCidr(remote.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((c) => inCidr(remote.ip, c));
  const nsOk = peer.namespaceSelector ? selects(peer.namespaceSelector, world.namespaces[remote.namespace] ?? {}) : remote.namespace === policy.metadata.namespace;
  const podOk = peer.podSelector ? selects(peer.podSelector, remote.labels) : true;
  return nsOk && podOk;
}

function portMatches(p: PolicyPort, target: ModelPod, port: number, protocol: Protocol): boolean {
  if ((p.protocol ?? "TCP") !== protocol) return false;
  if (p.port === undefined) return true;
  if (typeof p.port === "string") return target.ports.some((c) => c.name === p.port && c.protocol === protocol && c.containerPort === port);
  return p.endPort === undefined ? port === p.port : port >= p.port && port <= p.endPort;
}

function ruleAllows(rule: PolicyRule, peers: PolicyPeer[] | undefined, policy: NetworkPolicy, remote: ModelPod, target: ModelPod, port: number, protocol: Protocol, world: World): boolean {
  const peerOk = !peers || peers.length === 0 || peers.some((peer) => peerMatches(peer, policy, remote, world));
  const portOk = !rule.ports || rule.ports.length === 0 || rule.ports.some((p) => portMatches(p, target, port, protocol));
  return peerOk && portOk;
}

/** Whether `pod`'s side of a flow in `direction` lets it through (`remote` is the other end; `target` receives it). */
function directionAllows(direction: "Ingress" | "Egress", pod: ModelPod, remote: ModelPod, target: ModelPod, port: number, protocol: Protocol, world: World): boolean {
  const selecting = world.policies.filter((p) => p.metadata.namespace === pod.namespace && selects(p.spec.podSelector, pod.labels));
  if (selecting.length === 0) return !world.strict;
  const isolating = selecting.filter((p) => policyTypes(p).includes(direction));
  if (isolating.length === 0) return true;
  return isolating.some((policy) =>
    direction === "Ingress"
      ? (policy.spec.ingress ?? []).some((r) => ruleAllows(r, r.from, policy, remote, target, port, protocol, world))
      : (policy.spec.egress ?? []).some((r) => ruleAllows(r, r.to, policy, remote, target, port, protocol, world)),
  );
}

export function allowed(world: World, probe: Probe): boolean {
  const byKey = new Map(world.pods.map((p) => [podKey(p), p]));
  const from = byKey.get(probe.from);
  const to = byKey.get(probe.to);
  if (!from || !to) throw new Error(`probe names an unknown pod: ${!from ? probe.from : probe.to}`);
  return directionAllows("Egress", from, to, to, probe.port, probe.protocol, world) && directionAllows("Ingress", to, from, to, probe.port, probe.protocol, world);
}
