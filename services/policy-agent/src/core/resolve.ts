/**
 * PolicyEndpoints + this node's pods → the node's policy state, with upstream agent's
 * semantics (pure; no I/O):
 * - a PolicyEndpoint selects a local pod when one of its podSelectorEndpoints names this
 *   node (hostIP), the pod's name and namespace, and one of the pod's addresses (so a pod
 *   that reuses a deleted pod's address, or a new pod of the same name, inherits nothing);
 *   entries with podIP == hostIP (host-network pods) are skipped;
 * - per direction: isolated when any selecting PolicyEndpoint lists it in podIsolation;
 *   then the union of the selecting PolicyEndpoints' entries is the allow list (each entry
 *   one rule, evaluated whole); a direction no selecting policy isolates is open;
 * - a pod no PolicyEndpoint selects: open both ways, or denied both ways in strict mode.
 */
import type { DirectionState, EnforcingMode, EndpointInfo, NodePolicyState, PodPolicyState, PolicyEndpoint, PolicyRule } from "../../../../shared/contracts/policy.ts";
import { canonicalIp, formatCidr, parseCidr, parseIp, type Family } from "../../../../shared/ip.ts";

/** A pod on this node, as addr-broker reported it. */
export interface LocalPod {
  namespace: string;
  name: string;
  hostVeth: string;
  addresses: string[];
}

export type Direction = "ingress" | "egress";

export interface PolicyRefText {
  /** `<namespace>/<PolicyEndpoint name>`. */
  endpoint: string;
  /** `<namespace>/<NetworkPolicy name>`. */
  policy: string;
}

const ISOLATION: Record<Direction, "Ingress" | "Egress"> = { ingress: "Ingress", egress: "Egress" };

function canon(ip: string): string {
  return canonicalIp(ip) ?? ip;
}

/** True when one of the PolicyEndpoint's selected pods is on a node with one of `nodeIps` (and is not host-network). */
export function concernsNode(pe: PolicyEndpoint, nodeIps: readonly string[]): boolean {
  const node = new Set(nodeIps.map(canon));
  return (pe.spec.podSelectorEndpoints ?? []).some((e) => node.has(canon(e.hostIP)) && canon(e.podIP) !== canon(e.hostIP));
}

/** True when the PolicyEndpoint selects this very pod (name, namespace and address, on this node). */
export function selects(pe: PolicyEndpoint, pod: LocalPod, nodeIps: readonly string[]): boolean {
  const node = new Set(nodeIps.map(canon));
  const addresses = new Set(pod.addresses.map(canon));
  return (pe.spec.podSelectorEndpoints ?? []).some(
    (e) =>
      e.name === pod.name &&
      e.namespace === pod.namespace &&
      node.has(canon(e.hostIP)) &&
      canon(e.podIP) !== canon(e.hostIP) &&
      addresses.has(canon(e.podIP)),
  );
}

export function selectingEndpoints(pes: readonly PolicyEndpoint[], pod: LocalPod, nodeIps: readonly string[]): PolicyEndpoint[] {
  return pes.filter((pe) => selects(pe, pod, nodeIps));
}

export function refOf(pe: PolicyEndpoint): PolicyRefText {
  return { endpoint: `${pe.metadata.namespace}/${pe.metadata.name}`, policy: `${pe.spec.policyRef.namespace}/${pe.spec.policyRef.name}` };
}

/** A CIDR or bare address as a canonical CIDR (bare → /32 or /128); undefined when it is neither. */
export function normalizeCidr(text: string): { cidr: string; family: Family } | undefined {
  const trimmed = text.trim();
  if (!trimmed.includes("/")) {
    const ip = parseIp(trimmed);
    if (!ip) return undefined;
    return { cidr: formatCidr({ family: ip.family, base: ip.value, prefix: ip.family === 4 ? 32 : 128 }), family: ip.family };
  }
  const c = parseCidr(trimmed, false);
  return c ? { cidr: formatCidr(c), family: c.family } : undefined;
}

/** One entry as one rule; undefined when skipped (no cidr, unparsable, or another family than the pod's). */
export function ruleOf(entry: EndpointInfo, families: ReadonlySet<Family>): PolicyRule | undefined {
  if (!entry.cidr) return undefined;
  const base = normalizeCidr(entry.cidr);
  if (!base || !families.has(base.family)) return undefined;
  const except: string[] = [];
  for (const e of entry.except ?? []) {
    const n = normalizeCidr(e);
    if (n && n.family === base.family && !except.includes(n.cidr)) except.push(n.cidr);
  }
  const ports = (entry.ports ?? []).map((p) => {
    const port: PolicyRule["ports"][number] = { protocol: p.protocol ?? "TCP" };
    if (p.port !== undefined) port.port = p.port;
    if (p.port !== undefined && p.endPort !== undefined && p.endPort > p.port) port.endPort = p.endPort;
    return port;
  });
  return { cidr: base.cidr, except, ports };
}

