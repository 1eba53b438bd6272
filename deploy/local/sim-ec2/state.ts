/**
 * The simulated EC2: a stateful model with no I/O and an injected clock. It refuses what
 * EC2 refuses (see errors.ts), keeps ENI attachment asynchronous ("attaching" until
 * `attachDelayMs` has passed; call `settle()` to apply due transitions), records what IMDS
 * sees and when, keeps Describe snapshots for lag, and notifies observers.
 */
import { parseCidr } from "../../../shared/ip.ts";
import { allocateIpv4, ipv4Free } from "./allocator.ts";
import * as ops from "./address-ops.ts";
import { Ec2Error, invalid, missing, notFoundEni, notFoundInstance, notFoundSubnet } from "./errors.ts";
import { checkIdFormat, nextId, nextMac } from "./ids.ts";
import { currentImdsInterfaces, ImdsTimeline, secondaryCidrs, type ImdsInterface } from "./imds-view.ts";
import { instanceTypeLimits, type InstanceTypeLimits } from "./instance-types.ts";
import { deliver, type Ec2Event, type Ec2Observer } from "./observer.ts";
import { emptyState, type Attachment, type Ec2State, type Eni, type Instance, type SecurityGroup, type Subnet, type Tags, type Vpc } from "./types.ts";

export interface ModelTiming {
  /** How long an attachment stays "attaching". */
  attachDelayMs: number;
  /** How long after a change IMDS shows it. */
  imdsDelayMs: number;
  /** Describe* answers from a snapshot this old. */
  describeLagMs: number;
  /** DeleteNetworkInterface is refused "in use" for this long after a detach. */
  deleteAfterDetachMs: number;
}

export const DEFAULT_TIMING: ModelTiming = {
  attachDelayMs: 300,
  imdsDelayMs: 200,
  describeLagMs: 0,
  deleteAfterDetachMs: 2000,
};

/** Address limit of an ENI that is not attached (EC2 checks the type's limit at attach). */
export const UNATTACHED_IPV4_LIMIT = 50;

export interface CreateEniRequest {
  subnetId: string;
  description?: string;
  groups?: string[];
  primaryIp?: string;
  privateIps?: string[];
  secondaryCount?: number;
  ipv4PrefixCount?: number;
  ipv6Count?: number;
  ipv6PrefixCount?: number;
  tags?: Tags;
}

export class Ec2Model implements ops.OpContext {
  readonly state: Ec2State = emptyState();
  readonly now: () => number;
  timing: ModelTiming;
  private readonly observers = new Set<Ec2Observer>();
  private pending: Ec2Event[] = [];
  private snapshots: { at: number; state: Ec2State }[] = [];
  private readonly imds = new ImdsTimeline();

  constructor(opts: { now?: () => number; timing?: Partial<ModelTiming> } = {}) {
    this.now = opts.now ?? (() => Date.now());
    this.timing = { ...DEFAULT_TIMING, ...opts.timing };
  }

  setTiming(t: Partial<ModelTiming>): void {
    const wasLagging = this.timing.describeLagMs > 0;
    this.timing = { ...this.timing, ...t };
    if (!wasLagging && this.timing.describeLagMs > 0) this.snapshots = [{ at: this.now(), state: structuredClone(this.state) }];
    if (this.timing.describeLagMs === 0) this.snapshots = [];
  }

  addObserver(o: Ec2Observer): () => void {
    this.observers.add(o);
    return () => this.observers.delete(o);
  }

  // ---- world building (used by the local deployment) ----

  createVpc(p: { cidr?: string; cidrs?: string[]; tags?: Tags }): Vpc {
    const cidrs = p.cidrs ?? (p.cidr ? [p.cidr] : []);
    if (cidrs.length === 0 || cidrs.some((c) => parseCidr(c)?.family !== 4)) throw invalid(`invalid VPC CIDR: ${cidrs.join(",")}`);
    return this.mutate(() => {
      const vpc: Vpc = { id: nextId(this.state, "vpc"), cidrs, tags: { ...p.tags } };
      this.state.vpcs[vpc.id] = vpc;
      this.createSecurityGroupIn(vpc.id, "default", "default VPC security group", {});
      return vpc;
    });
  }

