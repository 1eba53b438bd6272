// How long regenerating the router's security-group table takes at a size the local
// deployment reaches: 4 nodes × 3 ENIs × 30 addresses, every ENI in a group whose members may
// reach each other (a set of 372 addresses) plus a few CIDR rules. The table is applied in a
// namespace of the test's own; the figures are printed for the README.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Ec2Model } from "../sim-ec2/state.ts";
import { ip } from "./command.ts";
import type { FabricEni } from "./fabric-sync.ts";
import { SgEnforcer } from "./sg-enforcer.ts";
import { SG_TABLE } from "./sg-nft.ts";
import { execIn } from "./test-support.ts";
import { NAMESPACES, requires } from "../../../tests/support/prerequisites.ts";

const ns = `sgscale-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

requires(...NAMESPACES, "nft").describe("security-group table at scale (root)", () => {
  beforeAll(async () => {
    await ip(undefined, "netns", "add", ns);
  });
  afterAll(async () => {
    await ip(undefined, "netns", "del", ns);
  });

  test("4 nodes × 3 ENIs × 30 addresses: generated and applied in one transaction, re-applied after a change", async () => {
    const model = new Ec2Model({ timing: { attachDelayMs: 0, imdsDelayMs: 0 } });
    const vpc = model.createVpc({ cidr: "10.0.0.0/16" });
    const subnet = model.createSubnet({ vpcId: vpc.id, az: "us-west-2a", cidr: "10.0.0.0/19" });
    const nodes = model.createSecurityGroup({ vpcId: vpc.id, name: "nodes" });
    model.authorizeSecurityGroup(nodes.id, "ingress", [
      { protocol: "-1", cidrs: [], cidrsV6: [], groupIds: [{ groupId: nodes.id }] },
      { protocol: "tcp", fromPort: 443, toPort: 443, cidrs: [{ cidr: "192.0.2.0/24" }], cidrsV6: [], groupIds: [] },
      { protocol: "icmp", fromPort: 8, toPort: -1, cidrs: [{ cidr: "10.0.0.0/16" }], cidrsV6: [], groupIds: [] },
    ]);
    const enis: FabricEni[] = [];
    for (let n = 0; n < 4; n++) {
      const inst = model.launchInstance({ instanceType: "m5.4xlarge", subnetId: subnet.id, securityGroupIds: [nodes.id] });
      enis.push({ eniId: inst.primaryEniId, link: `n${n}-eth0` });
      model.assignPrivateIpAddresses({ eniId: inst.primaryEniId, count: 29 });
      for (let d = 1; d < 3; d++) {
        const eni = model.createNetworkInterface({ subnetId: subnet.id, groups: [nodes.id], secondaryCount: 29 });
        model.attachNetworkInterface({ eniId: eni.id, instanceId: inst.id, deviceIndex: d });
        enis.push({ eniId: eni.id, link: `n${n}-eth${d}` });
      }
    }
    const enforcer = new SgEnforcer(ns);
    await enforcer.enforce(model.state, enis);
    const first = enforcer.last!;
    model.authorizeSecurityGroup(nodes.id, "ingress", [{ protocol: "udp", fromPort: 53, toPort: 53, cidrs: [{ cidr: "10.0.0.0/16" }], cidrsV6: [], groupIds: [] }]);
    await enforcer.enforce(model.state, enis);
    const second = enforcer.last!;
    console.log(`sg table, 12 ENIs × 30 addresses (${first.bytes} bytes): first ${first.renderMs.toFixed(1)} ms render + ${first.applyMs.toFixed(1)} ms nft -f; after a change ${second.renderMs.toFixed(1)} + ${second.applyMs.toFixed(1)} ms`);
    const listed = await execIn(ns, ["nft", "-j", "list", "set", "inet", SG_TABLE, `${nodes.id.replace("-", "_")}_v4`]);
    const elems = (JSON.parse(listed.stdout).nftables as Array<{ set?: { elem?: unknown[] } }>).find((o) => o.set)?.set?.elem ?? [];
    // 12 ENIs × 30 addresses; auto-merge joins neighbours into ranges, so count addresses, not elements.
    const count = elems.reduce<number>((sum, e) => {
      const r = (e as { range?: [string, string] }).range;
      if (!r) return sum + 1;
      const n = (a: string) => a.split(".").reduce((x, o) => x * 256 + Number(o), 0);
      return sum + n(r[1]) - n(r[0]) + 1;
    }, 0);
    expect(count).toBe(360);
    const table = await execIn(ns, ["nft", "list", "table", "inet", SG_TABLE]);
    expect(table.stdout).toContain("udp dport 53 return");
    expect(table.stdout.match(/chain in_eni_/g)?.length).toBe(12);
    // Bound loose enough for a loaded shared machine; the figures above are what matters.
    expect(second.renderMs + second.applyMs).toBeLessThan(5000);
  }, 30_000);
});
