import { describe, expect, test } from "bun:test";
import { DEFAULTS, subnetIpv6Cidr } from "./cloud.ts";
import { nodeSettings } from "./deployment.ts";

describe("an IPv6 deployment's options", () => {
  test("subnet i gets the i-th /64 of the VPC's /56", () => {
    expect(subnetIpv6Cidr(DEFAULTS.vpcIpv6Cidr, 0)).toBe("2001:db8:1000::/64");
    expect(subnetIpv6Cidr(DEFAULTS.vpcIpv6Cidr, 2)).toBe("2001:db8:1000:2::/64");
    expect(subnetIpv6Cidr(DEFAULTS.vpcIpv6Cidr, 255)).toBe("2001:db8:1000:ff::/64");
    for (const [cidr, i] of [[DEFAULTS.vpcIpv6Cidr, 256], [DEFAULTS.vpcIpv6Cidr, -1], ["2001:db8::/64", 0], ["10.0.0.0/16", 0]] as const)
      expect(() => subnetIpv6Cidr(cidr, i)).toThrow(/subnets/);
  });

  test("nodes run upstream's IPv6 mode; the operator's --env goes on top", () => {
    expect(nodeSettings({ ipv6: true })).toEqual({ ENABLE_IPv6: "true", ENABLE_IPv4: "false", ENABLE_PREFIX_DELEGATION: "true" });
    expect(nodeSettings({ ipv6: true, env: { WARM_PREFIX_TARGET: "2" } })).toMatchObject({ ENABLE_IPv6: "true", WARM_PREFIX_TARGET: "2" });
    expect(nodeSettings({ env: { WARM_IP_TARGET: "3" } })).toEqual({ WARM_IP_TARGET: "3" });
  });

  test("--v6-egress: IPv4 nodes with ENABLE_V6_EGRESS; the operator's --env still wins", () => {
    expect(nodeSettings({ v6Egress: true })).toEqual({ ENABLE_V6_EGRESS: "true" });
    expect(nodeSettings({ v6Egress: true, env: { ENABLE_V6_EGRESS: "false", WARM_IP_TARGET: "3" } })).toEqual({ ENABLE_V6_EGRESS: "false", WARM_IP_TARGET: "3" });
  });
});
