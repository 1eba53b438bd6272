// Branch-ENI pod layouts per enforcing mode (upstream's SetupBranchENIPodNetwork), the trunk
// ENI's set-up without its rule, and refusals naming the field. Pure.
import { describe, expect, test } from "bun:test";
import { branchLayout, planBranchUnwire, planBranchWire, type BranchRequest } from "./branch-wiring.ts";
import { describeRule, describeRoute } from "./kernel-ops.ts";
import { planEniSetup } from "./eni-setup.ts";
import { DEFAULT_SETTINGS } from "./settings.ts";

const REQ: BranchRequest = {
  containerId: "c1", ifName: "eth0", netns: "/run/netns/p1", podNamespace: "default", podName: "web",
  address: "10.1.0.17", vlanId: 7, branchMac: "0a:00:00:00:01:07", trunkMac: "02:00:00:00:00:7e", subnetGateway: "10.1.0.1", enforcingMode: "strict",
};

describe("branch layout", () => {
  test("strict: vlan-prefixed veth, /32 in table 107, iif rules at 10", () => {
    const l = branchLayout(REQ, DEFAULT_SETTINGS);
    expect(l.hostVeth).toMatch(/^vlan[0-9a-f]{11}$/);
    expect(describeRoute(l.hostRoute)).toBe(`10.1.0.17/32 dev ${l.hostVeth} scope link table 107`);
    expect(l.rules.map(describeRule)).toEqual(["priority 10 iif vlan.eth.7 lookup 107", `priority 10 iif ${l.hostVeth} lookup 107`]);
    expect(l.vlanRoutes.map(describeRoute)).toEqual(["10.1.0.1/32 dev vlan.eth.7 scope link table 107", "default via 10.1.0.1 dev vlan.eth.7 table 107"]);
  });

  test("standard: the node's veth prefix, /32 in main, 512 and 1536", () => {
    const l = branchLayout({ ...REQ, enforcingMode: "standard" }, DEFAULT_SETTINGS);
    expect(l.hostVeth).toMatch(/^eni[0-9a-f]{11}$/);
    expect(describeRoute(l.hostRoute)).toBe(`10.1.0.17/32 dev ${l.hostVeth} scope link table 254`);
    expect(l.rules.map(describeRule)).toEqual(["priority 512 to 10.1.0.17/32 lookup main", "priority 1536 from 10.1.0.17/32 lookup 107"]);
  });

  const refusals: Array<[string, Partial<BranchRequest>, string]> = [
    ["vlanId 0", { vlanId: 0 }, "vlanId"],
    ["vlanId 121", { vlanId: 121 }, "vlanId"],
    ["branch MAC", { branchMac: "0A:00" }, "branchMac"],
    ["trunk MAC", { trunkMac: "x" }, "trunkMac"],
    ["gateway", { subnetGateway: "10.1.0" }, "subnetGateway"],
    ["mode", { enforcingMode: "loose" as never }, "enforcingMode"],
  ];
  for (const [name, over, field] of refusals) {
    test(`refused naming ${field}: ${name}`, () => {
      expect(() => branchLayout({ ...REQ, ...over }, DEFAULT_SETTINGS)).toThrow(field);
    });
  }

  test("ADD makes the VLAN on the trunk's link; DEL removes either mode's state and both veth names", () => {
    const { steps } = planBranchWire(REQ, DEFAULT_SETTINGS, "02:11:22:33:44:55", "eth2");
    expect(steps.find((s) => s.op.op === "vlan.create")?.op).toEqual({ op: "vlan.create", dev: "vlan.eth.7", parent: "eth2", vlanId: 7, mac: "0a:00:00:00:01:07", kind: "vlan" });
    const del = planBranchUnwire({ ...REQ, netns: "" }, DEFAULT_SETTINGS).steps.filter((s) => s.op.op === "link.del").map((s) => (s.op as { dev: string }).dev);
    expect(del).toEqual(["vlan.eth.7", branchLayout(REQ, DEFAULT_SETTINGS).hostVeth, branchLayout({ ...REQ, enforcingMode: "standard" }, DEFAULT_SETTINGS).hostVeth]);
  });
});

describe("the trunk ENI's set-up", () => {
  const eni = { eniId: "eni-0f7", mac: "02:00:00:00:00:7e", deviceNumber: 2, primaryIp: "10.0.0.12", subnetCidr: "10.0.0.0/16", gateway: "10.0.0.1", routeTable: 3 };
  const seen = { link: { name: "eth2", index: 5, mac: eni.mac, mtu: 1500, up: false }, addrs: [], routes: [], rules: [] };
  test("MTU, address and table as any ENI; the `from <primary IP>` rule only for a non-trunk ENI", () => {
    const rules = (trunk: boolean) => planEniSetup({ ...eni, trunk }, 9001, seen).filter((s) => s.op.op === "rule.add").length;
    expect([rules(false), rules(true)]).toEqual([1, 0]);
    expect(planEniSetup({ ...eni, trunk: true }, 9001, seen).some((s) => s.op.op === "link.set")).toBe(true);
  });
});
