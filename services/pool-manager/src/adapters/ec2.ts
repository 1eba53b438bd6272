/**
 * The EC2 port over @aws-sdk/client-ec2 — the only file that imports the SDK. Every call
 * goes through the Ec2Guard (token bucket, retries, metrics); SDK structs are translated
 * into the project's types here and nowhere else.
 */
import {
  AssignIpv6AddressesCommand,
  AssignPrivateIpAddressesCommand,
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  CreateTagsCommand,
  DeleteNetworkInterfaceCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSubnetsCommand,
  DetachNetworkInterfaceCommand,
  EC2Client,
  ModifyNetworkInterfaceAttributeCommand,
  UnassignIpv6AddressesCommand,
  UnassignPrivateIpAddressesCommand,
  type Filter,
  type NetworkInterface,
  type Tag,
} from "@aws-sdk/client-ec2";
import { hostCidr } from "../../../../shared/ip.ts";
import type { CidrKind } from "../core/pool-state.ts";
import { Ec2CallError, MANAGED_NETWORK_CARD, type CreateEniRequest, type Ec2Port, type Eni, type InstanceLimits, type Subnet, type Tags } from "../core/ports.ts";
import type { Ec2Guard } from "./ec2-guard.ts";

export interface Ec2AdapterOptions {
  /** Else the SDK's default (AWS_REGION, the shared config file). */
  region?: string;
  /** AWS_EC2_ENDPOINT (the simulated EC2 locally). */
  endpoint?: string;
  /** Static credentials (tests, the local deployment); else the SDK's default chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** SDK-level attempts; our guard does the retrying, so 1 by default. */
  sdkMaxAttempts?: number;
  /** One request's limit (HTTP_TIMEOUT; upstream's default 10 s). */
  requestTimeoutMs?: number;
  /** VPC_CNI_VERSION: adds amazon-vpc-cni-k8s/<version> to the user agent, as upstream. */
  userAgentVersion?: string;
}

export function createEc2Client(o: Ec2AdapterOptions): EC2Client {
  const client = new EC2Client({
    ...(o.region ? { region: o.region } : {}),
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    ...(o.credentials ? { credentials: o.credentials } : {}),
    maxAttempts: o.sdkMaxAttempts ?? 1,
    ...(o.userAgentVersion ? { customUserAgent: [["amazon-vpc-cni-k8s", o.userAgentVersion]] as [string, string][] } : {}),
  });
  // HTTP_TIMEOUT: under Bun the node http handler's own requestTimeout never fires (a stalled
  // endpoint held the call forever). So each send has its own abort controller, aborted when
  // the timeout expires: the request is cancelled (its connection closed, nothing left running
  // on this side) and the caller sees a TimeoutError, which the guard retries as transient, as
  // the SDK's standard retryer does upstream. A caller's own abortSignal still works.
  const timeoutMs = o.requestTimeoutMs ?? 10_000;
  const send = client.send.bind(client) as (command: unknown, options?: { abortSignal?: AbortSignal }) => Promise<unknown>;
  (client as { send: unknown }).send = (command: unknown, options?: { abortSignal?: AbortSignal }) => {
    const ctl = new AbortController();
    const timeout = () => Object.assign(new Error(`no answer within ${timeoutMs} ms (HTTP_TIMEOUT)`), { name: "TimeoutError" });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ctl.abort(timeout());
        reject(timeout());
      }, timeoutMs);
    });
    const abortSignal = options?.abortSignal ? AbortSignal.any([options.abortSignal, ctl.signal]) : ctl.signal;
    const sent = send(command, { ...options, abortSignal });
    sent.catch(() => undefined); // its rejection after the timeout is the abort, already reported
    return Promise.race([sent, expired]).finally(() => clearTimeout(timer));
  };
  return client;
}

const tagsOf = (t: Tag[] | undefined): Tags => Object.fromEntries((t ?? []).filter((x) => x.Key).map((x) => [x.Key!, x.Value ?? ""]));
const tagList = (t: Tags): Tag[] => Object.entries(t).map(([Key, Value]) => ({ Key, Value }));