function familiesOf(pod: LocalPod): Set<Family> {
  const f = new Set<Family>();
  for (const a of pod.addresses) {
    const ip = parseIp(a);
    if (ip) f.add(ip.family);
  }
  return f;
}

/**
 * ruleOf and the rule's dedup key, remembered per entry object and family set: a node's
 * PolicyEndpoints are resolved again on every change, and an entry object lives until its
 * PolicyEndpoint is replaced. The rules handed out are shared: never mutated.
 */
const ruleMemo = new WeakMap<EndpointInfo, Map<string, { rule: PolicyRule; key: string } | null>>();
function memoRule(entry: EndpointInfo, families: ReadonlySet<Family>): { rule: PolicyRule; key: string } | null {
  const famKey = [...families].sort().join();
  let byFamilies = ruleMemo.get(entry);
  if (!byFamilies) ruleMemo.set(entry, (byFamilies = new Map()));
  let known = byFamilies.get(famKey);
  if (known === undefined) {
    const rule = ruleOf(entry, families);
    known = rule ? { rule, key: JSON.stringify(rule) } : null;
    byFamilies.set(famKey, known);
  }
  return known;
}

/** The rules of one direction from the selecting PolicyEndpoints (deduplicated, in order of appearance). */
export function directionRules(selecting: readonly PolicyEndpoint[], direction: Direction, pod: LocalPod): PolicyRule[] {
  const families = familiesOf(pod);
  const seen = new Set<string>();
  const rules: PolicyRule[] = [];
  for (const pe of selecting) {
    for (const entry of pe.spec[direction] ?? []) {
      const known = memoRule(entry, families);
      if (!known) continue;
      const { rule, key } = known;
      if (seen.has(key)) continue;
      seen.add(key);
      rules.push(rule);
    }
  }
  return rules;
}

export function directionState(selecting: readonly PolicyEndpoint[], direction: Direction, pod: LocalPod, mode: EnforcingMode): DirectionState {
  if (selecting.length === 0) return mode === "strict" ? { kind: "deny" } : { kind: "open" };
  // As upstream (#319): once selected, a direction no selecting policy isolates is open, also in strict mode.
  const isolated = selecting.some((pe) => (pe.spec.podIsolation ?? []).includes(ISOLATION[direction]));
  if (!isolated) return { kind: "open" };
  const rules = directionRules(selecting, direction, pod);
  return rules.length === 0 ? { kind: "deny" } : { kind: "rules", rules };
}

export function resolvePod(pes: readonly PolicyEndpoint[], pod: LocalPod, nodeIps: readonly string[], mode: EnforcingMode): PodPolicyState {
  return podState(selectingEndpoints(pes, pod, nodeIps), pod, mode);
}

function podState(selecting: readonly PolicyEndpoint[], pod: LocalPod, mode: EnforcingMode): PodPolicyState {
  return {
    namespace: pod.namespace,
    name: pod.name,
    hostVeth: pod.hostVeth,
    addresses: [...pod.addresses],
    ingress: directionState(selecting, "ingress", pod, mode),
    egress: directionState(selecting, "egress", pod, mode),
  };
}

/** The whole node: every local pod (ordered by host veth), the node's own addresses always allowed. */
export function resolveNode(pes: readonly PolicyEndpoint[], pods: readonly LocalPod[], nodeIps: readonly string[], mode: EnforcingMode): NodePolicyState {
  // One pass over the endpoints, indexed by the pod each selects on this node (as `selects`), instead of every endpoint for every pod.
  const node = new Set(nodeIps.map(canon));
  const byPod = new Map<string, Array<{ pe: PolicyEndpoint; podIP: string }>>();
  for (const pe of pes) {
    for (const e of pe.spec.podSelectorEndpoints ?? []) {
      const podIP = canon(e.podIP);
      if (!node.has(canon(e.hostIP)) || podIP === canon(e.hostIP)) continue;
      const key = `${e.namespace}/${e.name}`;
      const list = byPod.get(key);
      if (list) list.push({ pe, podIP });
      else byPod.set(key, [{ pe, podIP }]);
    }
  }
  const sorted = [...pods].sort((a, b) => (a.hostVeth < b.hostVeth ? -1 : a.hostVeth > b.hostVeth ? 1 : 0));
  return {
    nodeAddresses: nodeIps.map(canon),
    pods: sorted.map((p) => {
      const addresses = new Set(p.addresses.map(canon));
      const selecting = new Set<PolicyEndpoint>();
      for (const c of byPod.get(`${p.namespace}/${p.name}`) ?? []) if (addresses.has(c.podIP)) selecting.add(c.pe);
      return podState([...selecting], p, mode);
    }),
  };
}
