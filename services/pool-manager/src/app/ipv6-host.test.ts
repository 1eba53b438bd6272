import { describe, expect, test } from "bun:test";
import { ipv6Host } from "./ipv6-host.ts";

const imds = (localIpv6: string | undefined, cidrs: string[]) => ({ localIpv6: async () => localIpv6, vpcIpv6Cidrs: async (_mac: string) => cidrs });

describe("ipv6Host", () => {
  test("the primary IPv6 and the VPC's IPv6 CIDRs", async () => {
    expect(await ipv6Host(imds("2001:db8:1000::10", ["2001:db8:1000::/56"]), "02:00:00:00:00:07")).toEqual({ primaryIp: "2001:db8:1000::10", vpcCidrs: ["2001:db8:1000::/56"] });
  });

  test("an instance without an IPv6 address, or a VPC without an IPv6 block, fails with a code naming the IMDS leaf", async () => {
    const e1 = await ipv6Host(imds(undefined, ["2001:db8:1000::/56"]), "02:00:00:00:00:07").catch((e) => e);
    expect(e1.code).toBe("IPV6_HOST_INCOMPLETE");
    expect(e1.message).toContain("meta-data/ipv6");
    const e2 = await ipv6Host(imds("2001:db8:1000::10", []), "02:00:00:00:00:07").catch((e) => e);
    expect(e2.code).toBe("IPV6_HOST_INCOMPLETE");
    expect(e2.message).toContain("vpc-ipv6-cidr-blocks");
  });
});
