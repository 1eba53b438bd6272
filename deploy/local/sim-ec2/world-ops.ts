/**
 * Building the simulated world (used by the local deployment): VPCs with their default
 * security group, subnets (a /28 or larger inside the VPC, overlapping none), security
 * groups, and running instances with their primary ENI attached at device 0. Called by
 * Ec2Model inside its `mutate`.
 */
import { parseCidr } from "../../../shared/ip.ts";
import { Ec2Error, invalid } from "./errors.ts";
import { newEni } from "./eni-ops.ts";
import { nextId } from "./ids.ts";
import { newRule } from "./sg-rules.ts";
import { instanceTypeLimits } from "./instance-types.ts";
import type { Ec2Model } from "./state.ts";
import type { Instance, SecurityGroup, Subnet, Tags, Vpc } from "./types.ts";

export interface VpcRequest {
  cidr?: string;
  cidrs?: string[];
  /** An IPv6 block for the VPC (EC2 associates a /56). */
  ipv6Cidr?: string;
  tags?: Tags;
}

export interface SubnetRequest {
  vpcId: string;
  az: string;
  cidr: string;
  ipv6Cidr?: string;
  tags?: Tags;
}

export interface SecurityGroupRequest {
  vpcId: string;
  name: string;
  description?: string;
  tags?: Tags;
}

export interface LaunchRequest {
  instanceType: string;
  subnetId: string;
  securityGroupIds?: string[];
  privateIp?: string;
  /** 1: the primary ENI gets an IPv6 address, the instance's primary IPv6 (the subnet needs an IPv6 CIDR). */
  ipv6AddressCount?: number;
  tags?: Tags;
}

export function createVpc(m: Ec2Model, p: VpcRequest): Vpc {
  const cidrs = p.cidrs ?? (p.cidr ? [p.cidr] : []);
  if (cidrs.length === 0 || cidrs.some((c) => parseCidr(c)?.family !== 4)) throw invalid(`invalid VPC CIDR: ${cidrs.join(",")}`);
  if (p.ipv6Cidr !== undefined) {
    const c6 = parseCidr(p.ipv6Cidr);
    if (!c6 || c6.family !== 6 || c6.prefix !== 56) throw invalid(`invalid VPC IPv6 CIDR (need a /56): ${p.ipv6Cidr}`);
  }
  const vpc: Vpc = { id: nextId(m.state, "vpc"), cidrs, ipv6Cidrs: p.ipv6Cidr ? [p.ipv6Cidr] : [], tags: { ...p.tags } };
  m.state.vpcs[vpc.id] = vpc;
  // As AWS makes it: all traffic in from members of the group itself, all traffic out.
  const sg = createSecurityGroupIn(m, vpc.id, "default", "default VPC security group", {});
  sg.ingress.push(newRule(m.state, { protocol: "-1", fromPort: null, toPort: null, peer: { groupId: sg.id }, description: "" }));
  return vpc;
}

/** AssociateVpcCidrBlock: a secondary IPv4 block, refused when it overlaps one the VPC has. */
export function associateVpcCidr(m: Ec2Model, vpcId: string, cidr: string): Vpc {
  const vpc = m.state.vpcs[vpcId];
  if (!vpc) throw new Ec2Error("InvalidVpcID.NotFound", `The vpc ID '${vpcId}' does not exist`);
  const c = parseCidr(cidr);
  if (!c || c.family !== 4 || c.prefix < 16 || c.prefix > 28) throw invalid(`invalid VPC CIDR: ${cidr}`);
  if (vpc.cidrs.some((v) => inside(cidr, v) || inside(v, cidr))) throw new Ec2Error("InvalidVpc.Range", `The CIDR '${cidr}' overlaps a CIDR of ${vpcId}`);
  vpc.cidrs.push(cidr);
  return vpc;
}

/** DisassociateVpcCidrBlock: never the primary block, never one that still holds a subnet. */
export function disassociateVpcCidr(m: Ec2Model, vpcId: string, cidr: string): Vpc {
  const vpc = m.state.vpcs[vpcId];
  if (!vpc) throw new Ec2Error("InvalidVpcID.NotFound", `The vpc ID '${vpcId}' does not exist`);
  const i = vpc.cidrs.indexOf(cidr);
  if (i < 0) throw new Ec2Error("InvalidVpcCidrBlockAssociationId.NotFound", `${vpcId} has no CIDR ${cidr}`);
  if (i === 0) throw new Ec2Error("OperationNotPermitted", `The primary CIDR of ${vpcId} cannot be disassociated`);
  if (Object.values(m.state.subnets).some((s) => s.vpcId === vpcId && inside(s.cidr, cidr))) throw new Ec2Error("OperationNotPermitted", `The CIDR '${cidr}' still holds subnets`);
  vpc.cidrs.splice(i, 1);
  return vpc;
}

