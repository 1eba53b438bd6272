/**
 * The simulated EC2's dual-stack world, as an EKS IPv6 cluster needs it: a VPC with an IPv6
 * /56, subnets with /64s inside it, instances launched with a primary IPv6, /80 prefixes from
 * AssignIpv6Addresses; what EC2 refuses, refused with nothing changed; what the SDK and IMDS show.
 * World: VPC 10.0.0.0/16 + 2600:1f14:aaa:100::/56, subnet 10.0.0.0/20 + 2600:1f14:aaa:100::/64.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as E from "@aws-sdk/client-ec2";
import { contains, parseCidr } from "../../../shared/ip.ts";
import { imdsViewOf } from "../node-identity.ts";
import { answerMetadata } from "../sim-imds/metadata-tree.ts";
import { sdkError, servedWorld } from "./sdk-harness.ts";
import { Ec2Model } from "./state.ts";
import { codeOf, testWorld } from "./test-world.ts";

const inside = (cidr: string, ip: string) => contains(parseCidr(cidr)!, ip);

describe("VPC and subnet IPv6 blocks", () => {
  test("a VPC takes one IPv6 /56; anything else is refused and creates nothing", () => {
    const model = new Ec2Model();
    const vpc = model.createVpc({ cidr: "10.1.0.0/16", ipv6Cidr: "2001:db8:1000::/56" });
    expect(vpc.ipv6Cidrs).toEqual(["2001:db8:1000::/56"]);
    for (const bad of ["2001:db8:1000::/64", "10.2.0.0/16", "2001:db8:1000::1/56", "nonsense"]) {
      const before = Object.keys(model.state.vpcs).length;
      expect(codeOf(() => model.createVpc({ cidr: "10.3.0.0/16", ipv6Cidr: bad }))).toBe("InvalidParameterValue");
      expect(Object.keys(model.state.vpcs).length).toBe(before);
    }
  });

  test("a subnet's IPv6 /64 must lie in the VPC's block and overlap no other subnet's", () => {
    const model = new Ec2Model();
    const dual = model.createVpc({ cidr: "10.1.0.0/16", ipv6Cidr: "2001:db8:1000::/56" });
    const v4only = model.createVpc({ cidr: "10.2.0.0/16" });
    const s = model.createSubnet({ vpcId: dual.id, az: "us-west-2a", cidr: "10.1.0.0/24", ipv6Cidr: "2001:db8:1000:1::/64" });
    expect(s.ipv6Cidr).toBe("2001:db8:1000:1::/64");
    const count = () => Object.keys(model.state.subnets).length;
    const n = count();
    expect(codeOf(() => model.createSubnet({ vpcId: dual.id, az: "us-west-2a", cidr: "10.1.1.0/24", ipv6Cidr: "2001:db8:2000::/64" }))).toBe("InvalidParameterValue");
    expect(codeOf(() => model.createSubnet({ vpcId: dual.id, az: "us-west-2a", cidr: "10.1.1.0/24", ipv6Cidr: "2001:db8:1000:1::/64" }))).toBe("InvalidSubnet.Conflict");
    expect(codeOf(() => model.createSubnet({ vpcId: dual.id, az: "us-west-2a", cidr: "10.1.1.0/24", ipv6Cidr: "2001:db8:1000:2::/80" }))).toBe("InvalidParameterValue");
    expect(codeOf(() => model.createSubnet({ vpcId: v4only.id, az: "us-west-2a", cidr: "10.2.0.0/24", ipv6Cidr: "2001:db8:1000:3::/64" }))).toBe("InvalidParameterValue");
    expect(count()).toBe(n);
  });
});

describe("instances and addresses", () => {
  test("an instance launched with one IPv6 address has it as its primary IPv6, inside the subnet's /64", () => {
    const { model, subnet } = testWorld();
    const inst = model.launchInstance({ instanceType: "m5.large", subnetId: subnet.id, ipv6AddressCount: 1 });
    expect(inst.ipv6Address).not.toBeNull();
    expect(inside(subnet.ipv6Cidr!, inst.ipv6Address!)).toBe(true);
    const eni = model.state.enis[inst.primaryEniId]!;
    expect(eni.primaryIpv6).toBe(inst.ipv6Address);
    expect(eni.ipv6Addresses).toEqual([inst.ipv6Address!]);
  });

  test("launching with IPv6 in a subnet without an IPv6 block, or with two, is refused and leaves nothing", () => {
    const model = new Ec2Model();
    const vpc = model.createVpc({ cidr: "10.1.0.0/16" });
    const s = model.createSubnet({ vpcId: vpc.id, az: "us-west-2a", cidr: "10.1.0.0/24" });
    const enis = () => Object.keys(model.state.enis).length;
    expect(codeOf(() => model.launchInstance({ instanceType: "m5.large", subnetId: s.id, ipv6AddressCount: 1 }))).toBe("InvalidParameterValue");
    expect(codeOf(() => model.launchInstance({ instanceType: "m5.large", subnetId: s.id, ipv6AddressCount: 2 }))).toBe("InvalidParameterValue");
    expect(enis()).toBe(0);
    expect(Object.keys(model.state.instances)).toEqual([]);
  });

  test("the primary IPv6 cannot be unassigned; /80 prefixes are aligned inside the /64 and distinct per ENI", () => {
    const { model, subnet } = testWorld();
    const inst = model.launchInstance({ instanceType: "m5.large", subnetId: subnet.id, ipv6AddressCount: 1 });
    const eni = model.state.enis[inst.primaryEniId]!;
    expect(codeOf(() => model.unassignIpv6Addresses({ eniId: eni.id, addresses: [inst.ipv6Address!] }))).toBe("InvalidParameterValue");
    expect(eni.ipv6Addresses).toEqual([inst.ipv6Address!]);
    const a = model.assignIpv6Addresses({ eniId: eni.id, prefixCount: 1 }).prefixes[0]!;
    const other = model.createNetworkInterface({ subnetId: subnet.id });
    const b = model.assignIpv6Addresses({ eniId: other.id, prefixCount: 1 }).prefixes[0]!;
    for (const p of [a, b]) {
      const c = parseCidr(p)!;
      expect(c.prefix).toBe(80);
      expect(c.base % (1n << 48n)).toBe(0n);
      expect(inside(subnet.ipv6Cidr!, p.split("/")[0]!)).toBe(true);
      expect(inside(p, inst.ipv6Address!)).toBe(false);
    }
    expect(a).not.toBe(b);
    expect(codeOf(() => model.assignIpv6Addresses({ eniId: other.id, prefixes: [a] }))).toBe("InvalidIPAddress.InUse");
  });

  test("attaching announces the primary IPv6 to observers (the fabric configures the node with it)", () => {
    const { model, subnet } = testWorld();
    const seen: Array<{ primaryIpv6?: string; cidrs?: string[] }> = [];
    model.addObserver({
      eniAttached: (e) => seen.push({ primaryIpv6: e.primaryIpv6 }),
      eniDetached: () => {},
      addressesAssigned: (e) => seen.push({ cidrs: e.cidrs }),
      addressesUnassigned: () => {},
    });
    const inst = model.launchInstance({ instanceType: "m5.large", subnetId: subnet.id, ipv6AddressCount: 1 });
    expect(seen).toEqual([{ primaryIpv6: inst.ipv6Address! }, { cidrs: [`${inst.ipv6Address}/128`] }]);
  });
});

describe("IMDS of an IPv6 instance", () => {
  test("ipv6, ipv6s, ipv6-prefix, subnet- and vpc-ipv6-cidr-blocks as real IMDS names them", () => {
    const { model, subnet, vpc } = testWorld();
    const inst = model.launchInstance({ instanceType: "m5.large", subnetId: subnet.id, ipv6AddressCount: 1 });
    const eni = model.state.enis[inst.primaryEniId]!;
    const prefix = model.assignIpv6Addresses({ eniId: eni.id, prefixCount: 1 }).prefixes[0]!;
    const view = imdsViewOf(model, "us-west-2", inst.id, model.now())!;
    const get = (path: string) => {
      const a = answerMetadata(view, path);
      return a.found ? a.body : undefined;
    };
    const mac = `network/interfaces/macs/${eni.mac}`;
    expect(get("ipv6")).toBe(inst.ipv6Address!);
    expect(get("")?.split("\n")).toContain("ipv6");
    expect(get(`${mac}/ipv6s`)).toBe(inst.ipv6Address!);
    expect(get(`${mac}/ipv6-prefix`)).toBe(prefix);
    expect(get(`${mac}/subnet-ipv6-cidr-blocks`)).toBe(subnet.ipv6Cidr!);
    expect(get(`${mac}/vpc-ipv6-cidr-blocks`)).toBe(vpc.ipv6Cidrs[0]!);
    expect(get(`${mac}`)?.split("\n")).toEqual(expect.arrayContaining(["ipv6s", "ipv6-prefix", "vpc-ipv6-cidr-blocks"]));
    // An IPv4-only instance has no ipv6 leaf at all.
    const v4 = imdsViewOf(model, "us-west-2", Object.keys(model.state.instances)[0]!, model.now())!;
    expect(answerMetadata(v4, "ipv6").found).toBe(false);
    const root = answerMetadata(v4, "");
    expect(root.found ? root.body.split("\n") : []).toContain("local-ipv4");
    expect(root.found ? root.body.split("\n") : []).not.toContain("ipv6");
  });
});

describe("through the AWS SDK", () => {
  let w: Awaited<ReturnType<typeof servedWorld>>;
  beforeAll(async () => {
    w = await servedWorld();
  });
  afterAll(async () => {
    await w.close();
  });

  test("DescribeInstances and DescribeNetworkInterfaces show the primary IPv6 (IsPrimaryIpv6) and the /80 prefix", async () => {
    const inst = w.model.launchInstance({ instanceType: "m5.large", subnetId: w.subnet.id, ipv6AddressCount: 1 });
    const assigned = await w.ec2.send(new E.AssignIpv6AddressesCommand({ NetworkInterfaceId: inst.primaryEniId, Ipv6PrefixCount: 1 }));
    const prefix = assigned.AssignedIpv6Prefixes?.[0];
    expect(prefix).toMatch(/\/80$/);
    const di = await w.ec2.send(new E.DescribeInstancesCommand({ InstanceIds: [inst.id] }));
    const i = di.Reservations?.[0]?.Instances?.[0];
    expect(i?.Ipv6Address).toBe(inst.ipv6Address!);
    expect(i?.NetworkInterfaces?.[0]?.Ipv6Addresses).toEqual([{ Ipv6Address: inst.ipv6Address!, IsPrimaryIpv6: true }]);
    const dn = await w.ec2.send(new E.DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [inst.primaryEniId] }));
    const ni = dn.NetworkInterfaces?.[0];
    expect(ni?.Ipv6Address).toBe(inst.ipv6Address!);
    expect(ni?.Ipv6Addresses).toEqual([{ Ipv6Address: inst.ipv6Address!, IsPrimaryIpv6: true }]);
    expect(ni?.Ipv6Prefixes).toEqual([{ Ipv6Prefix: prefix! }]);
    const byAddress = await w.ec2.send(new E.DescribeNetworkInterfacesCommand({ Filters: [{ Name: "ipv6-addresses.ipv6-address", Values: [inst.ipv6Address!] }] }));
    expect(byAddress.NetworkInterfaces?.map((n) => n.NetworkInterfaceId)).toEqual([inst.primaryEniId]);
  });

  test("UnassignIpv6Addresses of the primary IPv6 is refused with InvalidParameterValue", async () => {
    const inst = w.model.launchInstance({ instanceType: "m5.large", subnetId: w.subnet.id, ipv6AddressCount: 1 });
    const err = await sdkError(w.ec2.send(new E.UnassignIpv6AddressesCommand({ NetworkInterfaceId: inst.primaryEniId, Ipv6Addresses: [inst.ipv6Address!] })));
    expect(err).toEqual({ name: "InvalidParameterValue", status: 400 });
    expect(w.model.state.enis[inst.primaryEniId]!.ipv6Addresses).toEqual([inst.ipv6Address!]);
  });
});
