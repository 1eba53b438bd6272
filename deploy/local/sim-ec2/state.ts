/**
 * The simulated EC2: a stateful model with no I/O and an injected clock. It refuses what
 * EC2 refuses (see errors.ts), keeps ENI attachment asynchronous ("attaching" until
 * `attachDelayMs` has passed; call `settle()` to apply due transitions), records what IMDS
 * sees and when, keeps Describe snapshots for lag, and notifies observers.
 *
 * Every change runs in `mutate`; what each action does and refuses lives beside this file:
 * world-ops.ts (VPCs, subnets, security groups, instances), eni-ops.ts (an ENI's life),
 * address-ops.ts (its addresses and prefixes).
 */
import * as ops from "./address-ops.ts";
import * as eniOps from "./eni-ops.ts";
import { UNATTACHED_IPV4_LIMIT, type AttachRequest, type CreateEniRequest, type ModifyEniRequest } from "./eni-ops.ts";
import { Ec2Error, missing, notFoundEni, notFoundInstance, notFoundSubnet } from "./errors.ts";
import { checkIdFormat } from "./ids.ts";
import { currentImdsInterfaces, ImdsTimeline, secondaryCidrs, type ImdsInterface } from "./imds-view.ts";
import { instanceTypeLimits, type InstanceTypeLimits } from "./instance-types.ts";
import { deliver, type Ec2Event, type Ec2Observer } from "./observer.ts";
import { emptyState, type Attachment, type Ec2State, type Eni, type EniPermission, type Instance, type SecurityGroup, type SgRule, type Subnet, type Tags, type TrunkAssociation, type Vpc } from "./types.ts";
import * as sg from "./sg-rules.ts";
import * as trunk from "./trunk-ops.ts";
import * as world from "./world-ops.ts";

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

  // ---- world building (used by the local deployment; world-ops.ts) ----

  createVpc(p: world.VpcRequest): Vpc {
    return this.mutate(() => world.createVpc(this, p));
  }

  /** A CIDR block added to (removed from) the VPC: IMDS of its instances shows it after the usual delay. */
  associateVpcCidr(vpcId: string, cidr: string): Vpc {
    return this.mutate(() => this.vpcCidrsChanged(world.associateVpcCidr(this, vpcId, cidr)));
  }

  disassociateVpcCidr(vpcId: string, cidr: string): Vpc {
    return this.mutate(() => this.vpcCidrsChanged(world.disassociateVpcCidr(this, vpcId, cidr)));
  }

  private vpcCidrsChanged(vpc: Vpc): Vpc {
    for (const inst of Object.values(this.state.instances)) if (inst.vpcId === vpc.id) this.recordImds(inst.id);
    return vpc;
  }

  createSubnet(p: world.SubnetRequest): Subnet {
    return this.mutate(() => world.createSubnet(this, p));
  }

  createSecurityGroup(p: world.SecurityGroupRequest): SecurityGroup {
    return this.mutate(() => world.createSecurityGroup(this, p));
  }

  defaultSecurityGroup(vpcId: string): SecurityGroup | undefined {
    return Object.values(this.state.securityGroups).find((g) => g.vpcId === vpcId && g.name === "default");
  }

  /** Launches a running instance with its primary ENI attached at device 0. */
  launchInstance(p: world.LaunchRequest): Instance {
    return this.mutate(() => world.launchInstance(this, p));
  }

  // ---- ENI lifecycle (eni-ops.ts) ----

  createNetworkInterface(req: CreateEniRequest): Eni {
    return this.mutate(() => eniOps.newEni(this, req));
  }

  attachNetworkInterface(p: AttachRequest): Attachment {
    return this.mutate(() => eniOps.attachEni(this, p));
  }

  detachNetworkInterface(p: { attachmentId: string; force?: boolean }): void {
    this.mutate(() => eniOps.detachEni(this, p));
  }

  deleteNetworkInterface(eniId: string): void {
    this.mutate(() => eniOps.deleteEni(this, eniId));
  }

  modifyNetworkInterfaceAttribute(p: ModifyEniRequest): void {
    this.mutate(() => eniOps.modifyEni(this, p));
  }

  // ---- trunk and branch ENIs (trunk-ops.ts) ----

  associateTrunkInterface(p: { branchEniId?: string; trunkEniId?: string; vlanId?: number }): TrunkAssociation {
    return this.mutate(() => trunk.associate(this, p));
  }

  disassociateTrunkInterface(associationId: string | undefined): void {
    this.mutate(() => trunk.disassociate(this, associationId));
  }

  createNetworkInterfacePermission(p: { eniId?: string; permission?: string; awsAccountId?: string }): EniPermission {
    return this.mutate(() => trunk.createPermission(this, p));
  }

  // ---- security groups (sg-rules.ts) ----

  createSecurityGroupFromApi(p: { vpcId?: string; name?: string; description?: string; tags?: Tags }): SecurityGroup {
    return this.mutate(() => sg.createGroup(this, p));
  }

  deleteSecurityGroup(groupId: string | undefined): void {
    this.mutate(() => sg.deleteGroup(this, groupId));
  }

  authorizeSecurityGroup(groupId: string | undefined, direction: sg.RuleDirection, permissions: sg.IpPermissionInput[]): SgRule[] {
    return this.mutate(() => sg.authorize(this, groupId, direction, permissions));
  }

  revokeSecurityGroup(groupId: string | undefined, direction: sg.RuleDirection, permissions: sg.IpPermissionInput[]): void {
    this.mutate(() => sg.revoke(this, groupId, direction, permissions));
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

  /** Applies due transitions inside a change already running (attach, settle). */
  settleDue(): void {
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

  // ---- helpers (also used by the *-ops.ts files) ----

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

  /** An attachment became "attached": events, and what IMDS shows (the primary ENI at once). */
  announceAttached(eni: Eni, deviceIndex: number): void {
    const a = eni.attachment as Attachment;
    const subnet = this.state.subnets[eni.subnetId] as Subnet;
    this.emit({ kind: "eniAttached", eniId: eni.id, instanceId: a.instanceId, deviceIndex, networkCardIndex: a.networkCardIndex, mac: eni.mac, primaryIp: eni.primaryIp, ...(eni.primaryIpv6 ? { primaryIpv6: eni.primaryIpv6 } : {}), subnetId: subnet.id, subnetCidr: subnet.cidr });
    const cidrs = secondaryCidrs(eni);
    if (cidrs.length > 0) this.emit({ kind: "addressesAssigned", eniId: eni.id, instanceId: a.instanceId, mac: eni.mac, cidrs });
    // The primary ENI of a new instance is in IMDS at once; later attachments after the delay.
    if (deviceIndex === 0) this.imds.record(a.instanceId, this.now(), currentImdsInterfaces(this.state, a.instanceId), this.now());
    else this.recordImds(a.instanceId);
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
    for (const o of this.observers) o.stateChanged?.();
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
