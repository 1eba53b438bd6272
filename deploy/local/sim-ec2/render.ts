/** State → the XML shapes EC2 answers with (element names as the SDK's deserializers read them). */
import { availableIpv4Count } from "./allocator.ts";
import type { InstanceTypeLimits } from "./instance-types.ts";
import type { Ec2State, Eni, Instance, SecurityGroup, SgRule, Subnet, Tags } from "./types.ts";
import type { XmlValue } from "./xml.ts";

export const OWNER_ID = "123456789012";

const iso = (ms: number) => new Date(ms).toISOString();
const tagSet = (tags: Tags): XmlValue => Object.entries(tags).map(([key, value]) => ({ key, value }));
const dns = (ip: string) => `ip-${ip.replace(/\./g, "-")}.us-west-2.compute.internal`;

function groupSet(state: Ec2State, ids: string[]): XmlValue {
  return ids.map((id) => ({ groupId: id, groupName: state.securityGroups[id]?.name ?? id }));
}

function privateIps(e: Eni): XmlValue {
  if (e.primaryIp === "") return []; // efa-only: no address at all
  return [e.primaryIp, ...e.secondaryIps].map((ip, i) => ({ privateIpAddress: ip, privateDnsName: dns(ip), primary: i === 0 }));
}

/** An ENI's IPv6 addresses; the instance's primary IPv6 carries isPrimaryIpv6 as on EC2. */
function ipv6Set(e: Eni): XmlValue {
  return e.ipv6Addresses.map((ipv6Address) => ({ ipv6Address, isPrimaryIpv6: ipv6Address === e.primaryIpv6 }));
}

export function eniXml(state: Ec2State, e: Eni): XmlValue {
  const a = e.attachment;
  return {
    networkInterfaceId: e.id,
    subnetId: e.subnetId,
    vpcId: e.vpcId,
    availabilityZone: e.az,
    description: e.description,
    ownerId: OWNER_ID,
    requesterManaged: false,
    status: e.status,
    macAddress: e.mac,
    privateIpAddress: e.primaryIp,
    privateDnsName: dns(e.primaryIp),
    sourceDestCheck: true,
    groupSet: groupSet(state, e.groups),
    attachment: a && {
      attachmentId: a.id,
      instanceId: a.instanceId,
      instanceOwnerId: OWNER_ID,
      deviceIndex: a.deviceIndex,
      networkCardIndex: a.networkCardIndex,
      status: a.status,
      attachTime: iso(a.attachTime),
      deleteOnTermination: a.deleteOnTermination,
    },
    tagSet: tagSet(e.tags),
    privateIpAddressesSet: privateIps(e),
    ipv4PrefixSet: e.ipv4Prefixes.map((ipv4Prefix) => ({ ipv4Prefix })),
    ipv6AddressesSet: ipv6Set(e),
    ipv6PrefixSet: e.ipv6Prefixes.map((ipv6Prefix) => ({ ipv6Prefix })),
    interfaceType: shownInterfaceType(state, e),
    ipv6Native: false,
    ipv6Address: e.primaryIpv6 ?? undefined,
  };
}

function instanceEniXml(state: Ec2State, e: Eni): XmlValue {
  const a = e.attachment;
  return {
    networkInterfaceId: e.id,
    subnetId: e.subnetId,
    vpcId: e.vpcId,
    description: e.description,
    ownerId: OWNER_ID,
    status: e.status,
    macAddress: e.mac,
    privateIpAddress: e.primaryIp,
    privateDnsName: dns(e.primaryIp),
    sourceDestCheck: true,
    groupSet: groupSet(state, e.groups),
    attachment: a && {
      attachmentId: a.id,
      deviceIndex: a.deviceIndex,
      networkCardIndex: a.networkCardIndex,
      status: a.status,
      attachTime: iso(a.attachTime),
      deleteOnTermination: a.deleteOnTermination,
    },
    privateIpAddressesSet: privateIps(e),
    ipv4PrefixSet: e.ipv4Prefixes.map((ipv4Prefix) => ({ ipv4Prefix })),
    ipv6AddressesSet: ipv6Set(e),
    ipv6PrefixSet: e.ipv6Prefixes.map((ipv6Prefix) => ({ ipv6Prefix })),
    interfaceType: shownInterfaceType(state, e),
  };
}

export function instanceXml(state: Ec2State, i: Instance): XmlValue {
  const enis = Object.values(state.enis)
    .filter((e) => e.attachment?.instanceId === i.id)
    .sort((a, b) => (a.attachment?.deviceIndex ?? 0) - (b.attachment?.deviceIndex ?? 0));
  const primary = state.enis[i.primaryEniId];
  return {
    instanceId: i.id,
    imageId: "ami-0000000000000000a",
    instanceState: { code: 16, name: "running" },
    privateDnsName: dns(i.privateIp),
    instanceType: i.instanceType,
    launchTime: iso(i.launchedAt),
    placement: { availabilityZone: i.az, tenancy: "default" },
    subnetId: i.subnetId,
    vpcId: i.vpcId,
    privateIpAddress: i.privateIp,
    ipv6Address: i.ipv6Address ?? undefined,
    architecture: "x86_64",
    hypervisor: "xen",
    groupSet: groupSet(state, primary?.groups ?? []),
    networkInterfaceSet: enis.map((e) => instanceEniXml(state, e)),
    tagSet: tagSet(i.tags),
  };
}

