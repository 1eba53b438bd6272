/**
 * /debug/why: "why can pod A not reach B (pod or address)?" Answers from the agent's state:
 * which PolicyEndpoints select each end, the verdict of A's egress and of B's ingress (the
 * rule that allows, or why none does), and what the kernel holds for each (engine.programmed()).
 */
import type { PodPolicyState, PolicyProtocol } from "../../../../shared/contracts/policy.ts";
import { canonicalIp, isIp } from "../../../../shared/ip.ts";
import type { FlowVerdict, PolicyEngine } from "../engine/engine.ts";
import { explainFlow } from "../engine/explain.ts";
import { refOf, selectingEndpoints, type LocalPod } from "../core/resolve.ts";
import type { PolicyAgent } from "./agent.ts";

export class WhyError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

export interface WhyQuery {
  from: { namespace: string; name: string };
  to: { namespace: string; name: string } | { ip: string };
  protocol: PolicyProtocol | "ICMP";
  port?: number;
}

const POD_REF = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/;

function podRef(field: string, text: string | undefined): { namespace: string; name: string } {
  const m = text === undefined ? null : POD_REF.exec(text);
  if (!m || text!.length > 317) throw new WhyError(field, `expected <namespace>/<pod>, got ${JSON.stringify(text ?? "")}`);
  return { namespace: m[1]!, name: m[3]! };
}

/** Validates the query string; throws WhyError naming the field. */
export function parseWhy(q: Record<string, string | undefined>): WhyQuery {
  const from = podRef("from", q.from);
  if (!q.to) throw new WhyError("to", "required: <namespace>/<pod> or an IP address");
  const to = isIp(q.to) ? { ip: canonicalIp(q.to)! } : podRef("to", q.to);
  const protocol = (q.protocol ?? "TCP").toUpperCase();
  if (!["TCP", "UDP", "SCTP", "ICMP"].includes(protocol)) throw new WhyError("protocol", `one of TCP, UDP, SCTP, ICMP; got ${JSON.stringify(q.protocol)}`);
  let port: number | undefined;
  if (q.port !== undefined && q.port !== "") {
    if (!/^\d{1,5}$/.test(q.port) || Number(q.port) < 1 || Number(q.port) > 65535) throw new WhyError("port", `1-65535; got ${JSON.stringify(q.port)}`);
    port = Number(q.port);
  }
  return { from, to, protocol: protocol as WhyQuery["protocol"], ...(port === undefined ? {} : { port }) };
}

/** The address of a pod named in any stored PolicyEndpoint (a pod on another node). */
function addressFromEndpoints(agent: PolicyAgent, ref: { namespace: string; name: string }): string | undefined {
  for (const pe of agent.endpointList()) {
    const e = (pe.spec.podSelectorEndpoints ?? []).find((x) => x.namespace === ref.namespace && x.name === ref.name);
    if (e) return canonicalIp(e.podIP) ?? e.podIP;
  }
  return undefined;
}

interface End {
  pod?: string;
  address?: string;
  local: boolean;
  selectedBy: Array<{ endpoint: string; policy: string }>;
  desired?: PodPolicyState[keyof Pick<PodPolicyState, "ingress" | "egress">];
  verdict?: FlowVerdict;
  programmed?: PodPolicyState[keyof Pick<PodPolicyState, "ingress" | "egress">] | null;
  note?: string;
}

export async function explainWhy(agent: PolicyAgent, engine: PolicyEngine, q: WhyQuery): Promise<object> {
  const state = agent.desired();
  const programmed = await engine.programmed(agent.pods.list()).catch(() => undefined);
  const nodeIps = agent.nodeAddresses();
  const endpoints = agent.endpointList();
  const describe = (local: LocalPod | undefined, ref: string | undefined, address: string | undefined, direction: "ingress" | "egress", remote: string | undefined): End => {
    const end: End = { local: !!local, selectedBy: local ? selectingEndpoints(endpoints, local, nodeIps).map(refOf) : [] };
    if (ref) end.pod = ref;
    if (address) end.address = address;
    if (!local) {
      end.note = `not on this node: its ${direction} is decided by the agent of its own node`;
      return end;
    }
    const desired = state.pods.find((p) => p.hostVeth === local.hostVeth)!;
    end.desired = desired[direction];
    if (remote) end.verdict = explainFlow(state, desired, { direction, remote, protocol: q.protocol, ...(q.port === undefined ? {} : { port: q.port }) });
    else end.note = "the remote end's address is unknown here: no verdict";
    const p = programmed?.find((x) => x.hostVeth === local.hostVeth);
    end.programmed = programmed === undefined ? undefined : p ? p[direction] : null;
    return end;
  };
  const fromPod = agent.pods.get(q.from.namespace, q.from.name);
  const fromAddr = fromPod?.addresses[0] ?? addressFromEndpoints(agent, q.from);
  const toPod = "ip" in q.to ? agent.pods.byAddress(q.to.ip) : agent.pods.get(q.to.namespace, q.to.name);
  const toRef = "ip" in q.to ? (toPod ? `${toPod.namespace}/${toPod.name}` : undefined) : `${q.to.namespace}/${q.to.name}`;
  const toAddr = "ip" in q.to ? q.to.ip : (toPod?.addresses[0] ?? addressFromEndpoints(agent, q.to));
  const egress = describe(fromPod, `${q.from.namespace}/${q.from.name}`, fromAddr, "egress", toAddr);
  const ingress = describe(toPod, toRef, toAddr, "ingress", fromAddr);
  const verdicts = [egress.verdict, ingress.verdict].filter((v): v is FlowVerdict => v !== undefined);
  const inSync = [egress, ingress].every((e) => e.programmed === undefined || e.desired === undefined || JSON.stringify(e.programmed) === JSON.stringify(e.desired));
  return {
    mode: agent.mode,
    flow: { protocol: q.protocol, ...(q.port === undefined ? {} : { port: q.port }) },
    allowed: verdicts.length === 0 ? "unknown" : verdicts.every((v) => v.allowed),
    from: egress,
    to: ingress,
    programmedMatchesDesired: inSync,
  };
}
