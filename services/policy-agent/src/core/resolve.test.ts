// Upstream agent's semantics, case by case. Node 10.0.0.10 (and fd00::10); pods on it and one elsewhere.
import { describe, expect, test } from "bun:test";
import type { PolicyEndpoint, PolicyEndpointSpec } from "../../../../shared/contracts/policy.ts";
import { concernsNode, normalizeCidr, resolveNode, resolvePod, type LocalPod } from "./resolve.ts";

const NODE = ["10.0.0.10"];
const web: LocalPod = { namespace: "app", name: "web-1", hostVeth: "eni1111", addresses: ["10.0.1.5"] };
const db: LocalPod = { namespace: "app", name: "db-0", hostVeth: "eni2222", addresses: ["10.0.1.6"] };
const v6: LocalPod = { namespace: "app", name: "web6", hostVeth: "eni3333", addresses: ["fd00::1:5"] };

let seq = 0;
function pe(spec: Partial<PolicyEndpointSpec> & { selects?: Array<LocalPod | { name: string; namespace: string; podIP: string; hostIP?: string }> }): PolicyEndpoint {
  const { selects = [], ...rest } = spec;
  return {
    metadata: { name: `pol-${++seq}`, namespace: "app" },
    spec: {
      policyRef: { name: `pol-${seq}`, namespace: "app" },
      podSelectorEndpoints: selects.map((p) =>
        "addresses" in p ? { name: p.name, namespace: p.namespace, podIP: p.addresses[0]!, hostIP: "10.0.0.10" } : { name: p.name, namespace: p.namespace, podIP: p.podIP, hostIP: p.hostIP ?? "10.0.0.10" },
      ),
      ...rest,
    },
  };
}

describe("a pod no policy selects", () => {
  test("standard: open both ways", () => {
    const s = resolvePod([], web, NODE, "standard");
    expect([s.ingress, s.egress]).toEqual([{ kind: "open" }, { kind: "open" }]);
  });
  test("strict: denied both ways", () => {
    const s = resolvePod([], web, NODE, "strict");
    expect([s.ingress, s.egress]).toEqual([{ kind: "deny" }, { kind: "deny" }]);
  });
  test("a policy selecting another pod does not select it", () => {
    const s = resolvePod([pe({ selects: [db], podIsolation: ["Ingress"] })], web, NODE, "strict");
    expect(s.ingress).toEqual({ kind: "deny" });
  });
});

describe("isolation per direction", () => {
  test("ingress-only policy: ingress isolated with its entries, egress open (also in strict, #319)", () => {
    const p = pe({ selects: [web], podIsolation: ["Ingress"], ingress: [{ cidr: "10.0.2.7", ports: [{ port: 80 }] }] });
    for (const mode of ["standard", "strict"] as const) {
      const s = resolvePod([p], web, NODE, mode);
      expect(s.ingress).toEqual({ kind: "rules", rules: [{ cidr: "10.0.2.7/32", except: [], ports: [{ protocol: "TCP", port: 80 }] }] });
      expect(s.egress).toEqual({ kind: "open" });
    }
  });
  test("isolated with no entries: denied", () => {
    const s = resolvePod([pe({ selects: [web], podIsolation: ["Ingress", "Egress"] })], web, NODE, "standard");
    expect([s.ingress, s.egress]).toEqual([{ kind: "deny" }, { kind: "deny" }]);
  });
  test("a selecting policy without podIsolation isolates nothing, even with entries", () => {
    const s = resolvePod([pe({ selects: [web], ingress: [{ cidr: "10.0.0.0/8" }] })], web, NODE, "strict");
    expect(s.ingress).toEqual({ kind: "open" });
  });
  test("one policy isolating egress makes the union of every selecting policy's egress entries the allow list", () => {
    const a = pe({ selects: [web], podIsolation: ["Egress"], egress: [{ cidr: "10.0.3.0/24", ports: [{ protocol: "UDP", port: 53 }] }] });
    const b = pe({ selects: [web], podIsolation: ["Ingress"], egress: [{ cidr: "10.0.4.0/24" }] });
    const s = resolvePod([a, b], web, NODE, "standard");
    expect(s.egress).toEqual({
      kind: "rules",
      rules: [
        { cidr: "10.0.3.0/24", except: [], ports: [{ protocol: "UDP", port: 53 }] },
        { cidr: "10.0.4.0/24", except: [], ports: [] },
      ],
    });
    expect(s.ingress).toEqual({ kind: "deny" }); // b isolates ingress and no one lists ingress entries
  });
});