export function subnetXml(state: Ec2State, s: Subnet): XmlValue {
  return {
    subnetId: s.id,
    subnetArn: `arn:aws:ec2:us-west-2:${OWNER_ID}:subnet/${s.id}`,
    state: "available",
    vpcId: s.vpcId,
    ownerId: OWNER_ID,
    cidrBlock: s.cidr,
    availableIpAddressCount: availableIpv4Count(state, s),
    availabilityZone: s.az,
    availabilityZoneId: `usw2-az${s.az.slice(-1).charCodeAt(0) - 96}`,
    defaultForAz: false,
    mapPublicIpOnLaunch: false,
    assignIpv6AddressOnCreation: false,
    ipv6CidrBlockAssociationSet: s.ipv6Cidr
      ? [{ associationId: `subnet-cidr-assoc-${s.id.slice(7)}`, ipv6CidrBlock: s.ipv6Cidr, ipv6CidrBlockState: { state: "associated" } }]
      : [],
    tagSet: tagSet(s.tags),
  };
}

/** The InterfaceType Describe shows: a branch while associated with a trunk, else as created. */
export function shownInterfaceType(state: Ec2State, e: Eni): string {
  if (Object.values(state.trunkAssociations).some((a) => a.branchEniId === e.id)) return "branch";
  return e.interfaceType ?? "interface";
}

/** Rules as EC2 lists them: one IpPermission per protocol and port range, its peers inside. */
export function ipPermissionsXml(rules: SgRule[]): XmlValue {
  const byRange = new Map<string, SgRule[]>();
  for (const r of rules) {
    const key = `${r.protocol}/${r.fromPort}/${r.toPort}`;
    byRange.set(key, [...(byRange.get(key) ?? []), r]);
  }
  return [...byRange.values()].map((rs) => {
    const first = rs[0] as SgRule;
    const cidrs = rs.flatMap((r) => ("cidr" in r.peer ? [{ cidr: r.peer.cidr, description: r.description || undefined }] : []));
    return {
      ipProtocol: first.protocol,
      fromPort: first.fromPort ?? undefined,
      toPort: first.toPort ?? undefined,
      groups: rs.flatMap((r) => ("groupId" in r.peer ? [{ groupId: r.peer.groupId, userId: OWNER_ID, description: r.description || undefined }] : [])),
      ipRanges: cidrs.filter((c) => !c.cidr.includes(":")).map((c) => ({ cidrIp: c.cidr, description: c.description })),
      ipv6Ranges: cidrs.filter((c) => c.cidr.includes(":")).map((c) => ({ cidrIpv6: c.cidr, description: c.description })),
      prefixListIds: [],
    };
  });
}

export function securityGroupRuleXml(g: SecurityGroup, r: SgRule, isEgress: boolean): XmlValue {
  return {
    securityGroupRuleId: r.id,
    groupId: g.id,
    groupOwnerId: OWNER_ID,
    isEgress,
    ipProtocol: r.protocol,
    fromPort: r.fromPort ?? -1,
    toPort: r.toPort ?? -1,
    ...("cidr" in r.peer ? (r.peer.cidr.includes(":") ? { cidrIpv6: r.peer.cidr } : { cidrIpv4: r.peer.cidr }) : { referencedGroupInfo: { groupId: r.peer.groupId, userId: OWNER_ID } }),
    description: r.description || undefined,
  };
}

export function securityGroupXml(g: SecurityGroup): XmlValue {
  return {
    groupId: g.id,
    groupName: g.name,
    groupDescription: g.description,
    vpcId: g.vpcId,
    ownerId: OWNER_ID,
    ipPermissions: ipPermissionsXml(g.ingress),
    ipPermissionsEgress: ipPermissionsXml(g.egress),
    tagSet: tagSet(g.tags),
  };
}

export function instanceTypeXml(t: InstanceTypeLimits): XmlValue {
  return {
    instanceType: t.name,
    currentGeneration: true,
    bareMetal: false,
    hypervisor: t.hypervisor,
    processorInfo: { supportedArchitectures: ["x86_64"] },
    vCpuInfo: { defaultVCpus: t.vcpus },
    memoryInfo: { sizeInMiB: t.memoryMiB },
    networkInfo: {
      networkPerformance: t.networkPerformance,
      maximumNetworkInterfaces: t.maxEnis,
      maximumNetworkCards: t.networkCards,
      defaultNetworkCardIndex: 0,
      networkCards: t.cardEnis.map((max, networkCardIndex) => ({ networkCardIndex, networkPerformance: t.cardPerformance, maximumNetworkInterfaces: max })),
      ipv4AddressesPerInterface: t.ipv4PerEni,
      ipv6AddressesPerInterface: t.ipv6PerEni,
      ipv6Supported: true,
      enaSupport: "required",
      efaSupported: t.efa,
    },
  };
}