export function toEni(n: NetworkInterface): Eni {
  const a = n.Attachment;
  return {
    id: n.NetworkInterfaceId ?? "",
    mac: (n.MacAddress ?? "").toLowerCase(),
    subnetId: n.SubnetId ?? "",
    vpcId: n.VpcId ?? "",
    description: n.Description ?? "",
    status: n.Status ?? "",
    interfaceType: n.InterfaceType ?? "interface",
    ...(a?.AttachmentId
      ? { attachment: { id: a.AttachmentId, instanceId: a.InstanceId ?? "", deviceIndex: a.DeviceIndex ?? 0, networkCard: a.NetworkCardIndex ?? 0, status: a.Status ?? "", ...(a.AttachTime ? { attachedAtMs: a.AttachTime.getTime() } : {}) } }
      : {}),
    primaryIp: n.PrivateIpAddress ?? "",
    secondaryIps: (n.PrivateIpAddresses ?? []).filter((p) => !p.Primary && p.PrivateIpAddress).map((p) => p.PrivateIpAddress!),
    ipv4Prefixes: (n.Ipv4Prefixes ?? []).map((p) => p.Ipv4Prefix!).filter(Boolean),
    ipv6Addresses: (n.Ipv6Addresses ?? []).map((p) => p.Ipv6Address!).filter(Boolean),
    ipv6Prefixes: (n.Ipv6Prefixes ?? []).map((p) => p.Ipv6Prefix!).filter(Boolean),
    securityGroups: (n.Groups ?? []).map((g) => g.GroupId!).filter(Boolean),
    tags: tagsOf(n.TagSet),
  };
}

export class SdkEc2 implements Ec2Port {
  constructor(
    private readonly client: EC2Client,
    private readonly guard: Ec2Guard,
  ) {}

  private send<T>(api: string, fn: () => Promise<T>, o?: { yieldToOthers?: boolean }): Promise<T> {
    return this.guard.call(api, fn, o);
  }

  addressingBusy(quietMs?: number): boolean {
    return this.guard.addressingBusy(quietMs);
  }

  private async describeEnis(filters: Filter[]): Promise<Eni[]> {
    const out: Eni[] = [];
    let token: string | undefined;
    do {
      const r = await this.send("DescribeNetworkInterfaces", () => this.client.send(new DescribeNetworkInterfacesCommand({ Filters: filters, MaxResults: 1000, NextToken: token })));
      out.push(...(r.NetworkInterfaces ?? []).map(toEni));
      token = r.NextToken;
    } while (token);
    return out;
  }

  async instanceLimits(instanceType: string): Promise<InstanceLimits> {
    const r = await this.send("DescribeInstanceTypes", () => this.client.send(new DescribeInstanceTypesCommand({ InstanceTypes: [instanceType as never] })));
    const t = r.InstanceTypes?.[0];
    const n = t?.NetworkInfo;
    if (!t || !n?.MaximumNetworkInterfaces || !n.Ipv4AddressesPerInterface) throw new Ec2CallError("InvalidInstanceType", `no network limits for ${instanceType}`, "DescribeInstanceTypes");
    // With several network cards MaximumNetworkInterfaces is the instance's total; only the
    // default card is managed, so its own limit is the one that counts (upstream's table).
    const defaultCard = n.NetworkCards?.find((c) => (c.NetworkCardIndex ?? 0) === (n.DefaultNetworkCardIndex ?? 0));
    return {
      instanceType,
      maxEnis: defaultCard?.MaximumNetworkInterfaces ?? n.MaximumNetworkInterfaces,
      ipv4PerEni: n.Ipv4AddressesPerInterface,
      ipv6PerEni: n.Ipv6AddressesPerInterface ?? n.Ipv4AddressesPerInterface,
      // Trunking needs Nitro; the VPC resource controller's table is finer, this is the safe proxy.
      trunking: t.Hypervisor === "nitro",
      vcpus: t.VCpuInfo?.DefaultVCpus ?? 0,
      hypervisor: t.Hypervisor ?? "",
      networkCards: n.MaximumNetworkCards ?? 1,
      ...(n.NetworkCards?.length ? { cardMaxEnis: cardLimits(n.NetworkCards) } : {}),
    };
  }