describe("entries → rules", () => {
  const rulesOf = (entries: PolicyEndpointSpec["ingress"], pod = web) => {
    const s = resolvePod([pe({ selects: [pod], podIsolation: ["Ingress"], ingress: entries })], pod, NODE, "standard");
    return s.ingress.kind === "rules" ? s.ingress.rules : s.ingress.kind;
  };
  test("protocol defaults to TCP; a protocol alone means every port of it; endPort kept as a range", () => {
    expect(rulesOf([{ cidr: "10.0.0.0/16", ports: [{ port: 8080, endPort: 8090 }, { protocol: "SCTP" }, { protocol: "UDP", port: 5000 }] }])).toEqual([
      { cidr: "10.0.0.0/16", except: [], ports: [{ protocol: "TCP", port: 8080, endPort: 8090 }, { protocol: "SCTP" }, { protocol: "UDP", port: 5000 }] },
    ]);
  });
  test("empty ports: every protocol and port", () => {
    expect(rulesOf([{ cidr: "0.0.0.0/0", ports: [] }])).toEqual([{ cidr: "0.0.0.0/0", except: [], ports: [] }]);
  });
  test("except kept with its rule, bare addresses made /32, host bits cleared", () => {
    expect(rulesOf([{ cidr: "10.0.0.7/16", except: ["10.0.1.0/24", "10.0.2.9"] }])).toEqual([{ cidr: "10.0.0.0/16", except: ["10.0.1.0/24", "10.0.2.9/32"], ports: [] }]);
  });
  test("an entry without cidr (domainName) is skipped", () => {
    expect(rulesOf([{ domainName: "example.com" }, { cidr: "10.9.0.0/16" }])).toEqual([{ cidr: "10.9.0.0/16", except: [], ports: [] }]);
  });
  test("only entries of the pod's family count: ::/0 ignored for an IPv4 pod, 0.0.0.0/0 for an IPv6 pod", () => {
    const both = [{ cidr: "0.0.0.0/0" }, { cidr: "::/0" }];
    expect(rulesOf(both)).toEqual([{ cidr: "0.0.0.0/0", except: [], ports: [] }]);
    const s = resolvePod([pe({ selects: [{ name: "web6", namespace: "app", podIP: "fd00::1:5", hostIP: "fd00::10" }], podIsolation: ["Ingress"], ingress: both })], v6, ["fd00::10"], "standard");
    expect(s.ingress).toEqual({ kind: "rules", rules: [{ cidr: "::/0", except: [], ports: [] }] });
  });
  test("only entries of another family: the direction is denied (isolated, nothing allowed)", () => {
    expect(rulesOf([{ cidr: "::/0" }])).toBe("deny");
  });
  test("identical entries of two policies are one rule", () => {
    const a = pe({ selects: [web], podIsolation: ["Ingress"], ingress: [{ cidr: "10.0.5.0/24" }] });
    const b = pe({ selects: [web], podIsolation: ["Ingress"], ingress: [{ cidr: "10.0.5.0/24" }] });
    expect(resolvePod([a, b], web, NODE, "standard").ingress).toEqual({ kind: "rules", rules: [{ cidr: "10.0.5.0/24", except: [], ports: [] }] });
  });
});

describe("which pods a PolicyEndpoint selects", () => {
  const isolating = (selects: Parameters<typeof pe>[0]["selects"]) => pe({ selects, podIsolation: ["Ingress", "Egress"] });
  test("another pod that reused a deleted pod's address does not inherit its rules", () => {
    const reuser: LocalPod = { namespace: "app", name: "other", hostVeth: "eni4444", addresses: ["10.0.1.5"] };
    expect(resolvePod([isolating([web])], reuser, NODE, "standard").ingress).toEqual({ kind: "open" });
  });
  test("a pod of the same name at another address (recreated) is not selected until its new address is listed", () => {
    const again: LocalPod = { ...web, hostVeth: "eni5555", addresses: ["10.0.1.99"] };
    expect(resolvePod([isolating([web])], again, NODE, "standard").ingress).toEqual({ kind: "open" });
  });
  test("a selected pod listed with another node's hostIP is not this node's", () => {
    const p = isolating([{ name: "web-1", namespace: "app", podIP: "10.0.1.5", hostIP: "10.0.0.11" }]);
    expect(concernsNode(p, NODE)).toBe(false);
    expect(resolvePod([p], web, NODE, "standard").ingress).toEqual({ kind: "open" });
  });
  test("podIP == hostIP (a host-network pod) is skipped", () => {
    const hostPod: LocalPod = { namespace: "kube-system", name: "proxy", hostVeth: "eni6666", addresses: ["10.0.0.10"] };
    const p = isolating([{ name: "proxy", namespace: "kube-system", podIP: "10.0.0.10" }]);
    expect(concernsNode(p, NODE)).toBe(false);
    expect(resolvePod([p], hostPod, NODE, "strict").ingress).toEqual({ kind: "deny" }); // strict, unselected
  });
  test("addresses compare canonically (IPv6 spellings)", () => {
    const p = isolating([{ name: "web6", namespace: "app", podIP: "FD00:0::1:5", hostIP: "fd00:0:0::10" }]);
    expect(resolvePod([p], v6, ["fd00::10"], "standard").ingress).toEqual({ kind: "deny" });
  });
});

test("resolveNode: every local pod, ordered by veth, the node's addresses carried, other nodes' endpoints ignored", () => {
  const here = pe({ selects: [db], podIsolation: ["Egress"], egress: [{ cidr: "10.0.9.0/24" }] });
  const elsewhere = pe({ selects: [{ name: "web-1", namespace: "app", podIP: "10.0.1.5", hostIP: "10.0.0.99" }], podIsolation: ["Ingress"] });
  const s = resolveNode([here, elsewhere], [db, web], NODE, "strict");
  expect(s.nodeAddresses).toEqual(["10.0.0.10"]);
  expect(s.pods.map((p) => [p.hostVeth, p.ingress.kind, p.egress.kind])).toEqual([
    ["eni1111", "deny", "deny"],
    ["eni2222", "open", "rules"],
  ]);
});

test("normalizeCidr refuses what is neither an address nor a CIDR", () => {
  expect(normalizeCidr("10.0.0.0/33")).toBeUndefined();
  expect(normalizeCidr("ten")).toBeUndefined();
  expect(normalizeCidr("fd00::1")).toEqual({ cidr: "fd00::1/128", family: 6 });
});
