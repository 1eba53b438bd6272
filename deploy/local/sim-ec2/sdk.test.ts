/**
 * The unmodified @aws-sdk/client-ec2 against the served simulated EC2: every action, the
 * error codes as the SDK names them, filters, pagination. World: VPC 10.0.0.0/16, subnet
 * 10.0.0.0/20 in us-west-2a, one m5.large (3 ENIs × 10 IPv4).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as E from "@aws-sdk/client-ec2";
import { sdkError, servedWorld } from "./sdk-harness.ts";

let w: Awaited<ReturnType<typeof servedWorld>>;
beforeAll(async () => {
  w = await servedWorld();
});
afterAll(async () => {
  await w.close();
});

describe("describe actions", () => {
  test("DescribeInstances parses instance, placement and primary ENI", async () => {
    const r = await w.ec2.send(new E.DescribeInstancesCommand({ InstanceIds: [w.instance.id] }));
    const inst = r.Reservations?.[0]?.Instances?.[0];
    expect(inst?.InstanceId).toBe(w.instance.id);
    expect(inst?.InstanceType).toBe("m5.large");
    expect(inst?.Placement?.AvailabilityZone).toBe("us-west-2a");
    expect(inst?.PrivateIpAddress).toBe(w.instance.privateIp);
    expect(inst?.State?.Name).toBe("running");
    const ni = inst?.NetworkInterfaces?.[0];
    expect(ni?.Attachment?.DeviceIndex).toBe(0);
    expect(ni?.NetworkInterfaceId).toBe(w.instance.primaryEniId);
    expect(ni?.PrivateIpAddresses?.[0]).toMatchObject({ PrivateIpAddress: w.instance.privateIp, Primary: true });
    expect(inst?.SecurityGroups?.[0]?.GroupId).toBe(w.sg.id);
    expect((await sdkError(w.ec2.send(new E.DescribeInstancesCommand({ InstanceIds: ["i-00000000000009999"] })))).name).toBe("InvalidInstanceID.NotFound");
  });

  test("DescribeInstanceTypes parses the network limits", async () => {
    const r = await w.ec2.send(new E.DescribeInstanceTypesCommand({ InstanceTypes: ["m5.large", "t3.medium"] }));
    const byName = Object.fromEntries((r.InstanceTypes ?? []).map((t) => [t.InstanceType, t]));
    expect(byName["m5.large"]?.NetworkInfo).toMatchObject({ MaximumNetworkInterfaces: 3, Ipv4AddressesPerInterface: 10, Ipv6AddressesPerInterface: 10, Ipv6Supported: true, MaximumNetworkCards: 1 });
    expect(byName["m5.large"]?.NetworkInfo?.NetworkCards?.[0]).toMatchObject({ NetworkCardIndex: 0, MaximumNetworkInterfaces: 3 });
    expect(byName["m5.large"]?.Hypervisor).toBe("nitro");
    expect(byName["t3.medium"]?.NetworkInfo?.Ipv4AddressesPerInterface).toBe(6);
    expect((await sdkError(w.ec2.send(new E.DescribeInstanceTypesCommand({ InstanceTypes: ["x9.huge" as E._InstanceType] })))).name).toBe("InvalidInstanceType");
  });

  test("DescribeSubnets with filters, free-address count and IPv6 CIDR", async () => {
    const r = await w.ec2.send(new E.DescribeSubnetsCommand({ Filters: [{ Name: "vpc-id", Values: [w.vpc.id] }, { Name: "availability-zone", Values: ["us-west-2a"] }] }));
    expect(r.Subnets?.map((s) => s.SubnetId)).toEqual([w.subnet.id]);
    expect(r.Subnets?.[0]?.CidrBlock).toBe("10.0.0.0/20");
    expect(r.Subnets?.[0]?.AvailableIpAddressCount).toBe(4096 - 5 - 1);
    expect(r.Subnets?.[0]?.Ipv6CidrBlockAssociationSet?.[0]?.Ipv6CidrBlock).toBe("2600:1f14:aaa:100::/64");
    const none = await w.ec2.send(new E.DescribeSubnetsCommand({ Filters: [{ Name: "availability-zone", Values: ["us-west-2b"] }] }));
    expect(none.Subnets ?? []).toEqual([]);
    await w.ec2.send(new E.CreateTagsCommand({ Resources: [w.subnet.id], Tags: [{ Key: "kubernetes.io/role/cni", Value: "1" }] }));
    const tagged = await w.ec2.send(new E.DescribeSubnetsCommand({ Filters: [{ Name: "tag:kubernetes.io/role/cni", Values: ["1"] }] }));
    expect(tagged.Subnets?.[0]?.Tags).toEqual([{ Key: "kubernetes.io/role/cni", Value: "1" }]);
    expect((await sdkError(w.ec2.send(new E.DescribeSubnetsCommand({ SubnetIds: ["subnet-00000000000009999"] })))).name).toBe("InvalidSubnetID.NotFound");
    expect((await sdkError(w.ec2.send(new E.DescribeSubnetsCommand({ Filters: [{ Name: "bogus", Values: ["x"] }] })))).name).toBe("InvalidParameterValue");
  });

  test("DescribeSecurityGroups", async () => {
    const r = await w.ec2.send(new E.DescribeSecurityGroupsCommand({ GroupIds: [w.sg.id] }));
    expect(r.SecurityGroups?.[0]).toMatchObject({ GroupId: w.sg.id, GroupName: "default", VpcId: w.vpc.id });
  });
});

describe("ENI lifecycle", () => {
  test("create with addresses and tags, attach, modify, detach, delete", async () => {
    const created = await w.ec2.send(
      new E.CreateNetworkInterfaceCommand({
        SubnetId: w.subnet.id,
        Description: `aws-K8S-${w.instance.id}`,
        Groups: [w.sg.id],
        SecondaryPrivateIpAddressCount: 2,
        TagSpecifications: [{ ResourceType: "network-interface", Tags: [{ Key: "node.k8s.amazonaws.com/instance_id", Value: w.instance.id }] }],
      }),
    );
    const ni = created.NetworkInterface!;
    expect(ni.NetworkInterfaceId).toMatch(/^eni-[0-9a-f]{17}$/);
    expect(ni.MacAddress).toMatch(/^02(:[0-9a-f]{2}){5}$/);
    expect(ni.Status).toBe("available");
    expect(ni.PrivateIpAddresses?.length).toBe(3);
    expect(ni.PrivateIpAddresses?.filter((p) => p.Primary).length).toBe(1);
    expect(ni.TagSet).toEqual([{ Key: "node.k8s.amazonaws.com/instance_id", Value: w.instance.id }]);
    expect(ni.Groups?.[0]?.GroupId).toBe(w.sg.id);
    const eniId = ni.NetworkInterfaceId!;

    const att = await w.ec2.send(new E.AttachNetworkInterfaceCommand({ NetworkInterfaceId: eniId, InstanceId: w.instance.id, DeviceIndex: 1, NetworkCardIndex: 0 }));
    expect(att.AttachmentId).toMatch(/^eni-attach-/);
    expect(att.NetworkCardIndex).toBe(0);
    await w.ec2.send(new E.ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eniId, Attachment: { AttachmentId: att.AttachmentId, DeleteOnTermination: true } }));
    await w.ec2.send(new E.ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eniId, Description: { Value: "renamed" } }));
    const d = await w.ec2.send(new E.DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eniId] }));
    const desc = d.NetworkInterfaces![0]!;
    expect(desc.Attachment).toMatchObject({ AttachmentId: att.AttachmentId, InstanceId: w.instance.id, DeviceIndex: 1, NetworkCardIndex: 0, Status: "attached", DeleteOnTermination: true });
    expect(desc.Attachment?.AttachTime).toBeInstanceOf(Date);
    expect(desc.Description).toBe("renamed");
    expect(desc.Status).toBe("in-use");

    expect((await sdkError(w.ec2.send(new E.DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eniId })))).name).toBe("InvalidParameterValue");
    await w.ec2.send(new E.DetachNetworkInterfaceCommand({ AttachmentId: att.AttachmentId, Force: true }));
    expect((await sdkError(w.ec2.send(new E.DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eniId })))).name).toBe("InvalidParameterValue");
    w.clock.t += 2000;
    await w.ec2.send(new E.DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eniId }));
    expect(w.model.state.enis[eniId]).toBeUndefined();
    const gone = await sdkError(w.ec2.send(new E.DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eniId })));
    expect(gone).toEqual({ name: "InvalidNetworkInterfaceID.NotFound", status: 400 });
    expect((await sdkError(w.ec2.send(new E.DetachNetworkInterfaceCommand({ AttachmentId: att.AttachmentId })))).name).toBe("InvalidAttachmentID.NotFound");
  });

  test("attachment limits and device index errors", async () => {
    const mk = async () => (await w.ec2.send(new E.CreateNetworkInterfaceCommand({ SubnetId: w.subnet.id }))).NetworkInterface!.NetworkInterfaceId!;
    const a = await mk();
    expect((await sdkError(w.ec2.send(new E.AttachNetworkInterfaceCommand({ NetworkInterfaceId: a, InstanceId: w.instance.id, DeviceIndex: 3 })))).name).toBe("AttachmentLimitExceeded");
    expect((await sdkError(w.ec2.send(new E.AttachNetworkInterfaceCommand({ NetworkInterfaceId: a, InstanceId: w.instance.id, DeviceIndex: 0 })))).name).toBe("InvalidParameterValue");
    expect((await sdkError(w.ec2.send(new E.AttachNetworkInterfaceCommand({ NetworkInterfaceId: a, InstanceId: "i-00000000000009999", DeviceIndex: 1 })))).name).toBe("InvalidInstanceID.NotFound");
    expect((await sdkError(w.ec2.send(new E.AttachNetworkInterfaceCommand({ NetworkInterfaceId: "eni-nope", InstanceId: w.instance.id, DeviceIndex: 1 })))).name).toBe("InvalidNetworkInterfaceID.Malformed");
    expect((await sdkError(w.ec2.send(new E.CreateNetworkInterfaceCommand({ SubnetId: "subnet-00000000000009999" })))).name).toBe("InvalidSubnetID.NotFound");
    expect((await sdkError(w.ec2.send(new E.CreateNetworkInterfaceCommand({} as E.CreateNetworkInterfaceRequest)))).name).toBe("MissingParameter");
    w.clock.t += 10_000;
    await w.ec2.send(new E.DeleteNetworkInterfaceCommand({ NetworkInterfaceId: a }));
  });
});

describe("addresses", () => {
  test("assign/unassign IPv4 addresses and prefixes, limits", async () => {
    const ni = (await w.ec2.send(new E.CreateNetworkInterfaceCommand({ SubnetId: w.subnet.id, Ipv4PrefixCount: 1 }))).NetworkInterface!;
    expect(ni.Ipv4Prefixes?.[0]?.Ipv4Prefix).toMatch(/\/28$/);
    const eniId = ni.NetworkInterfaceId!;
    const att = await w.ec2.send(new E.AttachNetworkInterfaceCommand({ NetworkInterfaceId: eniId, InstanceId: w.instance.id, DeviceIndex: 2 }));
    const r = await w.ec2.send(new E.AssignPrivateIpAddressesCommand({ NetworkInterfaceId: eniId, SecondaryPrivateIpAddressCount: 3 }));
    expect(r.NetworkInterfaceId).toBe(eniId);
    expect(r.AssignedPrivateIpAddresses?.length).toBe(3);
    const p = await w.ec2.send(new E.AssignPrivateIpAddressesCommand({ NetworkInterfaceId: eniId, Ipv4PrefixCount: 2 }));
    expect(p.AssignedIpv4Prefixes?.map((x) => x.Ipv4Prefix?.endsWith("/28"))).toEqual([true, true]);
    // 1 primary + 3 + 3 prefixes = 7 of 10 slots.
    const over = await sdkError(w.ec2.send(new E.AssignPrivateIpAddressesCommand({ NetworkInterfaceId: eniId, SecondaryPrivateIpAddressCount: 4 })));
    expect(over).toEqual({ name: "PrivateIpAddressLimitExceeded", status: 400 });
    const explicit = await w.ec2.send(new E.AssignPrivateIpAddressesCommand({ NetworkInterfaceId: eniId, PrivateIpAddresses: ["10.0.15.200"] }));
    expect(explicit.AssignedPrivateIpAddresses?.[0]?.PrivateIpAddress).toBe("10.0.15.200");
    await w.ec2.send(new E.UnassignPrivateIpAddressesCommand({ NetworkInterfaceId: eniId, PrivateIpAddresses: ["10.0.15.200"], }));
    await w.ec2.send(new E.UnassignPrivateIpAddressesCommand({ NetworkInterfaceId: eniId, Ipv4Prefixes: [p.AssignedIpv4Prefixes![0]!.Ipv4Prefix!] }));
    const d = (await w.ec2.send(new E.DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eniId] }))).NetworkInterfaces![0]!;
    expect(d.PrivateIpAddresses?.length).toBe(4);
    expect(d.Ipv4Prefixes?.length).toBe(2);
    expect((await sdkError(w.ec2.send(new E.UnassignPrivateIpAddressesCommand({ NetworkInterfaceId: eniId, PrivateIpAddresses: ["10.0.15.201"] })))).name).toBe("InvalidParameterValue");

    const v6 = await w.ec2.send(new E.AssignIpv6AddressesCommand({ NetworkInterfaceId: eniId, Ipv6AddressCount: 2 }));
    expect(v6.AssignedIpv6Addresses?.length).toBe(2);
    const v6p = await w.ec2.send(new E.AssignIpv6AddressesCommand({ NetworkInterfaceId: eniId, Ipv6PrefixCount: 1 }));
    expect(v6p.AssignedIpv6Prefixes?.[0]).toMatch(/^2600:1f14:aaa:100:1::\/80$/);
    const un = await w.ec2.send(new E.UnassignIpv6AddressesCommand({ NetworkInterfaceId: eniId, Ipv6Addresses: [v6.AssignedIpv6Addresses![0]!], Ipv6Prefixes: v6p.AssignedIpv6Prefixes }));
    expect(un.UnassignedIpv6Addresses).toEqual([v6.AssignedIpv6Addresses![0]!]);
    expect(un.UnassignedIpv6Prefixes).toEqual(v6p.AssignedIpv6Prefixes);
    const d6 = (await w.ec2.send(new E.DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eniId] }))).NetworkInterfaces![0]!;
    expect(d6.Ipv6Addresses?.map((a) => a.Ipv6Address)).toEqual([v6.AssignedIpv6Addresses![1]!]);

    await w.ec2.send(new E.DetachNetworkInterfaceCommand({ AttachmentId: att.AttachmentId }));
  });

  test("a full subnet and a fragmented one", async () => {
    const small = w.model.createSubnet({ vpcId: w.vpc.id, az: "us-west-2a", cidr: "10.0.16.0/28" });
    const eni = (await w.ec2.send(new E.CreateNetworkInterfaceCommand({ SubnetId: small.id, SecondaryPrivateIpAddressCount: 10 }))).NetworkInterface!;
    expect((await sdkError(w.ec2.send(new E.CreateNetworkInterfaceCommand({ SubnetId: small.id })))).name).toBe("InsufficientFreeAddressesInSubnet");
    await w.ec2.send(new E.UnassignPrivateIpAddressesCommand({ NetworkInterfaceId: eni.NetworkInterfaceId, PrivateIpAddresses: [eni.PrivateIpAddresses![1]!.PrivateIpAddress!] }));
    expect((await sdkError(w.ec2.send(new E.AssignPrivateIpAddressesCommand({ NetworkInterfaceId: eni.NetworkInterfaceId, Ipv4PrefixCount: 1 })))).name).toBe("InsufficientCidrBlocks");
    await w.ec2.send(new E.AssignPrivateIpAddressesCommand({ NetworkInterfaceId: eni.NetworkInterfaceId, SecondaryPrivateIpAddressCount: 1 }));
  });
});

describe("filters, pagination, tags", () => {
  test("DescribeNetworkInterfaces filters and NextToken pages", async () => {
    const tag = `t-${process.pid}`;
    const made: string[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await w.ec2.send(new E.CreateNetworkInterfaceCommand({ SubnetId: w.subnet.id, Description: `aws-K8S-${i}`, TagSpecifications: [{ ResourceType: "network-interface", Tags: [{ Key: tag, Value: String(i % 2) }] }] }));
      made.push(r.NetworkInterface!.NetworkInterfaceId!);
    }
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const r = await w.ec2.send(new E.DescribeNetworkInterfacesCommand({ Filters: [{ Name: "tag-key", Values: [tag] }], MaxResults: 5, NextToken: token }));
      seen.push(...(r.NetworkInterfaces ?? []).map((n) => n.NetworkInterfaceId!));
      token = r.NextToken;
      pages++;
    } while (token);
    expect(pages).toBe(2);
    expect(seen.sort()).toEqual([...made].sort());
    const odd = await w.ec2.send(new E.DescribeNetworkInterfacesCommand({ Filters: [{ Name: `tag:${tag}`, Values: ["1"] }, { Name: "status", Values: ["available"] }, { Name: "vpc-id", Values: [w.vpc.id] }] }));
    expect(odd.NetworkInterfaces?.length).toBe(3);
    const byDesc = await w.ec2.send(new E.DescribeNetworkInterfacesCommand({ Filters: [{ Name: "description", Values: ["aws-K8S-1", "aws-K8S-2"] }, { Name: "subnet-id", Values: [w.subnet.id] }] }));
    expect(byDesc.NetworkInterfaces?.map((n) => n.Description).sort()).toEqual(["aws-K8S-1", "aws-K8S-2"]);
    const wild = await w.ec2.send(new E.DescribeNetworkInterfacesCommand({ Filters: [{ Name: "network-interface-id", Values: [made[0]!] }] }));
    expect(wild.NetworkInterfaces?.length).toBe(1);
    const mine = await w.ec2.send(new E.DescribeNetworkInterfacesCommand({ Filters: [{ Name: "attachment.instance-id", Values: [w.instance.id] }] }));
    expect(mine.NetworkInterfaces?.map((n) => n.Attachment?.DeviceIndex)).toContain(0);
    expect((await sdkError(w.ec2.send(new E.DescribeNetworkInterfacesCommand({ MaxResults: 2 })))).name).toBe("InvalidParameterValue");

    await w.ec2.send(new E.CreateTagsCommand({ Resources: [made[0]!], Tags: [{ Key: "extra", Value: "x" }] }));
    await w.ec2.send(new E.DeleteTagsCommand({ Resources: [made[0]!], Tags: [{ Key: tag }] }));
    expect(w.model.state.enis[made[0]!]!.tags).toEqual({ extra: "x" });
    expect((await sdkError(w.ec2.send(new E.CreateTagsCommand({ Resources: ["eni-00000000000009999"], Tags: [{ Key: "a", Value: "b" }] })))).name).toBe("InvalidNetworkInterfaceID.NotFound");
    for (const id of made) await w.ec2.send(new E.DeleteNetworkInterfaceCommand({ NetworkInterfaceId: id }));
  });
});

describe("more refusals", () => {
  test("attaching an attached ENI, security groups, reassignment", async () => {
    const a = w.model.createNetworkInterface({ subnetId: w.subnet.id, secondaryCount: 1 });
    const b = w.model.createNetworkInterface({ subnetId: w.subnet.id });
    const att = await w.ec2.send(new E.AttachNetworkInterfaceCommand({ NetworkInterfaceId: a.id, InstanceId: w.instance.id, DeviceIndex: 1 }));
    expect((await sdkError(w.ec2.send(new E.AttachNetworkInterfaceCommand({ NetworkInterfaceId: a.id, InstanceId: w.instance.id, DeviceIndex: 2 })))).name).toBe("InvalidNetworkInterface.InUse");
    const sg2 = w.model.createSecurityGroup({ vpcId: w.vpc.id, name: "pods" });
    await w.ec2.send(new E.ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: b.id, Groups: [sg2.id] }));
    expect(w.model.state.enis[b.id]!.groups).toEqual([sg2.id]);
    expect((await sdkError(w.ec2.send(new E.ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: b.id, Groups: ["sg-00000000000009999"] })))).name).toBe("InvalidGroup.NotFound");
    const ip = w.model.state.enis[a.id]!.secondaryIps[0]!;
    expect((await sdkError(w.ec2.send(new E.AssignPrivateIpAddressesCommand({ NetworkInterfaceId: b.id, PrivateIpAddresses: [ip] })))).name).toBe("InvalidIPAddress.InUse");
    await w.ec2.send(new E.AssignPrivateIpAddressesCommand({ NetworkInterfaceId: b.id, PrivateIpAddresses: [ip], AllowReassignment: true }));
    expect(w.model.state.enis[a.id]!.secondaryIps).toEqual([]);
    expect(w.model.state.enis[b.id]!.secondaryIps).toEqual([ip]);
    await w.ec2.send(new E.DetachNetworkInterfaceCommand({ AttachmentId: att.AttachmentId }));
  });
});
