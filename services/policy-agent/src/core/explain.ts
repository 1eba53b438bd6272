/**
 * Which rule, if any, lets one flow through one pod's direction, computed from the state
 * alone (the same semantics the engine programs: the node's addresses always allowed;
 * each rule evaluated whole: remote in its CIDR, in none of its excepts, port matched).
 * Used by /debug/why; conforms to the engine's ExplainFlow so the engine's own may replace it.
 */
import type { NodePolicyState, PodPolicyState, PolicyRule } from "../../../../shared/contracts/policy.ts";
import type { FlowQuery, FlowVerdict } from "../engine/engine.ts";
import { canonicalIp, contains, parseCidr } from "../../../../shared/ip.ts";

function inCidr(cidr: string, ip: string): boolean {
  const c = parseCidr(cidr, false);
  return !!c && contains(c, ip);
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

export function describeRule(i: number, r: PolicyRule): string {
  const except = r.except.length ? ` except ${r.except.join(", ")}` : "";
  const ports = r.ports.length ? r.ports.map((p) => `${p.protocol}${p.port === undefined ? "" : ` ${p.port}${p.endPort ? `-${p.endPort}` : ""}`}`).join(", ") : "all ports";
  return `rule ${i} (${r.cidr}${except}, ${ports})`;
}

export function explainFlow(state: NodePolicyState, pod: PodPolicyState, flow: FlowQuery): FlowVerdict {
  const remote = canonicalIp(flow.remote) ?? flow.remote;
  if (state.nodeAddresses.some((a) => (canonicalIp(a) ?? a) === remote)) return { allowed: true, reason: "node address" };
  const d = pod[flow.direction];
  if (d.kind === "open") return { allowed: true, reason: `no policy isolates ${flow.direction}` };
  if (d.kind === "deny") return { allowed: false, reason: `${flow.direction} denied: no policy selects the pod yet (strict), or a policy isolates it and allows nothing` };
  for (const [i, r] of d.rules.entries()) {
    if (inCidr(r.cidr, remote) && !r.except.some((e) => inCidr(e, remote)) && portMatches(r, flow)) return { allowed: true, reason: describeRule(i, r), ruleIndex: i };
  }
  return { allowed: false, reason: `no ${flow.direction} rule allows ${flow.protocol}${flow.port === undefined ? "" : ` ${flow.port}`} with ${remote} (${d.rules.length} rules)` };
}
