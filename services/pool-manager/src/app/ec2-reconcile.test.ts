import { describe, expect, test } from "bun:test";
import type { ImdsInterface } from "../core/ports.ts";
import { ec2Cidrs, imdsDiffers, isLeakedEni, reconcileCidrs } from "./ec2-reconcile.ts";
import { poolCidr } from "./pool-model.ts";

const NOW = 1_800_000_000_000;
const imdsIf = (id: string, v4s: string[], prefixes: string[] = [], networkCard = 0): ImdsInterface =>
  ({ mac: "02:00:00:00:00:01", deviceNumber: 0, networkCard, interfaceId: id, subnetId: "s", subnetCidr: "10.0.0.0/19", vpcId: "v", vpcCidrs: [], securityGroupIds: [], localIpv4s: v4s, ipv4Prefixes: prefixes, ipv6s: [], ipv6Prefixes: [] }) as ImdsInterface;
const known = (cidrs: string[]) => new Map([["eni-1", { pool: { cidrs: cidrs.map((c) => poolCidr(c, c.endsWith("/32") ? "address" : "prefix")) } }]]);

describe("imdsDiffers", () => {
  test.each([
    // same ENIs, same secondary addresses (the primary, first, is not a pool CIDR)
    ["agrees", [imdsIf("eni-1", ["10.0.0.4", "10.0.0.5"])], ["10.0.0.5/32"], 0, false],
    // an address IMDS shows that the pool lacks
    ["extra address", [imdsIf("eni-1", ["10.0.0.4", "10.0.0.5", "10.0.0.6"])], ["10.0.0.5/32"], 0, true],
    // a prefix the pool has and IMDS no longer shows
    ["missing prefix", [imdsIf("eni-1", ["10.0.0.4"])], ["10.0.1.16/28"], 0, true],
    // an ENI the pool does not know (not unmanaged)
    ["unknown ENI", [imdsIf("eni-1", ["10.0.0.4"]), imdsIf("eni-2", ["10.0.0.9"])], [], 0, true],
    // an ENI on network card 1: never managed, so never a difference (upstream skips unmanaged cards)
    ["ENI on another network card", [imdsIf("eni-1", ["10.0.0.4"]), imdsIf("eni-9", ["10.0.0.9", "10.0.0.10"], [], 1)], [], 0, false],
    // ...unless it is the unmanaged one the pool counts
    ["unmanaged ENI", [imdsIf("eni-1", ["10.0.0.4"]), imdsIf("eni-2", ["10.0.0.9"])], [], 1, false],
  ] as const)("%s", (_name, imds, cidrs, unmanaged, differs) => {
    expect(imdsDiffers(known([...cidrs]), unmanaged, [...imds])).toBe(differs);
  });
});

describe("reconcileCidrs", () => {
  test("drops what EC2 no longer has, adds what it has, but not a CIDR freed moments ago", () => {
    const current = ["10.0.0.5/32", "10.0.0.6/32"].map((c) => poolCidr(c, "address"));
    const truth = ec2Cidrs({ secondaryIps: ["10.0.0.6", "10.0.0.7", "10.0.0.8"], ipv4Prefixes: ["10.0.1.16/28"], ipv6Prefixes: [] });
    const freed = new Map([["10.0.0.8/32", NOW - 10_000]]);
    const r = reconcileCidrs(current, truth, freed, NOW);
    expect(r.cidrs.map((c) => `${c.cidr}:${c.kind}:${c.size}`)).toEqual(["10.0.0.6/32:address:1", "10.0.0.7/32:address:1", "10.0.1.16/28:prefix:16"]);
    expect([r.removed, r.added]).toEqual([1, 2]);
    // a minute later the freed CIDR, still in EC2, is the pool's again
    expect(reconcileCidrs(r.cidrs, truth, freed, NOW + 60_000).added).toBe(1);
  });
});

describe("isLeakedEni", () => {
  const at = (msAgo: number) => new Date(NOW - msAgo).toISOString();
  test.each([
    ["ours, 6 min old", "aws-K8S-i-1", { "node.k8s.amazonaws.com/createdAt": at(6 * 60_000) }, true],
    ["ours, 4 min old: may still be attaching", "aws-K8S-i-1", { "node.k8s.amazonaws.com/createdAt": at(4 * 60_000) }, false],
    ["someone else's description", "my ENI", { "node.k8s.amazonaws.com/createdAt": at(6 * 60_000) }, false],
    ["no createdAt tag", "aws-K8S-i-1", {}, false],
  ] as const)("%s", (_n, description, tags, leaked) => {
    expect(isLeakedEni({ description, tags: { ...tags } }, NOW)).toBe(leaked);
  });
});
