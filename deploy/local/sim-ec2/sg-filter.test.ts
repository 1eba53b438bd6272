/**
 * ENI → allowed ingress/egress rules, from the security groups' state: CIDR rules, group
 * references resolved to member ENIs' addresses, port ranges, ICMP, the default group's rules,
 * and changes (authorize, revoke, group membership) reflected at once.
 */
import { describe, expect, test } from "bun:test";
import { eniFilter, permits } from "./sg-filter.ts";
import { testWorld } from "./test-world.ts";

describe("security group filter of an ENI", () => {
  test("the default group: all in from its members, all out", () => {
    const w = testWorld({ subnetCidr: "10.0.1.0/24" });
    const a = w.model.createNetworkInterface({ subnetId: w.subnet.id, secondaryCount: 1 });
    const stranger = w.model.createNetworkInterface({ subnetId: w.subnet.id, groups: [w.model.createSecurityGroup({ vpcId: w.vpc.id, name: "other" }).id] });
    const f = eniFilter(w.model.state, a.id)!;
    expect(f.addresses).toEqual([`${a.primaryIp}/32`, `${a.secondaryIps[0]}/32`]);
    const memberIp = w.instance.privateIp;
    expect(permits(f, "ingress", { protocol: "tcp", port: 22, peer: memberIp })).toBe(true);
    expect(permits(f, "ingress", { protocol: "udp", port: 53, peer: a.secondaryIps[0]! })).toBe(true);
    expect(permits(f, "ingress", { protocol: "tcp", port: 22, peer: stranger.primaryIp })).toBe(false);
    expect(permits(f, "ingress", { protocol: "tcp", port: 22, peer: "192.0.2.1" })).toBe(false);
    expect(permits(f, "egress", { protocol: "tcp", port: 443, peer: "192.0.2.1" })).toBe(true);
    expect(permits(f, "egress", { protocol: "udp", port: 53, peer: "2001:db8::1" })).toBe(true); // the VPC has IPv6: ::/0 out
    expect(eniFilter(w.model.state, "eni-00000000000099999")).toBeUndefined();
  });

  test("pod groups: ports, ICMP, references to other groups; changes show at once", () => {
    const w = testWorld({ subnetCidr: "10.0.1.0/24" });
    const db = w.model.createSecurityGroup({ vpcId: w.vpc.id, name: "db" });
    const app = w.model.createSecurityGroup({ vpcId: w.vpc.id, name: "app" });
    const branch = w.model.createNetworkInterface({ subnetId: w.subnet.id, groups: [db.id] });
    const client = w.model.createNetworkInterface({ subnetId: w.subnet.id, groups: [app.id] });
    const other = w.model.createNetworkInterface({ subnetId: w.subnet.id });
    w.model.authorizeSecurityGroup(db.id, "ingress", [
      { protocol: "tcp", fromPort: 5432, toPort: 5433, cidrs: [], cidrsV6: [], groupIds: [{ groupId: app.id }] },
      { protocol: "icmp", fromPort: 8, toPort: -1, cidrs: [{ cidr: "10.0.0.0/16" }], cidrsV6: [], groupIds: [] },
    ]);
    w.model.revokeSecurityGroup(db.id, "egress", [{ protocol: "-1", cidrs: [{ cidr: "0.0.0.0/0" }], cidrsV6: [{ cidr: "::/0" }], groupIds: [] }]);
    w.model.authorizeSecurityGroup(db.id, "egress", [{ protocol: "udp", fromPort: 53, toPort: 53, cidrs: [{ cidr: "10.0.0.2/32" }], cidrsV6: [], groupIds: [] }]);
    let f = eniFilter(w.model.state, branch.id)!;
    expect(f.ingress).toEqual([
      { protocol: "tcp", fromPort: 5432, toPort: 5433, cidrs: [`${client.primaryIp}/32`] },
      { protocol: "icmp", fromPort: 8, toPort: -1, cidrs: ["10.0.0.0/16"] },
    ]);
    expect(permits(f, "ingress", { protocol: "tcp", port: 5433, peer: client.primaryIp })).toBe(true);
    expect(permits(f, "ingress", { protocol: "tcp", port: 5434, peer: client.primaryIp })).toBe(false);
    expect(permits(f, "ingress", { protocol: "tcp", port: 5432, peer: other.primaryIp })).toBe(false);
    expect(permits(f, "ingress", { protocol: "icmp", port: 8, code: 0, peer: other.primaryIp })).toBe(true);
    expect(permits(f, "ingress", { protocol: "icmp", port: 0, code: 0, peer: other.primaryIp })).toBe(false);
    expect(permits(f, "egress", { protocol: "udp", port: 53, peer: "10.0.0.2" })).toBe(true);
    expect(permits(f, "egress", { protocol: "tcp", port: 443, peer: "192.0.2.1" })).toBe(false);

    // `other` joins the app group: it may reach the database now.
    w.model.modifyNetworkInterfaceAttribute({ eniId: other.id, groups: [app.id] });
    f = eniFilter(w.model.state, branch.id)!;
    expect(permits(f, "ingress", { protocol: "tcp", port: 5432, peer: other.primaryIp })).toBe(true);
  });
});