  createSubnet(p: { vpcId: string; az: string; cidr: string; ipv6Cidr?: string; tags?: Tags }): Subnet {
    const vpc = this.state.vpcs[p.vpcId];
    if (!vpc) throw new Ec2Error("InvalidVpcID.NotFound", `The vpc ID '${p.vpcId}' does not exist`);
    const c = parseCidr(p.cidr);
    if (!c || c.family !== 4 || c.prefix > 28 || !vpc.cidrs.some((v) => inside(p.cidr, v))) throw invalid(`invalid subnet CIDR: ${p.cidr}`);
    if (Object.values(this.state.subnets).some((s) => s.vpcId === p.vpcId && (inside(s.cidr, p.cidr) || inside(p.cidr, s.cidr))))
      throw new Ec2Error("InvalidParameterValue", `The CIDR '${p.cidr}' conflicts with another subnet`);
    if (p.ipv6Cidr !== undefined) {
      const c6 = parseCidr(p.ipv6Cidr);
      if (!c6 || c6.family !== 6 || c6.prefix !== 64) throw invalid(`invalid subnet IPv6 CIDR (need a /64): ${p.ipv6Cidr}`);
    }
    return this.mutate(() => {
      const subnet: Subnet = { id: nextId(this.state, "subnet"), vpcId: p.vpcId, az: p.az, cidr: p.cidr, ipv6Cidr: p.ipv6Cidr ?? null, tags: { ...p.tags } };
      this.state.subnets[subnet.id] = subnet;
      return subnet;
    });
  }

  createSecurityGroup(p: { vpcId: string; name: string; description?: string; tags?: Tags }): SecurityGroup {
    if (!this.state.vpcs[p.vpcId]) throw new Ec2Error("InvalidVpcID.NotFound", `The vpc ID '${p.vpcId}' does not exist`);
    return this.mutate(() => this.createSecurityGroupIn(p.vpcId, p.name, p.description ?? p.name, p.tags ?? {}));
  }

  private createSecurityGroupIn(vpcId: string, name: string, description: string, tags: Tags): SecurityGroup {
    const sg: SecurityGroup = { id: nextId(this.state, "sg"), vpcId, name, description, tags: { ...tags } };
    this.state.securityGroups[sg.id] = sg;
    return sg;
  }

  defaultSecurityGroup(vpcId: string): SecurityGroup | undefined {
    return Object.values(this.state.securityGroups).find((g) => g.vpcId === vpcId && g.name === "default");
  }

  /** Launches a running instance with its primary ENI attached at device 0. */
  launchInstance(p: { instanceType: string; subnetId: string; securityGroupIds?: string[]; privateIp?: string; tags?: Tags }): Instance {
    const limits = instanceTypeLimits(p.instanceType);
    if (!limits) throw new Ec2Error("InvalidParameterValue", `Invalid value '${p.instanceType}' for InstanceType.`);
    return this.mutate(() => {
      const eni = this.newEni({ subnetId: p.subnetId, groups: p.securityGroupIds, primaryIp: p.privateIp, description: "" });
      const subnet = this.state.subnets[eni.subnetId] as Subnet;
      const inst: Instance = {
        id: nextId(this.state, "i"),
        instanceType: p.instanceType,
        az: subnet.az,
        subnetId: subnet.id,
        vpcId: subnet.vpcId,
        primaryEniId: eni.id,
        privateIp: eni.primaryIp,
        launchedAt: this.now(),
        tags: { ...p.tags },
      };
      this.state.instances[inst.id] = inst;
      const t = this.now();
      eni.status = "in-use";
      eni.attachment = { id: nextId(this.state, "eni-attach"), instanceId: inst.id, deviceIndex: 0, networkCardIndex: 0, status: "attached", deleteOnTermination: true, attachTime: t, readyAt: t };
      this.announceAttached(eni, 0);
      return inst;
    });
  }

