// The VPC resource controller's EC2 calls, through the real AWS SDK against the simulated EC2:
// reading an instance (type, subnet, primary ENI groups, attached ENIs and free device
// indexes), creating and attaching the trunk, creating and associating a branch ENI, listing
// a trunk's branch ENIs by tag (restart recovery) and disassociating and deleting a branch.
import * as E from "@aws-sdk/client-ec2";

export const TAG = {
  owner: "eks:eni:owner",
  ownerValue: "eks-vpc-resource-controller",
  instanceId: "node.k8s.amazonaws.com/instance_id",
  vlanId: "vpcresources.k8s.aws/vlan-id",
  trunkId: "vpcresources.k8s.aws/trunk-eni-id",
  cluster: (name: string) => `kubernetes.io/cluster/${name}`,
} as const;

const DESCRIPTION_PREFIX = "aws-k8s-";

export interface InstanceView {
  instanceId: string;
  instanceType: string;
  subnetId: string;
  subnetCidr: string;
  subnetV6Cidr: string;
  /** The primary ENI's security groups (the trunk's, and a branch's when no SGP matches). */
  securityGroups: string[];
  /** The attached trunk, if any (its attachment status too). */
  trunk: { id: string; status: string } | undefined;
  /** The device indexes in use on network card 0 and how many card 0 takes. */
  usedDeviceIndexes: number[];
  maxInterfaces: number;
}

export interface BranchCreated {
  eniId: string;
  mac: string;
  ipv4: string;
  ipv6: string;
  associationId: string;
}

const tagList = (tags: Record<string, string>): E.Tag[] => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

export class BranchEc2 {
  constructor(
    private readonly ec2: E.EC2Client,
    private readonly clusterName: string,
  ) {}

  private ownedTags(instanceId: string): Record<string, string> {
    return { [TAG.instanceId]: instanceId, [TAG.owner]: TAG.ownerValue, [TAG.cluster(this.clusterName)]: "owned" };
  }

