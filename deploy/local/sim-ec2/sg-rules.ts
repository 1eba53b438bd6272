/**
 * Security groups as state: creating and deleting groups, and authorizing and revoking their
 * rules (by CIDR, by referenced group, by protocol and port range) with EC2's checks. A request
 * is checked whole before anything changes. Called by Ec2Model inside its `mutate`.
 */
import { parseCidr } from "../../../shared/ip.ts";
import { Ec2Error, invalid, missing } from "./errors.ts";
import { checkIdFormat, nextId } from "./ids.ts";
import type { Ec2Model } from "./state.ts";
import type { Ec2State, SecurityGroup, SgPeer, SgProtocol, SgRule, Tags } from "./types.ts";
import { createSecurityGroupIn } from "./world-ops.ts";

/** One IpPermissions.N entry of a request, as read from the query. */
export interface IpPermissionInput {
  protocol?: string;
  fromPort?: number;
  toPort?: number;
  cidrs: { cidr: string; description?: string }[];
  cidrsV6: { cidr: string; description?: string }[];
  groupIds: { groupId: string; description?: string }[];
}

export type RuleDirection = "ingress" | "egress";

const PROTOCOLS: Record<string, SgProtocol> = { "-1": "-1", all: "-1", tcp: "tcp", "6": "tcp", udp: "udp", "17": "udp", icmp: "icmp", "1": "icmp", icmpv6: "icmpv6", "58": "icmpv6" };

export function newRule(state: Ec2State, r: Omit<SgRule, "id">): SgRule {
  return { id: nextId(state, "sgr"), ...r };
}

export function securityGroup(m: Ec2Model, id: string | undefined, field = "GroupId"): SecurityGroup {
  if (!id) throw missing(field);
  checkIdFormat(id, "sg");
  const sg = m.state.securityGroups[id];
  if (!sg) throw new Ec2Error("InvalidGroup.NotFound", `The security group '${id}' does not exist`);
  return sg;
}

export function createGroup(m: Ec2Model, p: { vpcId?: string; name?: string; description?: string; tags?: Tags }): SecurityGroup {
  if (!p.name) throw missing("GroupName");
  if (!p.description) throw missing("GroupDescription");
  if (!p.vpcId) throw missing("VpcId");
  if (!m.state.vpcs[p.vpcId]) throw new Ec2Error("InvalidVpcID.NotFound", `The vpc ID '${p.vpcId}' does not exist`);
  if (p.name.length > 255 || p.description.length > 255) throw invalid("GroupName and GroupDescription: at most 255 characters");
  if (p.name.toLowerCase().startsWith("sg-")) throw invalid(`Invalid value '${p.name}' for GroupName: group names may not start with 'sg-'`);
  if (p.name === "default") throw new Ec2Error("InvalidGroup.Reserved", "The security group 'default' is reserved");
  if (Object.values(m.state.securityGroups).some((g) => g.vpcId === p.vpcId && g.name === p.name))
    throw new Ec2Error("InvalidGroup.Duplicate", `The security group '${p.name}' already exists for VPC '${p.vpcId}'`);
  return createSecurityGroupIn(m, p.vpcId, p.name, p.description, p.tags ?? {});
}

/** Refused for the default group, a group an ENI uses, and a group another group's rule references. */
export function deleteGroup(m: Ec2Model, id: string | undefined): void {
  const sg = securityGroup(m, id);
  if (sg.name === "default") throw new Ec2Error("CannotDelete", `the specified group: "${sg.id}" name: "default" cannot be deleted by a user`);
  const user = Object.values(m.state.enis).find((e) => e.groups.includes(sg.id));
  if (user) throw new Ec2Error("DependencyViolation", `resource ${sg.id} has a dependent object (${user.id})`);
  const referrer = Object.values(m.state.securityGroups).find((g) => g.id !== sg.id && [...g.ingress, ...g.egress].some((r) => "groupId" in r.peer && r.peer.groupId === sg.id));
  if (referrer) throw new Ec2Error("DependencyViolation", `resource ${sg.id} has a dependent object (${referrer.id})`);
  delete m.state.securityGroups[sg.id];
}