  // ---- ENI lifecycle ----

  createNetworkInterface(req: CreateEniRequest): Eni {
    return this.mutate(() => this.newEni(req));
  }

  private newEni(req: CreateEniRequest): Eni {
    if (!req.subnetId) throw missing("SubnetId");
    checkIdFormat(req.subnetId, "subnet");
    const subnet = this.state.subnets[req.subnetId];
    if (!subnet) throw notFoundSubnet(req.subnetId);
    const groups = req.groups && req.groups.length > 0 ? req.groups : [this.defaultSecurityGroup(subnet.vpcId)?.id ?? ""];
    this.checkGroups(groups, subnet.vpcId);
    const explicit = [...(req.primaryIp ? [req.primaryIp] : []), ...(req.privateIps ?? [])];
    const secondaryCount = req.secondaryCount ?? 0;
    const prefixCount = req.ipv4PrefixCount ?? 0;
    for (const [name, v] of [["SecondaryPrivateIpAddressCount", secondaryCount], ["Ipv4PrefixCount", prefixCount], ["Ipv6AddressCount", req.ipv6Count ?? 0], ["Ipv6PrefixCount", req.ipv6PrefixCount ?? 0]] as const)
      if (!Number.isInteger(v) || v < 0) throw invalid(`Invalid value '${v}' for ${name}`);
    const total = Math.max(explicit.length, 1) + secondaryCount + prefixCount;
    if (total > UNATTACHED_IPV4_LIMIT) throw new Ec2Error("PrivateIpAddressLimitExceeded", "Number of private addresses will exceed limit.");
    for (const ip of explicit) {
      const why = ipv4Free(this.state, subnet, ip);
      if (why === "used") throw new Ec2Error("InvalidIPAddress.InUse", `Address ${ip} is in use.`);
      if (why !== "ok") throw invalid(`Address ${ip} does not fall within the subnet's address range or is reserved`);
    }
    if (new Set(explicit).size !== explicit.length) throw invalid("Duplicate private IP addresses");
    const eni: Eni = {
      id: nextId(this.state, "eni"),
      subnetId: subnet.id,
      vpcId: subnet.vpcId,
      az: subnet.az,
      description: req.description ?? "",
      mac: nextMac(this.state),
      status: "available",
      groups,
      tags: { ...req.tags },
      primaryIp: "",
      secondaryIps: [],
      ipv4Prefixes: [],
      ipv6Addresses: [],
      ipv6Prefixes: [],
      attachment: null,
      createdAt: this.now(),
      detachedAt: null,
    };
    const primary = explicit[0] ?? allocateIpv4(this.state, subnet, 1)[0] ?? "";
    eni.primaryIp = primary;
    this.state.enis[eni.id] = eni;
    try {
      if (explicit.length > 1) eni.secondaryIps.push(...explicit.slice(1));
      ops.assignIpv4(this, eni, { count: secondaryCount, prefixCount }, false);
      ops.assignIpv6(this, eni, { count: req.ipv6Count ?? 0, prefixCount: req.ipv6PrefixCount ?? 0 }, false);
    } catch (e) {
      delete this.state.enis[eni.id];
      throw e;
    }
    return eni;
  }

