/**
 * The fake EC2's state: VPCs, subnets with their address allocators, security groups,
 * instances and ENIs, kept in the port's own types. Attachments complete `attachDelayMs`
 * after the attach on the fake clock; `settle` applies what is due (every call and every read
 * starts with it). World building (`addSubnet`, `launchInstance`, `addEni`) is the test's
 * side and is not counted as calls.
 */
import type { Eni, ImdsInterface, ImdsPort, InstanceLimits, Subnet, Tags } from "../../src/core/ports.ts";
import type { FakeClock } from "../fake-clock.ts";
import { ImdsTimeline, imdsPort } from "./imds-view.ts";
import { FAKE_INSTANCE_TYPES } from "./instance-types.ts";
import { Refusal } from "./refusal.ts";
import { SubnetAddresses } from "./subnet-addresses.ts";

export interface FakeEc2Timing {
  /** An attachment stays "attaching" this long. */
  attachDelayMs: number;
  /** IMDS shows a change this long after it happened. */
  imdsDelayMs: number;
  /** DeleteNetworkInterface answers "in use" this long after a detach. */
  deleteAfterDetachMs: number;
}

export const DEFAULT_FAKE_TIMING: FakeEc2Timing = { attachDelayMs: 300, imdsDelayMs: 200, deleteAfterDetachMs: 2_000 };

export interface FakeAttachment {
  id: string;
  instanceId: string;
  deviceIndex: number;
  networkCard: number;
  status: "attaching" | "attached";
  attachedAtMs: number;
  readyAtMs: number;
  deleteOnTermination: boolean;
}

export interface FakeEni extends Omit<Eni, "attachment"> {
  az: string;
  attachment?: FakeAttachment;
  detachedAtMs?: number;
}

export interface FakeInstance {
  id: string;
  instanceType: string;
  az: string;
  subnetId: string;
  primaryEniId: string;
  privateIp: string;
}

interface FakeSubnet {
  subnet: Omit<Subnet, "availableIps">;
  addresses: SubnetAddresses;
}

export const DEFAULT_AZ = "us-west-2a";

export class FakeEc2World {
  readonly timing: FakeEc2Timing;
  protected readonly vpcs = new Map<string, { cidr: string; defaultGroup: string }>();
  protected readonly subnetsById = new Map<string, FakeSubnet>();
  protected readonly groups = new Map<string, string>(); // security group → VPC
  protected readonly instances = new Map<string, FakeInstance>();
  protected readonly enis = new Map<string, FakeEni>();
  private readonly imds = new ImdsTimeline();
  private nextId = 1;

  constructor(
    readonly clock: FakeClock,
    timing: Partial<FakeEc2Timing> = {},
  ) {
    this.timing = { ...DEFAULT_FAKE_TIMING, ...timing };
  }

  protected id(prefix: string): string {
    return `${prefix}-${(this.nextId++).toString(16).padStart(17, "0")}`;
  }

  private mac(): string {
    const n = this.nextId++;
    return `02:00:00:00:${((n >> 8) & 0xff).toString(16).padStart(2, "0")}:${(n & 0xff).toString(16).padStart(2, "0")}`;
  }

  // ---- world building (the test's side) ----

  addVpc(cidr = "10.0.0.0/16"): string {
    const id = this.id("vpc");
    const defaultGroup = this.id("sg");
    this.vpcs.set(id, { cidr, defaultGroup });
    this.groups.set(defaultGroup, id);
    return id;
  }

  /** A subnet of `vpcId` (a new 10.0.0.0/16 VPC when none is named). */
  addSubnet(p: { cidr: string; vpcId?: string; az?: string; ipv6Cidr?: string; tags?: Tags }): Subnet {
    const vpcId = p.vpcId ?? this.addVpc();
    if (!this.vpcs.has(vpcId)) throw new Error(`addSubnet: no VPC ${vpcId} (field vpcId)`);
    const id = this.id("subnet");
    const subnet = { id, vpcId, az: p.az ?? DEFAULT_AZ, cidr: p.cidr, ...(p.ipv6Cidr ? { ipv6Cidr: p.ipv6Cidr } : {}), tags: { ...p.tags } };
    this.subnetsById.set(id, { subnet, addresses: new SubnetAddresses(p.cidr, p.ipv6Cidr) });
    return this.subnetView(id)!;
  }