  instanceEnis(instanceId: string): Promise<Eni[]> {
    return this.describeEnis([{ Name: "attachment.instance-id", Values: [instanceId] }]);
  }

  async eni(eniId: string): Promise<Eni | undefined> {
    try {
      const r = await this.describeEnis([{ Name: "network-interface-id", Values: [eniId] }]);
      return r[0];
    } catch (e) {
      if (e instanceof Ec2CallError && e.code === "InvalidNetworkInterfaceID.NotFound") return undefined;
      throw e;
    }
  }

  leakedEniCandidates(vpcId: string, clusterName?: string): Promise<Eni[]> {
    const filters: Filter[] = [
      { Name: "tag-key", Values: ["node.k8s.amazonaws.com/instance_id"] },
      { Name: "status", Values: ["available"] },
      { Name: "vpc-id", Values: [vpcId] },
    ];
    if (clusterName) filters.push({ Name: "tag:cluster.k8s.amazonaws.com/name", Values: [clusterName] });
    return this.describeEnis(filters);
  }

  async subnets(vpcId: string, az: string): Promise<Subnet[]> {
    const r = await this.send("DescribeSubnets", () =>
      this.client.send(new DescribeSubnetsCommand({ Filters: [{ Name: "vpc-id", Values: [vpcId] }, { Name: "availability-zone", Values: [az] }] })),
    );
    return (r.Subnets ?? []).map((s) => ({
      id: s.SubnetId ?? "",
      vpcId: s.VpcId ?? "",
      az: s.AvailabilityZone ?? "",
      cidr: s.CidrBlock ?? "",
      ...(s.Ipv6CidrBlockAssociationSet?.[0]?.Ipv6CidrBlock ? { ipv6Cidr: s.Ipv6CidrBlockAssociationSet[0].Ipv6CidrBlock } : {}),
      availableIps: s.AvailableIpAddressCount ?? 0,
      tags: tagsOf(s.Tags),
    }));
  }