  attachNetworkInterface(p: { eniId: string; instanceId: string; deviceIndex: number; networkCardIndex?: number }): Attachment {
    return this.mutate(() => {
      const eni = this.eni(p.eniId);
      const inst = this.instance(p.instanceId);
      const limits = this.limits(inst);
      if (p.networkCardIndex !== undefined && p.networkCardIndex !== 0) throw invalid(`Invalid value '${p.networkCardIndex}' for NetworkCardIndex`);
      if (!Number.isInteger(p.deviceIndex) || p.deviceIndex < 0) throw invalid(`Invalid value '${p.deviceIndex}' for DeviceIndex`);
      if (eni.attachment) throw new Ec2Error("InvalidNetworkInterface.InUse", `Interface: [${eni.id}] in use.`);
      if (eni.az !== inst.az) throw invalid(`The network interface and the instance must be in the same availability zone`);
      const attached = this.enisOf(inst.id);
      if (p.deviceIndex >= limits.maxEnis || attached.length >= limits.maxEnis)
        throw new Ec2Error("AttachmentLimitExceeded", `Interface count ${attached.length + 1} can not exceed the limit for ${inst.instanceType}`);
      if (attached.some((e) => e.attachment?.deviceIndex === p.deviceIndex))
        throw invalid(`Instance '${inst.id}' already has an interface attached at device index '${p.deviceIndex}'.`);
      if (ops.ipv4Slots(eni) > limits.ipv4PerEni || ops.ipv6Slots(eni) > limits.ipv6PerEni)
        throw new Ec2Error("PrivateIpAddressLimitExceeded", "Number of private addresses will exceed limit.");
      const t = this.now();
      eni.attachment = { id: nextId(this.state, "eni-attach"), instanceId: inst.id, deviceIndex: p.deviceIndex, networkCardIndex: 0, status: "attaching", deleteOnTermination: false, attachTime: t, readyAt: t + this.timing.attachDelayMs };
      eni.status = "attaching";
      this.settleDue();
      return eni.attachment;
    });
  }

  detachNetworkInterface(p: { attachmentId: string; force?: boolean }): void {
    this.mutate(() => {
      if (!p.attachmentId) throw missing("AttachmentId");
      const eni = Object.values(this.state.enis).find((e) => e.attachment?.id === p.attachmentId);
      if (!eni?.attachment) throw new Ec2Error("InvalidAttachmentID.NotFound", `Interface attachment '${p.attachmentId}' does not exist`);
      if (eni.attachment.deviceIndex === 0) throw new Ec2Error("InvalidParameterValue", "The network interface at device index 0 cannot be detached.");
      const { instanceId, status } = eni.attachment;
      eni.attachment = null;
      eni.status = "available";
      eni.detachedAt = this.now();
      if (status === "attached") {
        const cidrs = secondaryCidrs(eni);
        if (cidrs.length > 0) this.emit({ kind: "addressesUnassigned", eniId: eni.id, instanceId, mac: eni.mac, cidrs });
        this.emit({ kind: "eniDetached", eniId: eni.id, instanceId, mac: eni.mac });
        this.recordImds(instanceId);
      }
    });
  }

  deleteNetworkInterface(eniId: string): void {
    this.mutate(() => {
      const eni = this.eni(eniId);
      const inUse = eni.attachment !== null || (eni.detachedAt !== null && this.now() < eni.detachedAt + this.timing.deleteAfterDetachMs);
      if (inUse) throw invalid(`Network interface '${eni.id}' is currently in use.`);
      delete this.state.enis[eni.id];
    });
  }

  modifyNetworkInterfaceAttribute(p: { eniId: string; attachment?: { attachmentId: string; deleteOnTermination: boolean }; description?: string; groups?: string[] }): void {
    this.mutate(() => {
      const eni = this.eni(p.eniId);
      if (p.attachment === undefined && p.description === undefined && p.groups === undefined) throw missing("Attribute");
      if (p.attachment) {
        if (eni.attachment?.id !== p.attachment.attachmentId)
          throw new Ec2Error("InvalidAttachmentID.NotFound", `Interface attachment '${p.attachment.attachmentId}' does not exist`);
      }
      if (p.groups) this.checkGroups(p.groups, eni.vpcId);
      if (p.attachment && eni.attachment) eni.attachment.deleteOnTermination = p.attachment.deleteOnTermination;
      if (p.description !== undefined) eni.description = p.description;
      if (p.groups) {
        eni.groups = [...p.groups];
        if (eni.attachment?.status === "attached") this.recordImds(eni.attachment.instanceId);
      }
    });
  }

  // ---- addresses ----