  addSecurityGroup(vpcId: string): string {
    if (!this.vpcs.has(vpcId)) throw new Error(`addSecurityGroup: no VPC ${vpcId} (field vpcId)`);
    const id = this.id("sg");
    this.groups.set(id, vpcId);
    return id;
  }

  defaultSecurityGroup(vpcId: string): string {
    const v = this.vpcs.get(vpcId);
    if (!v) throw new Error(`defaultSecurityGroup: no VPC ${vpcId}`);
    return v.defaultGroup;
  }

  /** A running instance with its primary ENI attached at device 0 (in IMDS at once). */
  launchInstance(p: { instanceType: string; subnetId: string; securityGroups?: string[] }): FakeInstance {
    if (!FAKE_INSTANCE_TYPES[p.instanceType]) throw new Error(`launchInstance: the fake knows no instance type ${p.instanceType} (field instanceType)`);
    const s = this.subnetOf(p.subnetId);
    const id = this.id("i");
    const eni = this.newEni(s, { description: "Primary network interface", securityGroups: p.securityGroups ?? [this.defaultSecurityGroup(s.subnet.vpcId)] });
    const now = this.clock.now();
    eni.attachment = { id: this.id("eni-attach"), instanceId: id, deviceIndex: 0, networkCard: 0, status: "attached", attachedAtMs: now, readyAtMs: now, deleteOnTermination: true };
    eni.status = "in-use";
    const inst: FakeInstance = { id, instanceType: p.instanceType, az: s.subnet.az, subnetId: s.subnet.id, primaryEniId: eni.id, privateIp: eni.primaryIp };
    this.instances.set(id, inst);
    this.imds.record(id, now, this.interfacesNow(id));
    return { ...inst };
  }

  /** An ENI someone else created (detached), e.g. a leftover of another node, or one holding `privateIps`. */
  addEni(p: { subnetId: string; description?: string; tags?: Tags; privateIps?: string[]; interfaceType?: string }): FakeEni {
    const s = this.subnetOf(p.subnetId);
    const eni = this.newEni(s, { description: p.description ?? "", securityGroups: [this.defaultSecurityGroup(s.subnet.vpcId)], tags: p.tags ?? {}, ...(p.privateIps ? { privateIps: p.privateIps } : {}) });
    if (p.interfaceType) eni.interfaceType = p.interfaceType;
    return structuredClone(eni);
  }

  protected newEni(s: FakeSubnet, o: { description: string; securityGroups: string[]; tags?: Tags; privateIps?: string[] }): FakeEni {
    const taken: string[] = [];
    try {
      for (const ip of o.privateIps ?? []) taken.push(s.addresses.takeAddress(ip));
      if (taken.length === 0) taken.push(...s.addresses.takeAddresses(1));
    } catch (err) {
      s.addresses.release(taken);
      throw err;
    }
    const [primary, ...secondary] = taken;
    const eni: FakeEni = {
      id: this.id("eni"),
      mac: this.mac(),
      subnetId: s.subnet.id,
      vpcId: s.subnet.vpcId,
      az: s.subnet.az,
      description: o.description,
      status: "available",
      interfaceType: "interface",
      primaryIp: primary!,
      secondaryIps: secondary,
      ipv4Prefixes: [],
      ipv6Addresses: [],
      ipv6Prefixes: [],
      securityGroups: [...o.securityGroups],
      tags: { ...o.tags },
    };
    this.enis.set(eni.id, eni);
    return eni;
  }

  // ---- reading the state (copies) ----

  eniState(id: string): FakeEni | undefined {
    this.settle();
    const e = this.enis.get(id);
    return e && structuredClone(e);
  }

  /** ENIs attached (or attaching) to the instance, by device index. */
  enisOf(instanceId: string): FakeEni[] {
    this.settle();
    return [...this.enis.values()].filter((e) => e.attachment?.instanceId === instanceId).sort((a, b) => a.attachment!.deviceIndex - b.attachment!.deviceIndex).map((e) => structuredClone(e));
  }

