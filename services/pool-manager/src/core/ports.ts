/**
 * Ports: what the pool-manager needs from EC2, IMDS, net-config, addr-broker and the
 * Kubernetes API, in the project's own types. Adapters translate SDK structs into these.
 */
import type { CidrKind } from "./pool-state.ts";
import type { PoolLimits } from "./settings.ts";

export type Tags = Record<string, string>;

/** The network card whose ENIs the pool model manages (upstream's DefaultNetworkCardIndex); with ENABLE_MULTI_NIC the other cards' pools are app/card-pools.ts. */
export const MANAGED_NETWORK_CARD = 0;

export interface Eni {
  id: string;
  mac: string;
  subnetId: string;
  vpcId: string;
  description: string;
  status: "available" | "attaching" | "in-use" | "detaching" | string;
  interfaceType: "interface" | "trunk" | "efa" | "efa-only" | string;
  attachment?: { id: string; instanceId: string; deviceIndex: number; networkCard: number; attachedAtMs?: number; status: string };
  primaryIp: string;
  /** Secondary IPv4 addresses (not the primary). */
  secondaryIps: string[];
  ipv4Prefixes: string[];
  ipv6Addresses: string[];
  ipv6Prefixes: string[];
  securityGroups: string[];
  tags: Tags;
}

export interface Subnet {
  id: string;
  vpcId: string;
  az: string;
  cidr: string;
  ipv6Cidr?: string;
  availableIps: number;
  tags: Tags;
}

/**
 * `maxEnis` is the default network card's (card 0's) ENI limit, as upstream's limits table
 * gives it: only card 0 is managed, so other cards' slots are neither used nor counted.
 */
export type InstanceLimits = Omit<PoolLimits, "maxPods"> & {
  vcpus: number;
  hypervisor: string;
  networkCards: number;
  /** Each network card's own ENI limit, by card index (ENABLE_MULTI_NIC sizes the other cards' pools by it); absent: card 0's `maxEnis` only. */
  cardMaxEnis?: number[];
};

export interface CreateEniRequest {
  subnetId: string;
  description: string;
  securityGroups: string[];
  family: "ipv4" | "ipv6";
  cidrKind: CidrKind;
  count: number;
  tags: Tags;
  /**
   * The create can yield to other nodes' more urgent calls on a crowded account (its
   * addresses serve few pending pods): the client takes more of its own rate for it.
   */
  yieldToOthers?: boolean;
}

export interface Ec2Port {
  instanceLimits(instanceType: string): Promise<InstanceLimits>;
  /** DescribeNetworkInterfaces filtered by attachment.instance-id. */
  instanceEnis(instanceId: string): Promise<Eni[]>;
  eni(eniId: string): Promise<Eni | undefined>;
  /** Detached ENIs this project may have leaked: tag-key instance_id, status available, the VPC (and cluster tag). */
  leakedEniCandidates(vpcId: string, clusterName?: string): Promise<Eni[]>;
  subnets(vpcId: string, az: string): Promise<Subnet[]>;
  /** Device indexes in use on one network card of the instance (DescribeInstances; card 0 by default): each card numbers its own. */
  usedDeviceIndexes(instanceId: string, networkCard?: number): Promise<number[]>;
  createEni(req: CreateEniRequest): Promise<Eni>;
  /** Attaches on network card `networkCard` (0 by default). */
  attachEni(eniId: string, instanceId: string, deviceIndex: number, networkCard?: number): Promise<string>;
  setDeleteOnTermination(eniId: string, attachmentId: string): Promise<void>;
  detachEni(attachmentId: string): Promise<void>;
  deleteEni(eniId: string): Promise<void>;
  /** Adds `count` addresses or prefixes in one call; answers the CIDRs added (/32, /28, /128, /80). */
  assign(eniId: string, family: "ipv4" | "ipv6", kind: CidrKind, count: number): Promise<string[]>;
  /** Removes these CIDRs (of one kind per call). */
  unassign(eniId: string, family: "ipv4" | "ipv6", kind: CidrKind, cidrs: string[]): Promise<void>;
  createTags(resourceIds: string[], tags: Tags): Promise<void>;
  /**
   * The account throttled this node's addressing calls recently (the account's shared budget
   * for creates, assigns and attribute changes is spent): work that can wait should wait.
   * "Recently": within `quietMs` (default 60 s), or the client's rate has not recovered since.
   * Optional: a port without it is never busy.
   */
  addressingBusy?(quietMs?: number): boolean;
}

/** An EC2 error with its EC2 code (e.g. InsufficientCidrBlocks). */
export class Ec2CallError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly api: string,
    readonly status?: number,
  ) {
    super(`${api}: ${code}: ${message}`);
    this.name = "Ec2CallError";
  }
}

export function ec2Code(err: unknown): string | undefined {
  return err instanceof Ec2CallError ? err.code : undefined;
}

export interface ImdsInterface {
  mac: string;
  deviceNumber: number;
  /** IMDS `network-card` (shown only on instances with several cards; 0 when absent). */
  networkCard: number;
  interfaceId: string;
  subnetId: string;
  subnetCidr: string;
  /** vpc-id; read where a mode without EC2 (ENABLE_IMDS_ONLY_MODE) needs it. */
  vpcId?: string;
  vpcCidrs: string[];
  securityGroupIds: string[];
  localIpv4s: string[];
  ipv4Prefixes: string[];
  ipv6s: string[];
  ipv6Prefixes: string[];
}

export interface ImdsPort {
  instanceId(): Promise<string>;
  instanceType(): Promise<string>;
  availabilityZone(): Promise<string>;
  primaryMac(): Promise<string>;
  localIpv4(): Promise<string>;
  /** The instance's primary IPv6 address (meta-data/ipv6); undefined when it has none. Read in IPv6 mode. */
  localIpv6(): Promise<string | undefined>;
  /** The VPC's IPv6 CIDRs as the interface `mac` sees them (vpc-ipv6-cidr-blocks); [] for an IPv4-only VPC. Read in IPv6 mode. */
  vpcIpv6Cidrs(mac: string): Promise<string[]>;
  /** Every attached interface, as IMDS sees it now. */
  interfaces(): Promise<ImdsInterface[]>;
}
