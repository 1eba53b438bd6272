/** The simulated EC2 state: plain JSON-able data, so it can be snapshotted and served. */

export type Tags = Record<string, string>;

export interface Vpc {
  id: string;
  cidrs: string[];
  /** IPv6 blocks (a /56 each, as EC2 associates them); empty for an IPv4-only VPC. */
  ipv6Cidrs: string[];
  tags: Tags;
}

export interface Subnet {
  id: string;
  vpcId: string;
  az: string;
  cidr: string;
  ipv6Cidr: string | null;
  tags: Tags;
}

export interface SecurityGroup {
  id: string;
  vpcId: string;
  name: string;
  description: string;
  tags: Tags;
  /** Inbound rules, one per source (sg-rules.ts); what is not allowed is dropped. */
  ingress: SgRule[];
  /** Outbound rules, one per destination. */
  egress: SgRule[];
}

/** Protocols as EC2 names them; "-1" is every protocol (ports then do not apply). */
export type SgProtocol = "-1" | "tcp" | "udp" | "icmp" | "icmpv6";

/** Where a rule's traffic comes from (ingress) or goes to (egress): a CIDR or the members of a group. */
export type SgPeer = { cidr: string } | { groupId: string };

/**
 * One security group rule as EC2 keeps it (a SecurityGroupRule): protocol, port range (tcp/udp:
 * from..to; icmp/icmpv6: type and code, -1 = any; "-1": none) and one peer.
 */
export interface SgRule {
  id: string;
  protocol: SgProtocol;
  fromPort: number | null;
  toPort: number | null;
  peer: SgPeer;
  description: string;
}

/** AssociateTrunkInterface's result: a branch ENI carried over a trunk ENI as one VLAN. */
export interface TrunkAssociation {
  id: string;
  branchEniId: string;
  trunkEniId: string;
  vlanId: number;
}

/** CreateNetworkInterfacePermission's result (INSTANCE-ATTACH or EIP-ASSOCIATE). */
export interface EniPermission {
  id: string;
  eniId: string;
  permission: "INSTANCE-ATTACH" | "EIP-ASSOCIATE";
  awsAccountId: string;
}

export interface Instance {
  id: string;
  instanceType: string;
  az: string;
  subnetId: string;
  vpcId: string;
  primaryEniId: string;
  privateIp: string;
  /** The primary IPv6 address of the primary ENI (launched with one), else null. */
  ipv6Address: string | null;
  launchedAt: number;
  tags: Tags;
}

export type AttachmentStatus = "attaching" | "attached";
export type EniStatus = "available" | "attaching" | "in-use";

export interface Attachment {
  id: string;
  instanceId: string;
  deviceIndex: number;
  networkCardIndex: number;
  status: AttachmentStatus;
  deleteOnTermination: boolean;
  attachTime: number;
  /** When "attaching" turns into "attached". */
  readyAt: number;
}

export interface Eni {
  id: string;
  subnetId: string;
  vpcId: string;
  az: string;
  description: string;
  mac: string;
  status: EniStatus;
  groups: string[];
  tags: Tags;
  primaryIp: string;
  secondaryIps: string[];
  ipv4Prefixes: string[];
  ipv6Addresses: string[];
  /** The one of ipv6Addresses EC2 marks IsPrimaryIpv6 (an instance's primary IPv6); not unassignable. */
  primaryIpv6: string | null;
  ipv6Prefixes: string[];
  attachment: Attachment | null;
  /**
   * CreateNetworkInterface's InterfaceType; absent for a plain ENA interface ("interface").
   * A trunk carries branch ENIs as VLANs; a branch is never attached, only associated with a trunk.
   */
  interfaceType?: "efa" | "efa-only" | "trunk" | "branch";
  createdAt: number;
  /** Last detach time: DeleteNetworkInterface is refused for a while after it. */
  detachedAt: number | null;
}

export interface Ec2State {
  vpcs: Record<string, Vpc>;
  subnets: Record<string, Subnet>;
  securityGroups: Record<string, SecurityGroup>;
  instances: Record<string, Instance>;
  enis: Record<string, Eni>;
  /** Branch ENI ↔ trunk ENI associations, by association id. */
  trunkAssociations: Record<string, TrunkAssociation>;
  /** Network interface permissions, by permission id. */
  eniPermissions: Record<string, EniPermission>;
  nextId: number;
}

export function emptyState(): Ec2State {
  return { vpcs: {}, subnets: {}, securityGroups: {}, instances: {}, enis: {}, trunkAssociations: {}, eniPermissions: {}, nextId: 1 };
}