  assignPrivateIpAddresses(p: { eniId: string } & ops.Ipv4Request): { addresses: string[]; prefixes: string[] } {
    return this.mutate(() => ops.assignIpv4(this, this.eni(p.eniId), p, true));
  }

  unassignPrivateIpAddresses(p: { eniId: string; addresses?: string[]; prefixes?: string[] }): void {
    this.mutate(() => ops.unassignIpv4(this, this.eni(p.eniId), p));
  }

  assignIpv6Addresses(p: { eniId: string } & ops.Ipv6Request): { addresses: string[]; prefixes: string[] } {
    return this.mutate(() => ops.assignIpv6(this, this.eni(p.eniId), p, true));
  }

  unassignIpv6Addresses(p: { eniId: string; addresses?: string[]; prefixes?: string[] }): { addresses: string[]; prefixes: string[] } {
    return this.mutate(() => ops.unassignIpv6(this, this.eni(p.eniId), p));
  }

  // ---- tags ----

  createTags(resourceIds: string[], tags: Tags): void {
    this.mutate(() => {
      const targets = resourceIds.map((id) => this.taggable(id));
      for (const t of targets) Object.assign(t.tags, tags);
    });
  }

  deleteTags(resourceIds: string[], tags: { key: string; value?: string }[]): void {
    this.mutate(() => {
      const targets = resourceIds.map((id) => this.taggable(id));
      for (const t of targets)
        for (const { key, value } of tags) if (value === undefined || t.tags[key] === value) delete t.tags[key];
    });
  }

  private taggable(id: string): { tags: Tags } {
    if (!id) throw missing("ResourceId");
    const s = this.state;
    const found = s.enis[id] ?? s.subnets[id] ?? s.instances[id] ?? s.securityGroups[id] ?? s.vpcs[id];
    if (found) return found;
    if (id.startsWith("eni-")) throw notFoundEni(id);
    if (id.startsWith("subnet-")) throw notFoundSubnet(id);
    if (id.startsWith("i-")) throw notFoundInstance(id);
    throw new Ec2Error("InvalidID", `The ID '${id}' is not valid`);
  }

  // ---- time ----

  /** Applies transitions that are due (attaching → attached). Call after the clock moved. */
  settle(): void {
    this.mutate(() => this.settleDue());
  }

  /** When the next transition is due, or null. */
  nextDueAt(): number | null {
    let due: number | null = null;
    for (const e of Object.values(this.state.enis))
      if (e.attachment?.status === "attaching" && (due === null || e.attachment.readyAt < due)) due = e.attachment.readyAt;
    return due;
  }

  private settleDue(): void {
    const t = this.now();
    for (const eni of Object.values(this.state.enis)) {
      const a = eni.attachment;
      if (a?.status !== "attaching" || a.readyAt > t) continue;
      a.status = "attached";
      eni.status = "in-use";
      this.announceAttached(eni, a.deviceIndex);
    }
  }

  /** The state Describe* answers from: live, or a snapshot `describeLagMs` old. */
  describeView(): Ec2State {
    if (this.timing.describeLagMs <= 0) return this.state;
    const cutoff = this.now() - this.timing.describeLagMs;
    let view = this.snapshots[0]?.state ?? this.state;
    for (const s of this.snapshots) if (s.at <= cutoff) view = s.state;
    return view;
  }

  /** The interfaces IMDS shows for an instance at `nowMs`; undefined for an unknown instance. */
  imdsView(instanceId: string, nowMs: number = this.now()): ImdsInterface[] | undefined {
    if (!this.state.instances[instanceId]) return undefined;
    return this.imds.view(instanceId, nowMs);
  }

  // ---- helpers (also used by address-ops) ----

  eni(id: string | undefined): Eni {
    if (!id) throw missing("NetworkInterfaceId");
    checkIdFormat(id, "eni");
    const eni = this.state.enis[id];
    if (!eni) throw notFoundEni(id);
    return eni;
  }

