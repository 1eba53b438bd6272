/**
 * The verdict the kernel rules give one flow, computed from the state alone (for /debug).
 * Same semantics as render.ts writes them:
 * - the node's addresses are allowed both ways, before anything else;
 * - `open` allows everything, `deny` nothing;
 * - `rules`: allowed when one rule matches whole: the remote is in its `cidr` (same family),
 *   in none of its `except`, and its ports are empty (every protocol, ICMP too) or one entry
 *   has the flow's protocol and, when it names a port, the flow's port in port..endPort.
 * Replies of an allowed connection are accepted by conntrack; a query is always the
 * original direction of a flow.
 */
import { canonicalIp, parseCidr, contains } from "../../../../shared/ip.ts";
import type { DirectionState, PolicyRule } from "../../../../shared/contracts/policy.ts";
import type { ExplainFlow, FlowQuery, FlowVerdict } from "./engine.ts";

function inCidr(cidr: string, ip: string): boolean {
  const c = parseCidr(cidr, false); // host bits cleared
  return c !== undefined && contains(c, ip);
}

function portMatches(rule: PolicyRule, flow: FlowQuery): boolean {
  if (rule.ports.length === 0) return true;
  if (flow.protocol === "ICMP") return false;
  return rule.ports.some((p) => {
    if (p.protocol !== flow.protocol) return false;
    if (p.port === undefined) return true;
    if (flow.port === undefined) return false;
    return flow.port >= p.port && flow.port <= (p.endPort ?? p.port);
  });
}

/** Whether one rule, evaluated whole, allows the flow. */
export function ruleAllows(rule: PolicyRule, flow: FlowQuery): boolean {
  return inCidr(rule.cidr, flow.remote) && !rule.except.some((e) => inCidr(e, flow.remote)) && portMatches(rule, flow);
}

export function describeRule(i: number, rule: PolicyRule): string {
  const except = rule.except.length ? ` except ${rule.except.join(", ")}` : "";
  const ports = rule.ports.length ? ` ${rule.ports.map((p) => `${p.protocol}${p.port === undefined ? "" : ` ${p.port}${p.endPort !== undefined && p.endPort !== p.port ? `-${p.endPort}` : ""}`}`).join(", ")}` : " all ports";
  return `rule ${i} (${rule.cidr}${except}${ports})`;
}

function explainDirection(dir: DirectionState, flow: FlowQuery): FlowVerdict {
  if (dir.kind === "open") return { allowed: true, reason: `no policy isolates ${flow.direction}` };
  if (dir.kind === "deny") return { allowed: false, reason: `${flow.direction} denied: no entry allows anything` };
  const i = dir.rules.findIndex((r) => ruleAllows(r, flow));
  if (i < 0) return { allowed: false, reason: `${flow.direction} isolated and none of ${dir.rules.length} rules allows ${flow.protocol}${flow.port === undefined ? "" : ` ${flow.port}`} with ${flow.remote}` };
  return { allowed: true, reason: describeRule(i, dir.rules[i]!), ruleIndex: i };
}

export const explainFlow: ExplainFlow = (state, pod, flow) => {
  const remote = canonicalIp(flow.remote);
  if (remote === undefined) return { allowed: false, reason: `remote ${JSON.stringify(flow.remote)} is not an IP address` };
  if (state.nodeAddresses.some((a) => canonicalIp(a) === remote)) return { allowed: true, reason: "node address" };
  return explainDirection(pod[flow.direction], { ...flow, remote });
};
