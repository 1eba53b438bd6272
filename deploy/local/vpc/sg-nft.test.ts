// The generated nftables text: protocol matches as a table, and the dispatch of one trunk link
// to its branch (by MAC leaving the node, by address entering it) and to the trunk itself.
import { describe, expect, test } from "bun:test";
import { testWorld } from "../sim-ec2/test-world.ts";
import { protocolMatch, renderSgTable } from "./sg-nft.ts";

describe("protocolMatch", () => {
  const rows: Array<[string, number | null, number | null, 4 | 6, string | null]> = [
    ["-1", null, null, 4, ""],
    ["tcp", 443, 443, 4, "tcp dport 443"],
    ["tcp", 8000, 8080, 6, "tcp dport 8000-8080"],
    ["udp", 0, 65535, 4, "meta l4proto udp"], // every port: the protocol alone
    ["icmp", -1, -1, 4, "meta l4proto icmp"],
    ["icmp", 8, -1, 4, "icmp type 8"],
    ["icmp", 3, 4, 4, "icmp type 3 icmp code 4"],
    ["icmp", 8, -1, 6, null], // ICMP never matches IPv6 traffic
    ["icmpv6", 128, -1, 6, "icmpv6 type 128"],
    ["icmpv6", -1, -1, 6, "meta l4proto ipv6-icmp"],
    ["icmpv6", 128, 0, 4, null],
  ];
  for (const [protocol, fromPort, toPort, family, want] of rows)
    test(`${protocol} ${fromPort}..${toPort} IPv${family}`, () => expect(protocolMatch({ protocol: protocol as "tcp", fromPort, toPort }, family)).toBe(want));
});

describe("renderSgTable", () => {
  test("a trunk link: the branch by MAC out and by address in, the rest is the trunk's; group peers are sets of members", () => {
    const w = testWorld();
    const pods = w.model.createSecurityGroup({ vpcId: w.vpc.id, name: "pods" });
    const branch = w.model.createNetworkInterface({ subnetId: w.subnet.id, groups: [pods.id], ipv6Count: 1 });
    w.model.authorizeSecurityGroup(pods.id, "ingress", [
      { protocol: "tcp", fromPort: 5432, toPort: 5432, cidrs: [], cidrsV6: [], groupIds: [{ groupId: w.sg.id }] },
      { protocol: "icmpv6", fromPort: -1, toPort: -1, cidrs: [], cidrsV6: [{ cidr: "2600:1f14:aaa:100::/56" }], groupIds: [] },
    ]);
    const trunkId = w.instance.primaryEniId;
    const v6 = branch.ipv6Addresses[0]!;
    const text = renderSgTable(w.model.state, [
      { eniId: trunkId, link: "n0-eth1" },
      { eniId: branch.id, link: "n0-eth1", branchMac: branch.mac, branchCidrs: [`${branch.primaryIp}/32`, `${v6}/128`] },
      { eniId: "eni-00000000000099999", link: "n0-eth2" }, // not in EC2 any more: no chain
    ]);
    const b = branch.id.replace("-", "_");
    const t = trunkId.replace("-", "_");
    const chainOf = (name: string) => text.slice(text.indexOf(`chain ${name} {`)).split("  }")[0]!;
    expect(text.startsWith("table inet vpc_sg\ndelete table inet vpc_sg\ntable inet vpc_sg {")).toBe(true);
    expect(chainOf("forward")).toContain('iifname vmap { "n0-eth1" : jump from_0 }');
    expect(text).not.toContain("n0-eth2");
    expect(chainOf("from_0").trim().split("\n").slice(2).map((l) => l.trim())).toEqual([`ether saddr ${branch.mac} goto out_${b}`, `goto out_${t}`]);
    expect(chainOf("to_0").trim().split("\n").slice(2).map((l) => l.trim())).toEqual([`ip daddr ${branch.primaryIp}/32 goto in_${b}`, `ip6 daddr ${v6}/128 goto in_${b}`, `goto in_${t}`]);
    const sg = w.sg.id.replace("-", "_");
    expect(chainOf(`in_${b}`).trim().split("\n").slice(1).map((l) => l.trim())).toEqual([
      `ip saddr @${sg}_v4 tcp dport 5432 return`,
      `ip6 saddr @${sg}_v6 tcp dport 5432 return`,
      "ip6 saddr 2600:1f14:aaa:100::/56 meta l4proto ipv6-icmp return",
      `counter drop comment "ingress of ${branch.id}"`,
    ]);
    // The default group's members: the instance's primary ENI (the branch is not one).
    expect(text).toContain(`set ${sg}_v4 {\n    type ipv4_addr; flags interval; auto-merge;\n    elements = { ${w.instance.privateIp}/32 }`);
  });

  test("a name that would reach nft unchecked is refused, naming the field", () => {
    const w = testWorld();
    expect(() => renderSgTable(w.model.state, [{ eniId: w.instance.primaryEniId, link: 'x" accept' }])).toThrow(/link/);
    expect(() => renderSgTable(w.model.state, [{ eniId: w.instance.primaryEniId, link: "n0-eth0", branchMac: "zz" }])).toThrow(/branchMac/);
  });
});