  instance(id: string | undefined): Instance {
    if (!id) throw missing("InstanceId");
    checkIdFormat(id, "i");
    const inst = this.state.instances[id];
    if (!inst) throw notFoundInstance(id);
    return inst;
  }

  limits(inst: Instance): InstanceTypeLimits {
    const l = instanceTypeLimits(inst.instanceType);
    if (!l) throw new Ec2Error("InternalError", `no limits for ${inst.instanceType}`);
    return l;
  }

  /** IPv4 and IPv6 slot limits of an ENI: its instance type's, or the unattached limit. */
  eniLimits(eni: Eni): { ipv4: number; ipv6: number } {
    const inst = eni.attachment ? this.state.instances[eni.attachment.instanceId] : undefined;
    if (!inst) return { ipv4: UNATTACHED_IPV4_LIMIT, ipv6: UNATTACHED_IPV4_LIMIT };
    const l = this.limits(inst);
    return { ipv4: l.ipv4PerEni, ipv6: l.ipv6PerEni };
  }

  enisOf(instanceId: string): Eni[] {
    return Object.values(this.state.enis).filter((e) => e.attachment?.instanceId === instanceId);
  }

  emit(ev: Ec2Event): void {
    this.pending.push(ev);
  }

  recordImds(instanceId: string): void {
    const t = this.now();
    this.imds.record(instanceId, t + this.timing.imdsDelayMs, currentImdsInterfaces(this.state, instanceId), t);
  }

  private announceAttached(eni: Eni, deviceIndex: number): void {
    const a = eni.attachment as Attachment;
    const subnet = this.state.subnets[eni.subnetId] as Subnet;
    this.emit({ kind: "eniAttached", eniId: eni.id, instanceId: a.instanceId, deviceIndex, mac: eni.mac, primaryIp: eni.primaryIp, subnetId: subnet.id, subnetCidr: subnet.cidr });
    const cidrs = secondaryCidrs(eni);
    if (cidrs.length > 0) this.emit({ kind: "addressesAssigned", eniId: eni.id, instanceId: a.instanceId, mac: eni.mac, cidrs });
    // The primary ENI of a new instance is in IMDS at once; later attachments after the delay.
    if (deviceIndex === 0) this.imds.record(a.instanceId, this.now(), currentImdsInterfaces(this.state, a.instanceId), this.now());
    else this.recordImds(a.instanceId);
  }

  private checkGroups(groups: string[], vpcId: string): void {
    for (const g of groups) {
      const sg = this.state.securityGroups[g];
      if (!sg || sg.vpcId !== vpcId) throw new Ec2Error("InvalidGroup.NotFound", `The security group '${g}' does not exist in VPC '${vpcId}'`);
    }
  }

  /** Runs a state change; on success records a Describe snapshot and notifies observers. */
  private mutate<T>(fn: () => T): T {
    const before = this.pending.length;
    let out: T;
    try {
      out = fn();
    } catch (e) {
      this.pending.length = before;
      throw e;
    }
    if (this.timing.describeLagMs > 0) this.keepSnapshot();
    const events = this.pending;
    this.pending = [];
    for (const ev of events) for (const o of this.observers) deliver(o, ev);
    return out;
  }

  private keepSnapshot(): void {
    const t = this.now();
    this.snapshots.push({ at: t, state: structuredClone(this.state) });
    const cutoff = t - this.timing.describeLagMs;
    // Keep the newest snapshot at or before the cutoff and everything after it.
    let keepFrom = 0;
    this.snapshots.forEach((s, i) => {
      if (s.at <= cutoff) keepFrom = i;
    });
    if (keepFrom > 0) this.snapshots = this.snapshots.slice(keepFrom);
  }
}

function inside(inner: string, outer: string): boolean {
  const i = parseCidr(inner, false);
  const o = parseCidr(outer, false);
  if (!i || !o || i.family !== o.family || i.prefix < o.prefix) return false;
  const shift = BigInt((i.family === 4 ? 32 : 128) - o.prefix);
  return i.base >> shift === o.base >> shift;
}
