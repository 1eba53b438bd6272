/**
 * Trunk and branch ENIs, trunk associations, ENI permissions and security group rules through
 * the unmodified @aws-sdk/client-ec2 against the served simulated EC2. World: VPC 10.0.0.0/16,
 * subnet 10.0.0.0/20 (the VPC has an IPv6 /56), one m5.large (3 ENIs; 9 branch ENIs per trunk).
 * Throttling is off: the limit test makes many calls.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as E from "@aws-sdk/client-ec2";
import { sdkError, servedWorld } from "./sdk-harness.ts";

let w: Awaited<ReturnType<typeof servedWorld>>;
beforeAll(async () => {
  w = await servedWorld({ faults: { throttling: { enabled: false } } });
});
afterAll(async () => {
  await w.close();
});

const code = async (p: Promise<unknown>) => (await sdkError(p)).name;
const eniOf = async (id: string) => (await w.ec2.send(new E.DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [id] }))).NetworkInterfaces?.[0];

async function createEni(interfaceType?: "trunk" | "branch", groups?: string[]): Promise<string> {
  const r = await w.ec2.send(new E.CreateNetworkInterfaceCommand({ SubnetId: w.subnet.id, ...(interfaceType ? { InterfaceType: interfaceType } : {}), ...(groups ? { Groups: groups } : {}) }));
  return r.NetworkInterface!.NetworkInterfaceId!;
}

/** A trunk attached (at device index 2) to a fresh instance of `type`; the instance id too. */
async function attachedTrunk(type = "m5.large"): Promise<{ trunk: string; instance: string }> {
  const inst = w.model.launchInstance({ instanceType: type, subnetId: w.subnet.id, securityGroupIds: [w.sg.id] });
  const trunk = await createEni("trunk");
  await w.ec2.send(new E.AttachNetworkInterfaceCommand({ NetworkInterfaceId: trunk, InstanceId: inst.id, DeviceIndex: 2 }));
  return { trunk, instance: inst.id };
}

describe("trunk ENIs", () => {
  test("a trunk is created with InterfaceType trunk, gets its permission, attaches and shows its type", async () => {
    const { trunk, instance } = await attachedTrunk();
    const perm = await w.ec2.send(new E.CreateNetworkInterfacePermissionCommand({ NetworkInterfaceId: trunk, Permission: "INSTANCE-ATTACH" }));
    expect(perm.InterfacePermission).toMatchObject({ NetworkInterfaceId: trunk, Permission: "INSTANCE-ATTACH", PermissionState: { State: "GRANTED" } });
    expect(perm.InterfacePermission?.NetworkInterfacePermissionId).toMatch(/^eni-perm-[0-9a-f]{17}$/);
    const eni = await eniOf(trunk);
    expect(eni).toMatchObject({ InterfaceType: "trunk", Status: "in-use", Attachment: { InstanceId: instance, DeviceIndex: 2, Status: "attached" } });
    const byType = await w.ec2.send(new E.DescribeNetworkInterfacesCommand({ Filters: [{ Name: "interface-type", Values: ["trunk"] }, { Name: "attachment.instance-id", Values: [instance] }] }));
    expect(byType.NetworkInterfaces?.map((e) => e.NetworkInterfaceId)).toEqual([trunk]);
  });

  test("a second trunk on one instance, a trunk on a type without trunking, and a bad permission are refused", async () => {
    const { instance } = await attachedTrunk();
    const second = await createEni("trunk");
    expect(await code(w.ec2.send(new E.AttachNetworkInterfaceCommand({ NetworkInterfaceId: second, InstanceId: instance, DeviceIndex: 1 })))).toBe("InvalidParameterValue");
    const t3 = w.model.launchInstance({ instanceType: "t3.medium", subnetId: w.subnet.id });
    expect(await code(w.ec2.send(new E.AttachNetworkInterfaceCommand({ NetworkInterfaceId: second, InstanceId: t3.id, DeviceIndex: 1 })))).toBe("UnsupportedOperation");
    expect((await eniOf(second))?.Attachment).toBeUndefined();
    expect(await code(w.ec2.send(new E.CreateNetworkInterfacePermissionCommand({ NetworkInterfaceId: second, Permission: "ATTACH-ALL" as E.InterfacePermissionType })))).toBe("InvalidParameterValue");
    expect(await code(w.ec2.send(new E.CreateNetworkInterfacePermissionCommand({ NetworkInterfaceId: "eni-00000000000099999", Permission: "INSTANCE-ATTACH" })))).toBe("InvalidNetworkInterfaceID.NotFound");
  });
});

