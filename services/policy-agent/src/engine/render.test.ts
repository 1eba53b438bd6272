import { describe, expect, test } from "bun:test";
import type { NodePolicyState, PodPolicyState, PolicyRule } from "../../../../shared/contracts/policy.ts";
import { decodeTable } from "./decode.ts";
import { compileState, mergeSpans, podDigest, spanToCidrs } from "./model.ts";
import { toDirectionState } from "./nft-engine.ts";
import { addressSetName, directionRules, NAMED_SET_MIN, podSets, renderAddressSet, renderDispatch, renderPod } from "./render.ts";
import { errorOf } from "./test-support/error-of.ts";

const pod = (egress: PolicyRule[], over: Partial<PodPolicyState> = {}): PodPolicyState => ({ namespace: "ns", name: "web-1", hostVeth: "eni0123456789a", addresses: ["10.1.0.5", "fd00::5"], ingress: { kind: "open" }, egress: { kind: "rules", rules: egress }, ...over });
const node = (...pods: PodPolicyState[]): NodePolicyState => ({ nodeAddresses: ["10.1.0.1"], pods });
const compileOne = (p: PodPolicyState) => compileState(node(p)).pods[0]!;

describe("spans", () => {
  test("merge joins overlapping and adjacent spans only", () => {
    expect(mergeSpans([{ lo: 5n, hi: 9n }, { lo: 0n, hi: 4n }, { lo: 11n, hi: 12n }, { lo: 8n, hi: 10n }, { lo: 20n, hi: 20n }])).toEqual([{ lo: 0n, hi: 12n }, { lo: 20n, hi: 20n }]);
  });
  // [lo, hi] → the fewest CIDRs
  const rows: Array<[bigint, bigint, Array<[bigint, number]>]> = [
    [0n, 0xffffffffn, [[0n, 0]]],
    [10n, 10n, [[10n, 32]]],
    [0x0a000000n, 0x0a0000ffn, [[0x0a000000n, 24]]],
    [1n, 6n, [[1n, 32], [2n, 31], [4n, 31], [6n, 32]]], // unaligned edges
  ];
  for (const [lo, hi, want] of rows) test(`${lo}-${hi}`, () => expect(spanToCidrs(4, { lo, hi }).map((c) => [c.base, c.prefix])).toEqual(want));
});

describe("compile and render", () => {
  test("peers sharing except and ports become one rule with an address set", () => {
    const peers = Array.from({ length: 300 }, (_, i) => ({ cidr: `10.2.${i >> 8}.${i & 255}/32`, except: [], ports: [{ protocol: "TCP" as const, port: 80 }] }));
    const m = compileOne(pod([...peers, { cidr: "10.3.0.0/16", except: ["10.3.1.0/24"], ports: [] }]));
    const rules = directionRules("egress", m.egress);
    expect(rules).toEqual(["ip daddr 10.3.0.0/16 ip daddr != 10.3.1.0/24 accept", "ip daddr 10.2.0.0-10.2.1.43 tcp dport 80 accept", "drop"]);
  });

  test("ports: one rule per protocol, ranges, protocol-only entries, no cap", () => {
    const ports: PolicyRule["ports"] = [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 8000, endPort: 8100 }, { protocol: "TCP", port: 8050 }, { protocol: "SCTP" }, ...Array.from({ length: 30 }, (_, i) => ({ protocol: "UDP" as const, port: 2000 + 2 * i }))];
    const rules = directionRules("ingress", compileOne(pod([], { ingress: { kind: "rules", rules: [{ cidr: "fd00::/64", except: [], ports }] } })).ingress);
    expect(rules).toHaveLength(4);
    expect(rules.slice(0, 2)).toEqual(["ip6 saddr fd00::/64 meta l4proto sctp accept", "ip6 saddr fd00::/64 tcp dport 8000-8100 accept"]);
    expect(rules[2]).toStartWith("ip6 saddr fd00::/64 udp dport { 53, 2000, 2002,");
    expect(rules[2]).toEndWith(", 2058 } accept");
  });

  test("open and deny", () => {
    const m = compileOne(pod([], { ingress: { kind: "deny" }, egress: { kind: "open" } }));
    expect(directionRules("ingress", m.ingress)).toEqual(["drop"]);
    expect(directionRules("egress", m.egress)).toEqual(["accept"]);
  });

  test("a pod's chains are flushed before they are filled, and dispatch names them", () => {
    const lines = renderPod("aws-cni-np", compileOne(pod([])));
    expect(lines.slice(0, 2)).toEqual(["add chain inet aws-cni-np eg-eni0123456789a", "flush chain inet aws-cni-np eg-eni0123456789a"]);
    expect(lines).toContain('add rule inet aws-cni-np id-eni0123456789a return comment "v1 ns=ns name=web-1 addr=10.1.0.5,fd00::5"');
    expect(renderDispatch("t", [{ veth: "a", dirs: ["egress", "ingress"] }, { veth: "b", dirs: ["egress"] }])).toEqual(['add element inet t egress-pods { "a" : jump eg-a, "b" : jump eg-b }', 'add element inet t ingress-pods { "a" : jump in-a }']);
  });

  test("the contract's form read back means the same as the input (digest)", () => {
    const p = pod([
      { cidr: "10.2.0.1/32", except: [], ports: [{ protocol: "TCP", port: 80 }] },
      { cidr: "10.2.0.2/32", except: [], ports: [{ protocol: "TCP", port: 80 }] },
      { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "fd00::/8"], ports: [{ protocol: "UDP", port: 53 }] },
    ]);
    const m = compileOne(p);
    const back = compileOne({ ...p, egress: toDirectionState(m.egress), ingress: toDirectionState(m.ingress) });
    expect(podDigest(back)).toBe(podDigest(m));
    expect(podDigest(compileOne(pod([])))).not.toBe(podDigest(m));
  });
});