  async usedDeviceIndexes(instanceId: string, networkCard = MANAGED_NETWORK_CARD): Promise<number[]> {
    const r = await this.send("DescribeInstances", () => this.client.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] })));
    const inst = r.Reservations?.[0]?.Instances?.[0];
    // Device indexes are numbered per network card: the asked card's only.
    return (inst?.NetworkInterfaces ?? [])
      .filter((n) => (n.Attachment?.NetworkCardIndex ?? 0) === networkCard)
      .map((n) => n.Attachment?.DeviceIndex)
      .filter((d): d is number => d !== undefined);
  }

  async createEni(req: CreateEniRequest): Promise<Eni> {
    const count =
      req.family === "ipv6"
        ? req.cidrKind === "prefix"
          ? { Ipv6PrefixCount: req.count }
          : { Ipv6AddressCount: req.count }
        : req.cidrKind === "prefix"
          ? { Ipv4PrefixCount: req.count }
          : { SecondaryPrivateIpAddressCount: req.count };
    const r = await this.send("CreateNetworkInterface", () =>
      this.client.send(
        new CreateNetworkInterfaceCommand({
          SubnetId: req.subnetId,
          Description: req.description,
          Groups: req.securityGroups,
          ...(req.count > 0 ? count : {}),
          TagSpecifications: [{ ResourceType: "network-interface", Tags: tagList(req.tags) }],
        }),
      ),
      { yieldToOthers: req.yieldToOthers === true },
    );
    if (!r.NetworkInterface) throw new Ec2CallError("EmptyResponse", "CreateNetworkInterface answered no interface", "CreateNetworkInterface");
    return toEni(r.NetworkInterface);
  }

  async attachEni(eniId: string, instanceId: string, deviceIndex: number, networkCard = MANAGED_NETWORK_CARD): Promise<string> {
    const r = await this.send("AttachNetworkInterface", () =>
      this.client.send(new AttachNetworkInterfaceCommand({ NetworkInterfaceId: eniId, InstanceId: instanceId, DeviceIndex: deviceIndex, NetworkCardIndex: networkCard })),
    );
    if (!r.AttachmentId) throw new Ec2CallError("EmptyResponse", "AttachNetworkInterface answered no attachment id", "AttachNetworkInterface");
    return r.AttachmentId;
  }

  async setDeleteOnTermination(eniId: string, attachmentId: string): Promise<void> {
    await this.send("ModifyNetworkInterfaceAttribute", () =>
      this.client.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eniId, Attachment: { AttachmentId: attachmentId, DeleteOnTermination: true } })),
    );
  }

  async detachEni(attachmentId: string): Promise<void> {
    await this.send("DetachNetworkInterface", () => this.client.send(new DetachNetworkInterfaceCommand({ AttachmentId: attachmentId })));
  }

  async deleteEni(eniId: string): Promise<void> {
    await this.send("DeleteNetworkInterface", () => this.client.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eniId })));
  }

  async assign(eniId: string, family: "ipv4" | "ipv6", kind: CidrKind, count: number): Promise<string[]> {
    if (family === "ipv6") {
      const r = await this.send("AssignIpv6Addresses", () =>
        this.client.send(new AssignIpv6AddressesCommand({ NetworkInterfaceId: eniId, ...(kind === "prefix" ? { Ipv6PrefixCount: count } : { Ipv6AddressCount: count }) })),
      );
      return kind === "prefix" ? (r.AssignedIpv6Prefixes ?? []) : (r.AssignedIpv6Addresses ?? []).map(hostCidr);
    }
    const r = await this.send("AssignPrivateIpAddresses", () =>
      this.client.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: eniId, ...(kind === "prefix" ? { Ipv4PrefixCount: count } : { SecondaryPrivateIpAddressCount: count }) })),
    );
    return kind === "prefix"
      ? (r.AssignedIpv4Prefixes ?? []).map((p) => p.Ipv4Prefix!).filter(Boolean)
      : (r.AssignedPrivateIpAddresses ?? []).map((p) => hostCidr(p.PrivateIpAddress!));
  }

  async unassign(eniId: string, family: "ipv4" | "ipv6", kind: CidrKind, cidrs: string[]): Promise<void> {
    if (cidrs.length === 0) return;
    const bare = cidrs.map((c) => c.split("/")[0]!);
    if (family === "ipv6") {
      await this.send("UnassignIpv6Addresses", () =>
        this.client.send(new UnassignIpv6AddressesCommand({ NetworkInterfaceId: eniId, ...(kind === "prefix" ? { Ipv6Prefixes: cidrs } : { Ipv6Addresses: bare }) })),
      );
      return;
    }
    await this.send("UnassignPrivateIpAddresses", () =>
      this.client.send(new UnassignPrivateIpAddressesCommand({ NetworkInterfaceId: eniId, ...(kind === "prefix" ? { Ipv4Prefixes: cidrs } : { PrivateIpAddresses: bare }) })),
    );
  }

  async createTags(resourceIds: string[], tags: Tags): Promise<void> {
    if (resourceIds.length === 0 || Object.keys(tags).length === 0) return;
    await this.send("CreateTags", () => this.client.send(new CreateTagsCommand({ Resources: resourceIds, Tags: tagList(tags) })));
  }
}

/** Each card's ENI limit by its index (DescribeInstanceTypes' NetworkCards). */
function cardLimits(cards: { NetworkCardIndex?: number | undefined; MaximumNetworkInterfaces?: number | undefined }[]): number[] {
  const out: number[] = [];
  for (const c of cards) out[c.NetworkCardIndex ?? 0] = c.MaximumNetworkInterfaces ?? 0;
  return Array.from(out, (n) => n ?? 0);
}