describe("branch ENIs and trunk associations", () => {
  test("associate, describe, disassociate, then the branch can be deleted", async () => {
    const { trunk } = await attachedTrunk();
    const branch = await createEni();
    const r = await w.ec2.send(new E.AssociateTrunkInterfaceCommand({ BranchInterfaceId: branch, TrunkInterfaceId: trunk, VlanId: 1 }));
    const assoc = r.InterfaceAssociation!;
    expect(assoc).toMatchObject({ BranchInterfaceId: branch, TrunkInterfaceId: trunk, VlanId: 1, InterfaceProtocol: "VLAN" });
    expect(assoc.AssociationId).toMatch(/^trunk-assoc-[0-9a-f]{17}$/);
    const shown = await eniOf(branch);
    expect(shown).toMatchObject({ InterfaceType: "branch", Status: "in-use" });
    expect(shown?.Attachment).toBeUndefined();
    const byId = await w.ec2.send(new E.DescribeTrunkInterfaceAssociationsCommand({ AssociationIds: [assoc.AssociationId!] }));
    expect(byId.InterfaceAssociations).toEqual([assoc]);
    const byTrunk = await w.ec2.send(new E.DescribeTrunkInterfaceAssociationsCommand({ Filters: [{ Name: "trunk-interface-association.trunk-interface-id", Values: [trunk] }] }));
    expect(byTrunk.InterfaceAssociations?.map((a) => a.BranchInterfaceId)).toEqual([branch]);

    expect(await code(w.ec2.send(new E.DeleteNetworkInterfaceCommand({ NetworkInterfaceId: branch })))).toBe("InvalidParameterValue");
    expect(await eniOf(branch)).toBeDefined();
    await w.ec2.send(new E.DisassociateTrunkInterfaceCommand({ AssociationId: assoc.AssociationId }));
    expect((await eniOf(branch))?.Status).toBe("available");
    expect((await w.ec2.send(new E.DescribeTrunkInterfaceAssociationsCommand({ Filters: [{ Name: "trunk-interface-association.trunk-interface-id", Values: [trunk] }] }))).InterfaceAssociations ?? []).toEqual([]);
    await w.ec2.send(new E.DeleteNetworkInterfaceCommand({ NetworkInterfaceId: branch }));
    expect(await code(eniOf(branch))).toBe("InvalidNetworkInterfaceID.NotFound");
    expect(await code(w.ec2.send(new E.DisassociateTrunkInterfaceCommand({ AssociationId: assoc.AssociationId })))).toBe("InvalidAssociationID.NotFound");
    expect(await code(w.ec2.send(new E.DescribeTrunkInterfaceAssociationsCommand({ AssociationIds: [assoc.AssociationId!] })))).toBe("InvalidAssociationID.NotFound");
  });

  test("EC2's refusals: unknown ids, VLAN in use or out of range, a branch twice, not a trunk, trunk not attached, attaching a branch", async () => {
    const { trunk, instance } = await attachedTrunk();
    const branch = await createEni();
    const other = await createEni();
    const assoc = (b: string, t: string, vlan: number) => code(w.ec2.send(new E.AssociateTrunkInterfaceCommand({ BranchInterfaceId: b, TrunkInterfaceId: t, VlanId: vlan })));
    expect(await assoc("eni-00000000000099999", trunk, 5)).toBe("InvalidNetworkInterfaceID.NotFound");
    expect(await assoc(branch, "eni-00000000000099999", 5)).toBe("InvalidNetworkInterfaceID.NotFound");
    expect(await assoc(branch, trunk, 0)).toBe("InvalidParameterValue");
    expect(await assoc(branch, trunk, 4095)).toBe("InvalidParameterValue");
    expect(await assoc(branch, other, 5)).toBe("InvalidParameterValue"); // not a trunk
    const loose = await createEni("trunk");
    expect(await assoc(branch, loose, 5)).toBe("IncorrectState"); // trunk not attached
    expect(await assoc(branch, trunk, 5)).toBe("none");
    expect(await assoc(other, trunk, 5)).toBe("InvalidParameterValue"); // VLAN in use
    expect(await assoc(branch, trunk, 6)).toBe("InvalidNetworkInterface.InUse"); // already a branch
    expect(await assoc(trunk, trunk, 7)).toBe("InvalidParameterValue");
    expect(await code(w.ec2.send(new E.AttachNetworkInterfaceCommand({ NetworkInterfaceId: branch, InstanceId: instance, DeviceIndex: 1 })))).toBe("InvalidParameterValue");
    const attachment = (await eniOf(trunk))?.Attachment?.AttachmentId;
    expect(await code(w.ec2.send(new E.DetachNetworkInterfaceCommand({ AttachmentId: attachment })))).toBe("InvalidParameterValue"); // it carries a branch
    const assocs = await w.ec2.send(new E.DescribeTrunkInterfaceAssociationsCommand({ Filters: [{ Name: "trunk-interface-association.trunk-interface-id", Values: [trunk] }] }));
    expect(assocs.InterfaceAssociations?.map((a) => [a.BranchInterfaceId, a.VlanId])).toEqual([[branch, 5]]);
  });

  test("a trunk takes at most its type's branch ENIs (m5.large: 9)", async () => {
    const { trunk } = await attachedTrunk();
    for (let vlan = 1; vlan <= 9; vlan++) {
      const b = await createEni();
      await w.ec2.send(new E.AssociateTrunkInterfaceCommand({ BranchInterfaceId: b, TrunkInterfaceId: trunk, VlanId: vlan }));
    }
    const tenth = await createEni();
    expect(await code(w.ec2.send(new E.AssociateTrunkInterfaceCommand({ BranchInterfaceId: tenth, TrunkInterfaceId: trunk, VlanId: 10 })))).toBe("AttachmentLimitExceeded");
    expect((await eniOf(tenth))?.Status).toBe("available");
  });
});