describe("bad input names the field", () => {
  const cases: Array<[string, NodePolicyState, string]> = [
    ["endPort below port", node(pod([{ cidr: "10.0.0.0/8", except: [], ports: [{ protocol: "TCP", port: 90, endPort: 80 }] }])), "pods.0.egress.rules.0.ports.0.endPort"],
    ["veth with a quote", node(pod([], { hostVeth: 'a"b' })), "pods.0.hostVeth"],
    ["a veth used twice", node(pod([]), pod([], { name: "web-2" })), "pods.1.hostVeth"],
    ["not a CIDR", node(pod([{ cidr: "10.0.0.300/8", except: [], ports: [] }])), "pods.0.egress.rules.0.cidr"],
    ["pod name with a space", node(pod([], { name: "a b" })), "pods.0.name"],
  ];
  for (const [name, state, field] of cases) {
    test(name, () => {
      const e = errorOf(() => compileState(state));
      expect(e?.code).toBe("POLICY_STATE_INVALID");
      expect(e?.field).toBe(field);
    });
  }
});

describe("decode (nft -j shapes)", () => {
  const addr = (v: unknown) => ({ match: { op: "==", left: { payload: { protocol: "ip", field: "daddr" } }, right: v } });
  const tcp80 = { match: { op: "==", left: { payload: { protocol: "tcp", field: "dport" } }, right: 80 } };
  const udpRange = { match: { op: "==", left: { payload: { protocol: "udp", field: "dport" } }, right: { set: [{ range: [1000, 1500] }, { range: [1501, 2000] }] } } };
  const anySctp = { match: { op: "==", left: { meta: { key: "l4proto" } }, right: "sctp" } };
  const rule = (chain: string, expr: unknown[], comment?: string) => ({ rule: { family: "inet", table: "t", chain, handle: 1, expr, ...(comment ? { comment } : {}) } });
  const listing = (egRules: unknown[]) => ({
    nftables: [
      { chain: { name: "eg-v1" } },
      { chain: { name: "in-v1" } },
      { chain: { name: "id-v1" } },
      ...egRules.map((e) => rule("eg-v1", e as unknown[])),
      rule("eg-v1", [{ counter: { packets: 3, bytes: 180 } }, { drop: null }]),
      rule("in-v1", [{ accept: null }]),
      rule("id-v1", [{ return: null }], "v1 ns=ns name=web-1 addr=10.1.0.5,fd00::5"),
      { map: { name: "egress-pods", elem: [["v1", { jump: { target: "eg-v1" } }]] } },
    ],
  });
  const want = pod([
    { cidr: "10.2.0.1/32", except: [], ports: [{ protocol: "TCP", port: 80 }, { protocol: "UDP", port: 1000, endPort: 2000 }] },
    { cidr: "10.3.0.0/16", except: [], ports: [{ protocol: "TCP", port: 80 }, { protocol: "UDP", port: 1000, endPort: 2000 }] },
    { cidr: "10.4.0.0/31", except: [], ports: [{ protocol: "TCP", port: 80 }, { protocol: "UDP", port: 1000, endPort: 2000 }] },
    { cidr: "10.9.0.0/16", except: ["10.9.9.0/24"], ports: [{ protocol: "SCTP" }] },
  ], { hostVeth: "v1" });
  const many = addr({ set: ["10.2.0.1", { prefix: { addr: "10.3.0.0", len: 16 } }, { range: ["10.4.0.0", "10.4.0.1"] }] });
  const sctpRule = [addr({ prefix: { addr: "10.9.0.0", len: 16 } }), { match: { op: "!=", left: { payload: { protocol: "ip", field: "daddr" } }, right: { prefix: { addr: "10.9.9.0", len: 24 } } } }, anySctp, { accept: null }];

  test("bare values, prefixes, ranges and sets decode to the same canonical pod", () => {
    const t = decodeTable(listing([[many, tcp80, { accept: null }], [many, udpRange, { accept: null }], sctpRule]));
    expect(t.pods.get("v1")?.problem).toBeUndefined();
    expect(podDigest(t.pods.get("v1")!.model!)).toBe(podDigest(compileOne(want)));
    expect(t.dispatch.egress.get("v1")).toBe("eg-v1");
  });

  test("remotes in a named set decode as inline ones; a set not holding what its name says, or missing, makes the pod unreadable", () => {
    // NAMED_SET_MIN peers that are not adjacent (one span each), on TCP 80 and UDP 1000-2000: one set for both rules
    const peers = Array.from({ length: NAMED_SET_MIN }, (_, i) => `10.2.0.${2 * i + 1}`);
    const ports: PolicyRule["ports"] = [{ protocol: "TCP", port: 80 }, { protocol: "UDP", port: 1000, endPort: 2000 }];
    const m = compileOne(pod(peers.map((a) => ({ cidr: `${a}/32`, except: [], ports })), { hostVeth: "v1" }));
    const [set, ...others] = podSets(m);
    expect(others.filter((o) => o.name !== set!.name)).toEqual([]);
    expect(set!.name).toBe(addressSetName(4, peers.map((a) => ({ lo: BigInt(0x0a020000 + Number(a.split(".")[3])), hi: BigInt(0x0a020000 + Number(a.split(".")[3])) }))));
    expect(renderAddressSet("t", set!)).toEqual([`add set inet t ${set!.name} { type ipv4_addr; flags interval; }`, `flush set inet t ${set!.name}`, `add element inet t ${set!.name} { ${peers.map((a) => `${a}/32`).join(", ")} }`]);
    expect(renderPod("t", m)).toContain(`add rule inet t eg-v1 ip daddr @${set!.name} tcp dport 80 accept`);
    // one span short of it: an anonymous set
    expect(directionRules("egress", compileOne(pod(peers.slice(1).map((a) => ({ cidr: `${a}/32`, except: [], ports })))).egress)[0]).toStartWith("ip daddr { 10.2.0.3/32, ");
    const named = (elem: unknown[], name = set!.name) => ({ nftables: [{ set: { name, type: "ipv4_addr", elem } }, ...listing([[addr(`@${name}`), tcp80, { accept: null }], [addr(`@${name}`), udpRange, { accept: null }]]).nftables] });
    const t = decodeTable(named(peers));
    expect(podDigest(t.pods.get("v1")!.model!)).toBe(podDigest(m));
    expect([...t.addressSets]).toEqual([set!.name]);
    const edited = decodeTable(named(peers.slice(1)));
    expect(edited.pods.get("v1")?.problem).toContain("does not hold what its name says");
    expect([...edited.addressSets]).toEqual([]);
    expect(edited.addressSetNames).toEqual([set!.name]);
    const missing = decodeTable({ nftables: named([]).nftables.slice(1) });
    expect(missing.pods.get("v1")?.problem).toContain(`set @${set!.name}`);
  });

  test("a rule the engine does not write makes the pod unreadable (a hand edit)", () => {
    const t = decodeTable(listing([[addr("10.2.0.1"), { log: null }, { accept: null }]]));
    expect(t.pods.get("v1")?.model).toBeUndefined();
    expect(t.pods.get("v1")?.problem).toContain("statement log");
    const missingDrop = decodeTable({ nftables: listing([]).nftables.filter((i: any) => !(i.rule?.chain === "eg-v1")) });
    expect(missingDrop.pods.get("v1")?.problem).toContain("does not end in drop");
  });
});
