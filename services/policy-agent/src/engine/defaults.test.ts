import { describe, expect, test } from "bun:test";
import type { DirectionState, PodPolicyState } from "../../../../shared/contracts/policy.ts";
import { decodeTable } from "./decode.ts";
import { absentPod, checkDenyPrefixes, isDefaultPod } from "./defaults.ts";
import { compileState } from "./model.ts";
import { baseChainRules, catchAllRule } from "./render.ts";

const OPEN: DirectionState = { kind: "open" };
const DENY: DirectionState = { kind: "deny" };
const RULES: DirectionState = { kind: "rules", rules: [{ cidr: "10.1.0.0/16", except: [], ports: [] }] };
const pod = (hostVeth: string, ingress: DirectionState, egress: DirectionState): PodPolicyState => ({ namespace: "ns", name: "web-1", hostVeth, addresses: ["10.1.0.5"], ingress, egress });
const isDefault = (p: PodPolicyState, prefixes: string[]) => isDefaultPod(compileState({ nodeAddresses: [], pods: [p] }).pods[0]!, prefixes);

describe("a pod's default state", () => {
  // [veth, ingress, egress, catch-all prefixes, needs nothing in the kernel]
  const rows: Array<[string, DirectionState, DirectionState, string[], boolean]> = [
    ["eni0123456789a", OPEN, OPEN, [], true], // standard: open both ways
    ["eni0123456789a", OPEN, RULES, [], false],
    ["eni0123456789a", DENY, DENY, [], false], // denied is not standard's default
    ["eni0123456789a", DENY, DENY, ["eni", "vlan"], true], // strict: covered by the catch-all
    ["vlan0123456789a", DENY, DENY, ["eni", "vlan"], true], // a strict branch-ENI pod
    ["abc0123456789a", DENY, DENY, ["eni", "vlan"], false], // another prefix: not covered, explicit chains
    ["eni0123456789a", OPEN, DENY, ["eni", "vlan"], false], // a direction its policies leave open
    ["eni0123456789a", DENY, { kind: "rules", rules: [] }, ["eni", "vlan"], true], // rules with no entry deny too
    ["eni0123456789a", OPEN, OPEN, ["eni", "vlan"], false],
  ];
  for (const [veth, ingress, egress, prefixes, want] of rows) {
    test(`${veth} ingress ${ingress.kind} egress ${egress.kind}, catch-all ${JSON.stringify(prefixes)}: ${want ? "nothing" : "chains"}`, () => {
      expect(isDefault(pod(veth, ingress, egress), prefixes)).toBe(want);
    });
  }

  test("absent from the kernel: what a miss gives, per direction's catch-alls", () => {
    expect(absentPod(pod("eni0123456789a", RULES, RULES), { egress: ["eni"], ingress: ["eni"] })).toEqual(pod("eni0123456789a", DENY, DENY));
    expect(absentPod(pod("eni0123456789a", DENY, DENY), { egress: undefined, ingress: [] })).toEqual(pod("eni0123456789a", OPEN, OPEN));
    expect(absentPod(pod("abc0123456789a", OPEN, OPEN), { egress: ["eni"], ingress: ["eni"] })).toEqual(pod("abc0123456789a", OPEN, OPEN));
  });

  test("catch-all prefixes: letters and digits only, the bad one named", () => {
    expect(checkDenyPrefixes(["vlan", "eni", "eni"], "p")).toEqual(["eni", "vlan"]);
    for (const bad of ["", "en*", 'e" drop', "a".repeat(16)]) expect(() => checkDenyPrefixes(["eni", bad], "denyVethPrefixes")).toThrow("denyVethPrefixes.1");
  });
});

describe("the catch-all in the kernel's listing", () => {
  const rule = (chain: string, expr: unknown[]) => ({ rule: { family: "inet", table: "t", chain, expr } });
  const skeleton = (dir: "egress" | "ingress", extra: unknown[][]) => [{ chain: { name: dir, hook: "prerouting" } }, ...baseChainRules(dir).map(() => rule(dir, [{ accept: null }])), ...extra.map((e) => rule(dir, e))];
  const catchAll = (dev: "iif" | "oif", prefix: string) => [{ match: { op: "==", left: { meta: { key: `${dev}kind` } }, right: "veth" } }, { match: { op: "==", left: { meta: { key: `${dev}name` } }, right: `${prefix}*` } }, { drop: null }];

  test("decoded per base chain, in order; anything else after the dispatch map is unreadable", () => {
    const listing = { nftables: [...skeleton("egress", [catchAll("iif", "eni"), catchAll("iif", "vlan")]), ...skeleton("ingress", [catchAll("iif", "eni")])] };
    expect(decodeTable(listing).catchAll).toEqual({ egress: ["eni", "vlan"], ingress: undefined }); // ingress matched on the input device: not ours
    const standard = { nftables: [...skeleton("egress", []), ...skeleton("ingress", [])] };
    expect(decodeTable(standard).catchAll).toEqual({ egress: [], ingress: [] });
    expect(decodeTable({ nftables: [] }).catchAll).toEqual({ egress: undefined, ingress: undefined });
  });

  test("written after the dispatch map of each base chain, matching veths only", () => {
    expect(baseChainRules("egress", ["eni", "vlan"]).slice(-3)).toEqual(["iifname vmap @egress-pods", 'meta iifkind "veth" iifname "eni*" drop', 'meta iifkind "veth" iifname "vlan*" drop']);
    expect(catchAllRule("ingress", "eni")).toBe('meta oifkind "veth" oifname "eni*" drop');
  });
});
