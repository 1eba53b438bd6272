/**
 * The node state the engine benches program: pods with rules of their own per direction
 * (ipBlocks with except, port ranges, DNS, IPv6) plus peer-pod addresses on ingress (a
 * namespace selector's pods).
 */
import type { NodePolicyState, PodPolicyState, PolicyRule } from "../../shared/contracts/policy.ts";
import { hostVethName } from "../../shared/naming.ts";

function ownRules(i: number, n: number, dir: "in" | "eg"): PolicyRule[] {
  const rules: PolicyRule[] = [];
  if (dir === "eg") {
    rules.push({ cidr: "0.0.0.0/0", except: [], ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }] });
    rules.push({ cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "172.16.0.0/12"], ports: [] });
  }
  for (let r = rules.length; r < n; r++) {
    const v6 = r % 5 === 4;
    const cidr = v6 ? `fd00:${i.toString(16)}:${r.toString(16)}::/48` : `10.${(i + r) % 250}.${r}.0/24`;
    const except = r % 3 === 0 ? [v6 ? `fd00:${i.toString(16)}:${r.toString(16)}:1::/64` : `10.${(i + r) % 250}.${r}.128/26`] : [];
    const ports: PolicyRule["ports"] = r % 4 === 0 ? [] : [{ protocol: "TCP", port: 8000 + r, endPort: 8100 + r }, { protocol: r % 2 ? "UDP" : "SCTP", port: 9000 + i }];
    rules.push({ cidr, except, ports });
  }
  return rules;
}

/** A full node: `podCount` pods, each with `ruleCount` rules of its own per direction and `peerCount` peer addresses on ingress. */
export function nodeState(podCount: number, ruleCount: number, peerCount: number): NodePolicyState {
  const pods: PodPolicyState[] = [];
  for (let i = 0; i < podCount; i++) {
    const peers: PolicyRule[] = Array.from({ length: peerCount }, (_, k) => ({ cidr: `10.200.${(k * 7 + i) % 256}.${(k * 13) % 250}/32`, except: [], ports: [{ protocol: "TCP", port: 8080 }] }));
    pods.push({
      namespace: "bench",
      name: `app-${i}`,
      hostVeth: hostVethName("eni", { namespace: "bench", name: `app-${i}`, containerId: "x", ifName: "eth0" }),
      addresses: [`10.1.${i >> 8}.${i & 255}`],
      ingress: { kind: "rules", rules: [...peers, ...ownRules(i, ruleCount, "in")] },
      egress: { kind: "rules", rules: ownRules(i, ruleCount, "eg") },
    });
  }
  return { nodeAddresses: ["10.1.255.1"], pods };
}