export function createSubnet(m: Ec2Model, p: SubnetRequest): Subnet {
  const vpc = m.state.vpcs[p.vpcId];
  if (!vpc) throw new Ec2Error("InvalidVpcID.NotFound", `The vpc ID '${p.vpcId}' does not exist`);
  const c = parseCidr(p.cidr);
  if (!c || c.family !== 4 || c.prefix > 28 || !vpc.cidrs.some((v) => inside(p.cidr, v))) throw invalid(`invalid subnet CIDR: ${p.cidr}`);
  if (Object.values(m.state.subnets).some((s) => s.vpcId === p.vpcId && (inside(s.cidr, p.cidr) || inside(p.cidr, s.cidr))))
    throw new Ec2Error("InvalidParameterValue", `The CIDR '${p.cidr}' conflicts with another subnet`);
  if (p.ipv6Cidr !== undefined) {
    const c6 = parseCidr(p.ipv6Cidr);
    if (!c6 || c6.family !== 6 || c6.prefix !== 64) throw invalid(`invalid subnet IPv6 CIDR (need a /64): ${p.ipv6Cidr}`);
    const v6 = p.ipv6Cidr;
    if (!vpc.ipv6Cidrs.some((v) => inside(v6, v))) throw invalid(`invalid subnet IPv6 CIDR: ${v6} is not inside an IPv6 block of ${vpc.id} (${vpc.ipv6Cidrs.join(", ") || "none"})`);
    if (Object.values(m.state.subnets).some((s) => s.vpcId === p.vpcId && s.ipv6Cidr !== null && (inside(s.ipv6Cidr, v6) || inside(v6, s.ipv6Cidr))))
      throw new Ec2Error("InvalidSubnet.Conflict", `The CIDR '${v6}' conflicts with another subnet`);
  }
  const subnet: Subnet = { id: nextId(m.state, "subnet"), vpcId: p.vpcId, az: p.az, cidr: p.cidr, ipv6Cidr: p.ipv6Cidr ?? null, tags: { ...p.tags } };
  m.state.subnets[subnet.id] = subnet;
  return subnet;
}

export function createSecurityGroup(m: Ec2Model, p: SecurityGroupRequest): SecurityGroup {
  if (!m.state.vpcs[p.vpcId]) throw new Ec2Error("InvalidVpcID.NotFound", `The vpc ID '${p.vpcId}' does not exist`);
  return createSecurityGroupIn(m, p.vpcId, p.name, p.description ?? p.name, p.tags ?? {});
}

export function createSecurityGroupIn(m: Ec2Model, vpcId: string, name: string, description: string, tags: Tags): SecurityGroup {
  const sg: SecurityGroup = { id: nextId(m.state, "sg"), vpcId, name, description, tags: { ...tags }, ingress: [], egress: [] };
  // Every new group allows all traffic out (IPv6 too when the VPC has an IPv6 block), as on AWS.
  sg.egress.push(newRule(m.state, { protocol: "-1", fromPort: null, toPort: null, peer: { cidr: "0.0.0.0/0" }, description: "" }));
  if ((m.state.vpcs[vpcId]?.ipv6Cidrs.length ?? 0) > 0) sg.egress.push(newRule(m.state, { protocol: "-1", fromPort: null, toPort: null, peer: { cidr: "::/0" }, description: "" }));
  m.state.securityGroups[sg.id] = sg;
  return sg;
}

/** Launches a running instance with its primary ENI attached at device 0. */
export function launchInstance(m: Ec2Model, p: LaunchRequest): Instance {
  const limits = instanceTypeLimits(p.instanceType);
  if (!limits) throw new Ec2Error("InvalidParameterValue", `Invalid value '${p.instanceType}' for InstanceType.`);
  const v6Count = p.ipv6AddressCount ?? 0;
  if (v6Count !== 0 && v6Count !== 1) throw invalid(`Invalid value '${v6Count}' for Ipv6AddressCount (the local simulation launches with 0 or 1)`);
  const eni = newEni(m, { subnetId: p.subnetId, groups: p.securityGroupIds, primaryIp: p.privateIp, description: "", ipv6Count: v6Count });
  eni.primaryIpv6 = eni.ipv6Addresses[0] ?? null;
  const subnet = m.state.subnets[eni.subnetId] as Subnet;
  const inst: Instance = {
    id: nextId(m.state, "i"),
    instanceType: p.instanceType,
    az: subnet.az,
    subnetId: subnet.id,
    vpcId: subnet.vpcId,
    primaryEniId: eni.id,
    privateIp: eni.primaryIp,
    ipv6Address: eni.primaryIpv6,
    launchedAt: m.now(),
    tags: { ...p.tags },
  };
  m.state.instances[inst.id] = inst;
  const t = m.now();
  eni.status = "in-use";
  eni.attachment = { id: nextId(m.state, "eni-attach"), instanceId: inst.id, deviceIndex: 0, networkCardIndex: 0, status: "attached", deleteOnTermination: true, attachTime: t, readyAt: t };
  m.announceAttached(eni, 0);
  return inst;
}

function inside(inner: string, outer: string): boolean {
  const i = parseCidr(inner, false);
  const o = parseCidr(outer, false);
  if (!i || !o || i.family !== o.family || i.prefix < o.prefix) return false;
  const shift = BigInt((i.family === 4 ? 32 : 128) - o.prefix);
  return i.base >> shift === o.base >> shift;
}