  allEnis(): FakeEni[] {
    this.settle();
    return [...this.enis.values()].map((e) => structuredClone(e));
  }

  instance(id: string): FakeInstance | undefined {
    const i = this.instances.get(id);
    return i && { ...i };
  }

  subnetView(id: string): Subnet | undefined {
    const s = this.subnetsById.get(id);
    return s && { ...structuredClone(s.subnet), availableIps: s.addresses.available() };
  }

  /** The instance's IMDS as the instance sees it now (lagging the API by `imdsDelayMs`). */
  imdsOf(instanceId: string): ImdsPort {
    return imdsPort({
      instance: () => {
        const i = this.instanceOf(instanceId);
        return { id: i.id, instanceType: i.instanceType, az: i.az, privateIp: i.privateIp, primaryMac: this.enis.get(i.primaryEniId)!.mac };
      },
      interfaces: () => {
        this.settle();
        return this.imds.at(instanceId, this.clock.now());
      },
    });
  }

  // ---- what the calls share ----

  /** Completes the attachments that are due, in time order, each shown by IMDS after its delay. */
  protected settle(): void {
    const now = this.clock.now();
    const due = [...this.enis.values()].filter((e) => e.attachment?.status === "attaching" && e.attachment.readyAtMs <= now).sort((a, b) => a.attachment!.readyAtMs - b.attachment!.readyAtMs);
    for (const e of due) {
      const a = e.attachment!;
      a.status = "attached";
      e.status = "in-use";
      this.imds.record(a.instanceId, a.readyAtMs + this.timing.imdsDelayMs, this.interfacesNow(a.instanceId));
    }
  }

  /** An attached ENI of the instance changed now: IMDS shows it after its delay. */
  protected changed(instanceId: string): void {
    this.imds.record(instanceId, this.clock.now() + this.timing.imdsDelayMs, this.interfacesNow(instanceId));
  }

  private interfacesNow(instanceId: string): ImdsInterface[] {
    return [...this.enis.values()]
      .filter((e) => e.attachment?.instanceId === instanceId && e.attachment.status === "attached")
      .map((e) => {
        const s = this.subnetsById.get(e.subnetId)!.subnet;
        return {
          mac: e.mac,
          deviceNumber: e.attachment!.deviceIndex,
          networkCard: e.attachment!.networkCard,
          interfaceId: e.id,
          subnetId: s.id,
          subnetCidr: s.cidr,
          vpcCidrs: [this.vpcs.get(s.vpcId)!.cidr],
          securityGroupIds: [...e.securityGroups],
          localIpv4s: [e.primaryIp, ...e.secondaryIps],
          ipv4Prefixes: [...e.ipv4Prefixes],
          ipv6s: [...e.ipv6Addresses],
          ipv6Prefixes: [...e.ipv6Prefixes],
        };
      });
  }

  protected eniOf(id: string): FakeEni {
    const e = this.enis.get(id);
    if (!e) throw new Refusal("InvalidNetworkInterfaceID.NotFound", `The networkInterface ID '${id}' does not exist`);
    return e;
  }

  protected instanceOf(id: string): FakeInstance {
    const i = this.instances.get(id);
    if (!i) throw new Refusal("InvalidInstanceID.NotFound", `The instance ID '${id}' does not exist`);
    return i;
  }

  protected subnetOf(id: string): FakeSubnet {
    const s = this.subnetsById.get(id);
    if (!s) throw new Refusal("InvalidSubnetID.NotFound", `The subnet ID '${id}' does not exist`);
    return s;
  }

  protected limitsOf(instanceType: string): InstanceLimits {
    const l = FAKE_INSTANCE_TYPES[instanceType];
    if (!l) throw new Refusal("InvalidInstanceType", `The instance type '${instanceType}' does not exist`);
    return l;
  }

  protected groupsIn(vpcId: string, groups: string[]): string[] {
    if (groups.length === 0) return [this.defaultSecurityGroup(vpcId)];
    for (const g of groups) if (this.groups.get(g) !== vpcId) throw new Refusal("InvalidGroup.NotFound", `The security group '${g}' does not exist in VPC '${vpcId}'`);
    return [...groups];
  }
}
