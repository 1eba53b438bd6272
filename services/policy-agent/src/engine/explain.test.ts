import { describe, expect, test } from "bun:test";
import type { NodePolicyState, PodPolicyState, PolicyRule } from "../../../../shared/contracts/policy.ts";
import type { FlowQuery } from "./engine.ts";
import { explainFlow } from "./explain.ts";

const pod = (egress: PolicyRule[] | "open" | "deny", ingress: PolicyRule[] | "open" | "deny" = "open"): PodPolicyState => {
  const dir = (d: typeof egress) => (d === "open" ? { kind: "open" as const } : d === "deny" ? { kind: "deny" as const } : { kind: "rules" as const, rules: d });
  return { namespace: "ns", name: "p", hostVeth: "eni0123456789a", addresses: ["10.1.0.5"], egress: dir(egress), ingress: dir(ingress) };
};
const state = (p: PodPolicyState): NodePolicyState => ({ nodeAddresses: ["10.1.0.1", "fd00::1"], pods: [p] });
const eg = (remote: string, protocol: FlowQuery["protocol"], port?: number): FlowQuery => ({ direction: "egress", remote, protocol, ...(port === undefined ? {} : { port }) });

describe("explainFlow", () => {
  test("upstream #326: a port-53 rule for 0.0.0.0/0 is not cancelled by another rule's except", () => {
    const p = pod([
      { cidr: "0.0.0.0/0", except: [], ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }] },
      { cidr: "0.0.0.0/0", except: ["10.0.0.0/8"], ports: [] },
    ]);
    expect(explainFlow(state(p), p, eg("10.0.0.10", "UDP", 53))).toEqual({ allowed: true, reason: "rule 0 (0.0.0.0/0 UDP 53, TCP 53)", ruleIndex: 0 });
    expect(explainFlow(state(p), p, eg("10.0.0.10", "TCP", 443)).allowed).toBe(false);
    expect(explainFlow(state(p), p, eg("192.0.2.1", "TCP", 443))).toMatchObject({ allowed: true, ruleIndex: 1 });
  });

  // Each row: rules, flow, allowed — the rule is evaluated whole.
  const cases: Array<[string, PolicyRule[], FlowQuery, boolean]> = [
    ["port range includes its ends", [{ cidr: "10.2.0.0/16", except: [], ports: [{ protocol: "TCP", port: 8000, endPort: 8100 }] }], eg("10.2.3.4", "TCP", 8100), true],
    ["port range excludes the next port", [{ cidr: "10.2.0.0/16", except: [], ports: [{ protocol: "TCP", port: 8000, endPort: 8100 }] }], eg("10.2.3.4", "TCP", 8101), false],
    ["protocol must match", [{ cidr: "10.2.0.0/16", except: [], ports: [{ protocol: "TCP", port: 53 }] }], eg("10.2.3.4", "UDP", 53), false],
    ["protocol without port: every port", [{ cidr: "10.2.0.0/16", except: [], ports: [{ protocol: "SCTP" }] }], eg("10.2.3.4", "SCTP", 38412), true],
    ["except inside the cidr denies", [{ cidr: "10.2.0.0/16", except: ["10.2.3.0/24"], ports: [] }], eg("10.2.3.4", "TCP", 80), false],
    ["except outside the address allows", [{ cidr: "10.2.0.0/16", except: ["10.2.3.0/24"], ports: [] }], eg("10.2.4.4", "TCP", 80), true],
    ["empty ports allow ICMP", [{ cidr: "10.2.0.0/16", except: [], ports: [] }], eg("10.2.4.4", "ICMP"), true],
    ["a rule with ports never allows ICMP", [{ cidr: "10.2.0.0/16", except: [], ports: [{ protocol: "TCP" }] }], eg("10.2.4.4", "ICMP"), false],
    ["an IPv4 cidr never matches IPv6", [{ cidr: "0.0.0.0/0", except: [], ports: [] }], eg("fd00::9", "TCP", 80), false],
    ["IPv6 cidr with except", [{ cidr: "fd00::/64", except: ["fd00::10/128"], ports: [] }], eg("fd00::10", "UDP", 53), false],
    ["IPv6 address in non-canonical form", [{ cidr: "fd00::/64", except: [], ports: [] }], eg("FD00:0::11", "UDP", 53), true],
    ["more than 24 ports in one rule", [{ cidr: "10.2.0.0/16", except: [], ports: Array.from({ length: 40 }, (_, i) => ({ protocol: "TCP" as const, port: 1000 + i })) }], eg("10.2.4.4", "TCP", 1039), true],
  ];
  for (const [name, rules, flow, allowed] of cases) {
    test(name, () => {
      const p = pod(rules);
      expect(explainFlow(state(p), p, flow).allowed).toBe(allowed);
    });
  }

  test("open, deny, and the node's addresses", () => {
    const p = pod("deny", "open");
    expect(explainFlow(state(p), p, eg("10.9.9.9", "TCP", 80))).toEqual({ allowed: false, reason: "egress denied: no entry allows anything" });
    expect(explainFlow(state(p), p, eg("10.1.0.1", "TCP", 80))).toEqual({ allowed: true, reason: "node address" });
    expect(explainFlow(state(p), p, eg("fd00:0:0::1", "UDP", 53)).reason).toBe("node address");
    expect(explainFlow(state(p), p, { direction: "ingress", remote: "10.9.9.9", protocol: "TCP", port: 80 })).toEqual({ allowed: true, reason: "no policy isolates ingress" });
    expect(explainFlow(state(p), p, eg("not-an-ip", "TCP", 80)).allowed).toBe(false);
  });
});