describe("security groups", () => {
  test("a new VPC's default group: all in from itself, all out (IPv6 too in a dual-stack VPC); a new group: all out only", async () => {
    const r = await w.ec2.send(new E.DescribeSecurityGroupsCommand({ GroupIds: [w.sg.id] }));
    const g = r.SecurityGroups?.[0];
    expect(g?.IpPermissions).toEqual([{ IpProtocol: "-1", UserIdGroupPairs: [{ GroupId: w.sg.id, UserId: "123456789012" }], IpRanges: [], Ipv6Ranges: [], PrefixListIds: [] }]);
    expect(g?.IpPermissionsEgress).toEqual([{ IpProtocol: "-1", UserIdGroupPairs: [], IpRanges: [{ CidrIp: "0.0.0.0/0" }], Ipv6Ranges: [{ CidrIpv6: "::/0" }], PrefixListIds: [] }]);
    const created = await w.ec2.send(new E.CreateSecurityGroupCommand({ GroupName: "pods", Description: "pod sg", VpcId: w.vpc.id, TagSpecifications: [{ ResourceType: "security-group", Tags: [{ Key: "team", Value: "a" }] }] }));
    const fresh = (await w.ec2.send(new E.DescribeSecurityGroupsCommand({ GroupIds: [created.GroupId!] }))).SecurityGroups?.[0];
    expect(fresh).toMatchObject({ GroupName: "pods", Description: "pod sg", VpcId: w.vpc.id, IpPermissions: [], Tags: [{ Key: "team", Value: "a" }] });
    expect(fresh?.IpPermissionsEgress?.[0]?.IpRanges).toEqual([{ CidrIp: "0.0.0.0/0" }]);
    expect(await code(w.ec2.send(new E.CreateSecurityGroupCommand({ GroupName: "pods", Description: "again", VpcId: w.vpc.id })))).toBe("InvalidGroup.Duplicate");
    expect(await code(w.ec2.send(new E.CreateSecurityGroupCommand({ GroupName: "default", Description: "x", VpcId: w.vpc.id })))).toBe("InvalidGroup.Reserved");
    expect(await code(w.ec2.send(new E.CreateSecurityGroupCommand({ GroupName: "x", Description: "x", VpcId: "vpc-00000000000099999" })))).toBe("InvalidVpcID.NotFound");
  });

  test("rules by CIDR, by group and by port range; duplicates and unknown rules refused whole", async () => {
    const sg = (await w.ec2.send(new E.CreateSecurityGroupCommand({ GroupName: "web", Description: "web", VpcId: w.vpc.id }))).GroupId!;
    const added = await w.ec2.send(new E.AuthorizeSecurityGroupIngressCommand({
      GroupId: sg,
      IpPermissions: [
        { IpProtocol: "tcp", FromPort: 80, ToPort: 443, IpRanges: [{ CidrIp: "10.0.0.0/16", Description: "vpc" }], UserIdGroupPairs: [{ GroupId: w.sg.id }] },
        { IpProtocol: "icmp", FromPort: 8, ToPort: -1, IpRanges: [{ CidrIp: "0.0.0.0/0" }] },
      ],
    }));
    expect(added.SecurityGroupRules?.map((r) => [r.IpProtocol, r.FromPort, r.ToPort, r.CidrIpv4 ?? r.ReferencedGroupInfo?.GroupId, r.IsEgress])).toEqual([
      ["tcp", 80, 443, "10.0.0.0/16", false],
      ["tcp", 80, 443, w.sg.id, false],
      ["icmp", 8, -1, "0.0.0.0/0", false],
    ]);
    const ingress = async () => (await w.ec2.send(new E.DescribeSecurityGroupsCommand({ GroupIds: [sg] }))).SecurityGroups?.[0]?.IpPermissions;
    expect(await ingress()).toEqual([
      { IpProtocol: "tcp", FromPort: 80, ToPort: 443, UserIdGroupPairs: [{ GroupId: w.sg.id, UserId: "123456789012" }], IpRanges: [{ CidrIp: "10.0.0.0/16", Description: "vpc" }], Ipv6Ranges: [], PrefixListIds: [] },
      { IpProtocol: "icmp", FromPort: 8, ToPort: -1, UserIdGroupPairs: [], IpRanges: [{ CidrIp: "0.0.0.0/0" }], Ipv6Ranges: [], PrefixListIds: [] },
    ]);
    const before = await ingress();
    const authorize = (p: E.IpPermission) => code(w.ec2.send(new E.AuthorizeSecurityGroupIngressCommand({ GroupId: sg, IpPermissions: [{ IpProtocol: "udp", FromPort: 53, ToPort: 53, IpRanges: [{ CidrIp: "10.1.0.0/16" }] }, p] })));
    expect(await authorize({ IpProtocol: "tcp", FromPort: 80, ToPort: 443, IpRanges: [{ CidrIp: "10.0.0.0/16" }] })).toBe("InvalidPermission.Duplicate");
    expect(await authorize({ IpProtocol: "tcp", FromPort: 90, ToPort: 80, IpRanges: [{ CidrIp: "10.0.0.0/16" }] })).toBe("InvalidParameterValue");
    expect(await authorize({ IpProtocol: "tcp", FromPort: 1, ToPort: 70000, IpRanges: [{ CidrIp: "10.0.0.0/16" }] })).toBe("InvalidParameterValue");
    expect(await authorize({ IpProtocol: "tcp", FromPort: 1, ToPort: 2, IpRanges: [{ CidrIp: "10.0.0.1/16" }] })).toBe("InvalidParameterValue");
    expect(await authorize({ IpProtocol: "gre", IpRanges: [{ CidrIp: "10.0.0.0/16" }] })).toBe("InvalidParameterValue");
    expect(await authorize({ IpProtocol: "tcp", FromPort: 1, ToPort: 2, UserIdGroupPairs: [{ GroupId: "sg-00000000000099999" }] })).toBe("InvalidGroup.NotFound");
    expect(await ingress()).toEqual(before);

    await w.ec2.send(new E.AuthorizeSecurityGroupEgressCommand({ GroupId: sg, IpPermissions: [{ IpProtocol: "udp", FromPort: 53, ToPort: 53, Ipv6Ranges: [{ CidrIpv6: "2600:1f14::/64" }] }] }));
    await w.ec2.send(new E.RevokeSecurityGroupEgressCommand({ GroupId: sg, IpPermissions: [{ IpProtocol: "-1", IpRanges: [{ CidrIp: "0.0.0.0/0" }], Ipv6Ranges: [{ CidrIpv6: "::/0" }] }] }));
    const egress = (await w.ec2.send(new E.DescribeSecurityGroupsCommand({ GroupIds: [sg] }))).SecurityGroups?.[0]?.IpPermissionsEgress;
    expect(egress).toEqual([{ IpProtocol: "udp", FromPort: 53, ToPort: 53, UserIdGroupPairs: [], IpRanges: [], Ipv6Ranges: [{ CidrIpv6: "2600:1f14::/64" }], PrefixListIds: [] }]);
    await w.ec2.send(new E.RevokeSecurityGroupIngressCommand({ GroupId: sg, IpPermissions: [{ IpProtocol: "tcp", FromPort: 80, ToPort: 443, UserIdGroupPairs: [{ GroupId: w.sg.id }] }] }));
    expect((await ingress())?.[0]?.UserIdGroupPairs).toEqual([]);
    expect(await code(w.ec2.send(new E.RevokeSecurityGroupIngressCommand({ GroupId: sg, IpPermissions: [{ IpProtocol: "tcp", FromPort: 80, ToPort: 443, UserIdGroupPairs: [{ GroupId: w.sg.id }] }] })))).toBe("InvalidPermission.NotFound");
  });

  test("ModifyNetworkInterfaceAttribute sets a branch's groups; deleting a group in use, referenced, or default is refused", async () => {
    const a = (await w.ec2.send(new E.CreateSecurityGroupCommand({ GroupName: "a", Description: "a", VpcId: w.vpc.id }))).GroupId!;
    const b = (await w.ec2.send(new E.CreateSecurityGroupCommand({ GroupName: "b", Description: "b", VpcId: w.vpc.id }))).GroupId!;
    const eni = await createEni(undefined, [a]);
    await w.ec2.send(new E.ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eni, Groups: [a, b] }));
    expect((await eniOf(eni))?.Groups?.map((g) => g.GroupId)).toEqual([a, b]);
    expect(await code(w.ec2.send(new E.DeleteSecurityGroupCommand({ GroupId: b })))).toBe("DependencyViolation");
    await w.ec2.send(new E.ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eni, Groups: [a] }));
    await w.ec2.send(new E.AuthorizeSecurityGroupIngressCommand({ GroupId: a, IpPermissions: [{ IpProtocol: "-1", UserIdGroupPairs: [{ GroupId: b }] }] }));
    expect(await code(w.ec2.send(new E.DeleteSecurityGroupCommand({ GroupId: b })))).toBe("DependencyViolation");
    await w.ec2.send(new E.RevokeSecurityGroupIngressCommand({ GroupId: a, IpPermissions: [{ IpProtocol: "-1", UserIdGroupPairs: [{ GroupId: b }] }] }));
    await w.ec2.send(new E.DeleteSecurityGroupCommand({ GroupId: b }));
    expect(await code(w.ec2.send(new E.DescribeSecurityGroupsCommand({ GroupIds: [b] })))).toBe("InvalidGroup.NotFound");
    expect(await code(w.ec2.send(new E.DeleteSecurityGroupCommand({ GroupId: w.sg.id })))).toBe("CannotDelete");
    expect(await code(w.ec2.send(new E.ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eni, Groups: [b] })))).toBe("InvalidGroup.NotFound");
  });
});