  async instance(instanceId: string): Promise<InstanceView> {
    const r = await this.ec2.send(new E.DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const inst = r.Reservations?.[0]?.Instances?.[0];
    if (!inst?.SubnetId || !inst.InstanceType) throw new Error(`instance ${instanceId}: no details from EC2`);
    const enis = (await this.ec2.send(new E.DescribeNetworkInterfacesCommand({ Filters: [{ Name: "attachment.instance-id", Values: [instanceId] }] }))).NetworkInterfaces ?? [];
    const subnet = (await this.ec2.send(new E.DescribeSubnetsCommand({ SubnetIds: [inst.SubnetId] }))).Subnets?.[0];
    if (!subnet?.CidrBlock) throw new Error(`subnet ${inst.SubnetId}: no CIDR from EC2`);
    const type = (await this.ec2.send(new E.DescribeInstanceTypesCommand({ InstanceTypes: [inst.InstanceType] }))).InstanceTypes?.[0]?.NetworkInfo;
    const card0 = type?.NetworkCards?.find((c) => (c.NetworkCardIndex ?? 0) === 0)?.MaximumNetworkInterfaces ?? type?.MaximumNetworkInterfaces ?? 0;
    const primary = enis.find((e) => e.PrivateIpAddress === inst.PrivateIpAddress);
    const trunk = enis.find((e) => e.InterfaceType === "trunk");
    return {
      instanceId,
      instanceType: inst.InstanceType,
      subnetId: inst.SubnetId,
      subnetCidr: subnet.CidrBlock,
      subnetV6Cidr: subnet.Ipv6CidrBlockAssociationSet?.[0]?.Ipv6CidrBlock ?? "",
      securityGroups: (primary?.Groups ?? []).flatMap((g) => (g.GroupId ? [g.GroupId] : [])),
      trunk: trunk?.NetworkInterfaceId ? { id: trunk.NetworkInterfaceId, status: trunk.Attachment?.Status ?? "" } : undefined,
      usedDeviceIndexes: enis.filter((e) => (e.Attachment?.NetworkCardIndex ?? 0) === 0).map((e) => e.Attachment?.DeviceIndex ?? 0),
      maxInterfaces: Math.min(type?.MaximumNetworkInterfaces ?? card0, card0),
    };
  }

  /** Create (InterfaceType trunk) → permission → attach at `deviceIndex` → DeleteOnTermination → attached. */
  async createTrunk(view: InstanceView, deviceIndex: number, waitMs = 10_000): Promise<string> {
    const created = await this.ec2.send(new E.CreateNetworkInterfaceCommand({
      Description: `${DESCRIPTION_PREFIX}trunk-eni`,
      SubnetId: view.subnetId,
      ...(view.securityGroups.length > 0 ? { Groups: view.securityGroups } : {}),
      InterfaceType: "trunk",
      TagSpecifications: [{ ResourceType: "network-interface", Tags: tagList(this.ownedTags(view.instanceId)) }],
    }));
    const id = created.NetworkInterface?.NetworkInterfaceId;
    if (!id) throw new Error("CreateNetworkInterface returned no id");
    try {
      await this.ec2.send(new E.CreateNetworkInterfacePermissionCommand({ NetworkInterfaceId: id, Permission: "INSTANCE-ATTACH" }));
      const attached = await this.ec2.send(new E.AttachNetworkInterfaceCommand({ NetworkInterfaceId: id, InstanceId: view.instanceId, DeviceIndex: deviceIndex }));
      await this.ec2.send(new E.ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: id, Attachment: { AttachmentId: attached.AttachmentId, DeleteOnTermination: true } }));
      await this.waitAttached(id, waitMs);
    } catch (error) {
      await this.ec2.send(new E.DeleteNetworkInterfaceCommand({ NetworkInterfaceId: id })).catch(() => {});
      throw error;
    }
    return id;
  }

  async waitAttached(eniId: string, waitMs = 10_000): Promise<void> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const eni = (await this.ec2.send(new E.DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eniId] }))).NetworkInterfaces?.[0];
      if (eni?.Attachment?.Status === "attached") return;
      if (Date.now() > deadline) throw new Error(`network interface ${eniId} not attached after ${waitMs} ms`);
      await Bun.sleep(50);
    }
  }

  /** One branch ENI: create (tagged with its VLAN and trunk), permission, associate. `created` learns the ENI before association. */
  async createBranch(p: { trunkId: string; instanceId: string; subnetId: string; securityGroups: string[]; vlanId: number }, created: (eniId: string) => void): Promise<BranchCreated> {
    const r = await this.ec2.send(new E.CreateNetworkInterfaceCommand({
      Description: `${DESCRIPTION_PREFIX}branch-eni`,
      SubnetId: p.subnetId,
      ...(p.securityGroups.length > 0 ? { Groups: p.securityGroups } : {}),
      TagSpecifications: [{ ResourceType: "network-interface", Tags: tagList({ [TAG.vlanId]: String(p.vlanId), [TAG.trunkId]: p.trunkId, ...this.ownedTags(p.instanceId) }) }],
    }));
    const eni = r.NetworkInterface;
    if (!eni?.NetworkInterfaceId || !eni.MacAddress) throw new Error("CreateNetworkInterface returned no id or MAC");
    created(eni.NetworkInterfaceId);
    await this.ec2.send(new E.CreateNetworkInterfacePermissionCommand({ NetworkInterfaceId: eni.NetworkInterfaceId, Permission: "INSTANCE-ATTACH" }));
    const a = await this.ec2.send(new E.AssociateTrunkInterfaceCommand({ BranchInterfaceId: eni.NetworkInterfaceId, TrunkInterfaceId: p.trunkId, VlanId: p.vlanId }));
    const associationId = a.InterfaceAssociation?.AssociationId;
    if (!associationId) throw new Error("AssociateTrunkInterface returned no association id");
    return { eniId: eni.NetworkInterfaceId, mac: eni.MacAddress, ipv4: eni.PrivateIpAddress ?? "", ipv6: eni.Ipv6Address ?? "", associationId };
  }

  /** The branch ENIs tagged with this trunk in its subnet: id and VLAN tag (NaN when missing). */
  async branchesOf(trunkId: string, subnetId: string): Promise<{ eniId: string; vlanId: number }[]> {
    const out: { eniId: string; vlanId: number }[] = [];
    let token: string | undefined;
    do {
      const r = await this.ec2.send(new E.DescribeNetworkInterfacesCommand({ Filters: [{ Name: `tag:${TAG.trunkId}`, Values: [trunkId] }, { Name: "subnet-id", Values: [subnetId] }], ...(token ? { NextToken: token } : {}) }));
      for (const e of r.NetworkInterfaces ?? []) {
        const tag = e.TagSet?.find((t) => t.Key === TAG.vlanId)?.Value;
        if (e.NetworkInterfaceId) out.push({ eniId: e.NetworkInterfaceId, vlanId: tag !== undefined && /^\d+$/.test(tag) ? Number(tag) : Number.NaN });
      }
      token = r.NextToken;
    } while (token);
    return out;
  }

  /**
   * Disassociate (an unknown association is fine), then delete (an unknown ENI is fine). An ENI
   * queued without its association id (an orphan found after a restart) has it looked up first:
   * the simulated EC2 refuses to delete an associated branch (see DESIGN-NOTES).
   */
  async deleteBranch(eniId: string, knownAssociationId: string): Promise<void> {
    let associationId = knownAssociationId;
    if (associationId === "") {
      const r = await this.ec2.send(new E.DescribeTrunkInterfaceAssociationsCommand({ Filters: [{ Name: "trunk-interface-association.branch-interface-id", Values: [eniId] }] }));
      associationId = r.InterfaceAssociations?.[0]?.AssociationId ?? "";
    }
    if (associationId !== "") {
      await this.ec2.send(new E.DisassociateTrunkInterfaceCommand({ AssociationId: associationId })).catch(() => {
        // as upstream: a failed disassociation still tries the delete, which then says why
      });
    }
    try {
      await this.ec2.send(new E.DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eniId }));
    } catch (error) {
      if ((error as { name?: string }).name !== "InvalidNetworkInterfaceID.NotFound") throw error;
    }
  }
}