/** The rules one request names, each checked (protocol, ports, CIDRs, referenced groups in the VPC). */
export function rulesOf(m: Ec2Model, sg: SecurityGroup, permissions: IpPermissionInput[]): Omit<SgRule, "id">[] {
  if (permissions.length === 0) throw missing("IpPermissions");
  return permissions.flatMap((p, i) => {
    const field = `IpPermissions.${i + 1}`;
    if (p.protocol === undefined) throw missing(`${field}.IpProtocol`);
    const protocol = PROTOCOLS[p.protocol.toLowerCase()];
    if (!protocol) throw invalid(`Invalid value '${p.protocol}' for ${field}.IpProtocol (simulated: -1, tcp, udp, icmp, icmpv6 or their numbers)`);
    const [fromPort, toPort] = ports(protocol, p.fromPort, p.toPort, field);
    const peers: { peer: SgPeer; description?: string }[] = [
      ...p.cidrs.map((c, j) => ({ peer: { cidr: cidr(c.cidr, 4, `${field}.IpRanges.${j + 1}.CidrIp`) }, description: c.description })),
      ...p.cidrsV6.map((c, j) => ({ peer: { cidr: cidr(c.cidr, 6, `${field}.Ipv6Ranges.${j + 1}.CidrIpv6`) }, description: c.description })),
      ...p.groupIds.map((g, j) => {
        const ref = securityGroup(m, g.groupId, `${field}.Groups.${j + 1}.GroupId`);
        if (ref.vpcId !== sg.vpcId) throw new Ec2Error("InvalidGroup.NotFound", `The security group '${ref.id}' does not exist in VPC '${sg.vpcId}'`);
        return { peer: { groupId: ref.id }, description: g.description };
      }),
    ];
    if (peers.length === 0) throw missing(`${field}: IpRanges, Ipv6Ranges or Groups`);
    return peers.map(({ peer, description }) => ({ protocol, fromPort, toPort, peer, description: description ?? "" }));
  });
}

function ports(protocol: SgProtocol, from: number | undefined, to: number | undefined, field: string): [number | null, number | null] {
  if (protocol === "-1") return [null, null];
  if (from === undefined) throw missing(`${field}.FromPort`);
  if (to === undefined) throw missing(`${field}.ToPort`);
  if (protocol === "tcp" || protocol === "udp") {
    if (from < 0 || from > 65535) throw invalid(`Invalid value '${from}' for ${field}.FromPort (0..65535)`);
    if (to < 0 || to > 65535) throw invalid(`Invalid value '${to}' for ${field}.ToPort (0..65535)`);
    if (from > to) throw invalid(`${field}: FromPort ${from} is greater than ToPort ${to}`);
    return [from, to];
  }
  // ICMP: FromPort is the type, ToPort the code; -1 means any.
  if (from < -1 || from > 255) throw invalid(`Invalid value '${from}' for ${field}.FromPort (ICMP type -1..255)`);
  if (to < -1 || to > 255) throw invalid(`Invalid value '${to}' for ${field}.ToPort (ICMP code -1..255)`);
  if (from === -1 && to !== -1) throw invalid(`${field}: an ICMP code needs an ICMP type`);
  return [from, to];
}

function cidr(text: string, family: 4 | 6, field: string): string {
  const c = parseCidr(text, false);
  if (!c || c.family !== family) throw invalid(`Invalid value '${text}' for ${field}: not an IPv${family} CIDR block`);
  if (!parseCidr(text, true)) throw invalid(`Invalid value '${text}' for ${field}: host bits are set`);
  return text;
}

const samePeer = (a: SgPeer, b: SgPeer) => ("cidr" in a && "cidr" in b && a.cidr === b.cidr) || ("groupId" in a && "groupId" in b && a.groupId === b.groupId);
export const sameRule = (a: Omit<SgRule, "id">, b: Omit<SgRule, "id">) => a.protocol === b.protocol && a.fromPort === b.fromPort && a.toPort === b.toPort && samePeer(a.peer, b.peer);

/** Adds the rules; one that exists already (or is named twice) refuses the whole request. */
export function authorize(m: Ec2Model, groupId: string | undefined, direction: RuleDirection, permissions: IpPermissionInput[]): SgRule[] {
  const sg = securityGroup(m, groupId);
  const wanted = rulesOf(m, sg, permissions);
  wanted.forEach((r, i) => {
    if (sg[direction].some((have) => sameRule(have, r)) || wanted.slice(0, i).some((w) => sameRule(w, r)))
      throw new Ec2Error("InvalidPermission.Duplicate", `the specified rule "${describeRule(r)}" already exists`);
  });
  const added = wanted.map((r) => newRule(m.state, r));
  sg[direction].push(...added);
  return added;
}

/** Removes the rules; one that does not exist refuses the whole request. */
export function revoke(m: Ec2Model, groupId: string | undefined, direction: RuleDirection, permissions: IpPermissionInput[]): void {
  const sg = securityGroup(m, groupId);
  const gone = rulesOf(m, sg, permissions);
  for (const r of gone)
    if (!sg[direction].some((have) => sameRule(have, r))) throw new Ec2Error("InvalidPermission.NotFound", `The specified rule does not exist in this security group (${describeRule(r)})`);
  sg[direction] = sg[direction].filter((have) => !gone.some((r) => sameRule(have, r)));
}

function describeRule(r: Omit<SgRule, "id">): string {
  const peer = "cidr" in r.peer ? r.peer.cidr : r.peer.groupId;
  return `peer: ${peer}, ${r.protocol === "-1" ? "ALL" : r.protocol.toUpperCase()}${r.fromPort === null ? "" : `, from ${r.fromPort} to ${r.toPort}`}`;
}
