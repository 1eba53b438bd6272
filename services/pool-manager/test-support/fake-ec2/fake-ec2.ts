/**
 * A stateful in-process EC2 behind the pool-manager's Ec2Port, speaking the port's types: the
 * world of world.ts, EC2's checks on every call (it refuses what EC2 refuses, with EC2's
 * codes and HTTP statuses, as the port's Ec2CallError), asynchronous attachment and IMDS lag
 * on a fake clock, and injectable faults (faults.ts). Calls are counted per action. A client
 * (the pool-manager's Ec2Guard: client-side buckets, retries) may sit in front of the account,
 * as it sits in front of the SDK in production.
 */
import { Ec2CallError, type CreateEniRequest, type Ec2Port, type Eni, type InstanceLimits, type Subnet, type Tags } from "../../src/core/ports.ts";
import type { CidrKind } from "../../src/core/pool-state.ts";
import type { FakeClock } from "../fake-clock.ts";
import { Ec2Faults } from "./faults.ts";
import { UNATTACHED_IPV4_SLOTS } from "./instance-types.ts";
import { Refusal, statusOf } from "./refusal.ts";
import { FakeEc2World, type FakeEc2Timing, type FakeEni } from "./world.ts";

/** What sends a node's calls to the account: retries, client-side buckets (the Ec2Guard fits). */
export interface Ec2Client {
  call<T>(api: string, send: () => Promise<T>, o?: { yieldToOthers?: boolean }): Promise<T>;
  addressingBusy?(quietMs?: number): boolean;
}

export interface CallCount {
  ok: number;
  error: number;
  throttled: number;
}

const MUTATING = /^(Create|Attach|Detach|Delete|Modify|Assign|Unassign)/;

const ipv4Slots = (e: FakeEni) => 1 + e.secondaryIps.length + e.ipv4Prefixes.length;
const ipv6Slots = (e: FakeEni) => e.ipv6Addresses.length + e.ipv6Prefixes.length;

function toPortEni(e: FakeEni): Eni {
  const { az: _az, detachedAtMs: _detached, attachment: a, ...rest } = structuredClone(e);
  return { ...rest, ...(a ? { attachment: { id: a.id, instanceId: a.instanceId, deviceIndex: a.deviceIndex, networkCard: a.networkCard, attachedAtMs: a.attachedAtMs, status: a.status } } : {}) };
}

/** One mutating call as the account saw it: ENIs named by device index ("@1"), so runs compare. */
export interface MutatingCall {
  api: string;
  /** e.g. "@0 +9 address", "+7 address", "@1"; "" when nothing more is worth saying. */
  detail: string;
  /** The EC2 error code when refused. */
  error?: string;
}

export class FakeEc2 extends FakeEc2World implements Ec2Port {
  readonly faults: Ec2Faults;
  readonly calls: Record<string, CallCount> = {};
  /** Every mutating call, in order (resetCalls clears it). */
  readonly log: MutatingCall[] = [];
  /** The client in front of the account (set after construction when it needs the fake's clock). */
  client: Ec2Client | undefined;

  constructor(clock: FakeClock, o: { timing?: Partial<FakeEc2Timing>; client?: Ec2Client } = {}) {
    super(clock, o.timing);
    this.faults = new Ec2Faults(clock.now);
    this.client = o.client;
  }

  /** Calls of the mutating actions, answered or refused. */
  mutatingCalls(): number {
    return Object.entries(this.calls)
      .filter(([api]) => MUTATING.test(api))
      .reduce((n, [, c]) => n + c.ok + c.error + c.throttled, 0);
  }

  resetCalls(): void {
    for (const k of Object.keys(this.calls)) delete this.calls[k];
    this.log.length = 0;
  }

  /** The mutating calls as "Api detail" lines ("AssignPrivateIpAddresses @0 +9 address"), refusals with " !Code". */
  mutations(): string[] {
    return this.log.map((c) => [c.api, c.detail, c.error ? `!${c.error}` : ""].filter(Boolean).join(" "));
  }

  /** "@<device index>" of an attached ENI, else "". */
  private at(eniId: string): string {
    const a = this.enis.get(eniId)?.attachment;
    return a ? `@${a.deviceIndex}` : "";
  }

  private call<T>(api: string, fn: () => T, o?: { yieldToOthers?: boolean }, detail?: () => string): Promise<T> {
    const send = () => this.serve(api, fn, detail);
    return this.client ? this.client.call(api, send, o) : send();
  }

  /** One call as the account answers it: IAM and the bucket, the latency, an injected error, then the action. */
  private async serve<T>(api: string, fn: () => T, detail?: () => string): Promise<T> {
    const count = (this.calls[api] ??= { ok: 0, error: 0, throttled: 0 });
    const entry: MutatingCall | undefined = MUTATING.test(api) ? { api, detail: "" } : undefined;
    if (entry) this.log.push(entry);
    try {
      if (entry && detail) entry.detail = detail();
      this.faults.admit(api);
      const delay = this.faults.delayOf(api);
      if (delay > 0) await this.clock.sleep(delay);
      const injected = this.faults.injected(api);
      if (injected) throw injected;
      this.settle();
      const out = fn();
      count.ok++;
      return out;
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      if (entry) entry.error = err.code;
      if (err.code === "RequestLimitExceeded") count.throttled++;
      else count.error++;
      throw new Ec2CallError(err.code, err.message, api, statusOf(err.code));
    }
  }

  addressingBusy(quietMs?: number): boolean {
    return this.client?.addressingBusy?.(quietMs) ?? false;
  }

  instanceLimits(instanceType: string): Promise<InstanceLimits> {
    return this.call("DescribeInstanceTypes", () => ({ ...this.limitsOf(instanceType) }));
  }

  instanceEnis(instanceId: string): Promise<Eni[]> {
    return this.call("DescribeNetworkInterfaces", () => [...this.enis.values()].filter((e) => e.attachment?.instanceId === instanceId).map(toPortEni));
  }

  eni(eniId: string): Promise<Eni | undefined> {
    return this.call("DescribeNetworkInterfaces", () => {
      const e = this.enis.get(eniId);
      return e && toPortEni(e);
    });
  }

  leakedEniCandidates(vpcId: string, clusterName?: string): Promise<Eni[]> {
    return this.call("DescribeNetworkInterfaces", () =>
      [...this.enis.values()]
        .filter((e) => e.tags["node.k8s.amazonaws.com/instance_id"] !== undefined && e.status === "available" && e.vpcId === vpcId)
        .filter((e) => clusterName === undefined || e.tags["cluster.k8s.amazonaws.com/name"] === clusterName)
        .map(toPortEni),
    );
  }

  subnets(vpcId: string, az: string): Promise<Subnet[]> {
    return this.call("DescribeSubnets", () =>
      [...this.subnetsById.keys()].map((id) => this.subnetView(id)!).filter((s) => s.vpcId === vpcId && s.az === az),
    );
  }

  usedDeviceIndexes(instanceId: string): Promise<number[]> {
    return this.call("DescribeInstances", () => {
      this.instanceOf(instanceId);
      return [...this.enis.values()].flatMap((e) => (e.attachment?.instanceId === instanceId ? [e.attachment.deviceIndex] : []));
    });
  }

  createEni(req: CreateEniRequest): Promise<Eni> {
    return this.call(
      "CreateNetworkInterface",
      () => {
        const s = this.subnetOf(req.subnetId);
        const groups = this.groupsIn(s.subnet.vpcId, req.securityGroups);
        if (!Number.isInteger(req.count) || req.count < 0) throw new Refusal("InvalidParameterValue", `Invalid value '${req.count}' for the address count`);
        if (req.family === "ipv4" && 1 + req.count > UNATTACHED_IPV4_SLOTS) throw new Refusal("PrivateIpAddressLimitExceeded", "Number of private addresses will exceed limit.");
        // All or nothing: addresses are taken before the ENI exists, and given back if the rest fails.
        const eni = this.newEni(s, { description: req.description, securityGroups: groups, tags: req.tags });
        try {
          if (req.count > 0) this.addCidrs(eni, req.family, req.cidrKind, req.count);
        } catch (err) {
          s.addresses.release([eni.primaryIp]);
          this.enis.delete(eni.id);
          throw err;
        }
        return toPortEni(eni);
      },
      { yieldToOthers: req.yieldToOthers === true },
      () => `+${req.count} ${req.cidrKind}`,
    );
  }

  attachEni(eniId: string, instanceId: string, deviceIndex: number): Promise<string> {
    return this.call("AttachNetworkInterface", () => {
      const e = this.eniOf(eniId);
      const inst = this.instanceOf(instanceId);
      const limits = this.limitsOf(inst.instanceType);
      if (!Number.isInteger(deviceIndex) || deviceIndex < 0) throw new Refusal("InvalidParameterValue", `Invalid value '${deviceIndex}' for DeviceIndex`);
      if (e.attachment) throw new Refusal("InvalidNetworkInterface.InUse", `Interface: [${e.id}] in use.`);
      if (e.az !== inst.az) throw new Refusal("InvalidParameterValue", "The network interface and the instance must be in the same availability zone");
      const attached = [...this.enis.values()].filter((x) => x.attachment?.instanceId === instanceId);
      if (deviceIndex >= limits.maxEnis || attached.length >= limits.maxEnis) throw new Refusal("AttachmentLimitExceeded", `Interface count ${attached.length + 1} can not exceed the limit for ${inst.instanceType}`);
      if (attached.some((x) => x.attachment!.deviceIndex === deviceIndex)) throw new Refusal("InvalidParameterValue", `Instance '${instanceId}' already has an interface attached at device index '${deviceIndex}'.`);
      if (ipv4Slots(e) > limits.ipv4PerEni || ipv6Slots(e) > limits.ipv6PerEni) throw new Refusal("PrivateIpAddressLimitExceeded", "Number of private addresses will exceed limit.");
      const now = this.clock.now();
      e.attachment = { id: this.id("eni-attach"), instanceId, deviceIndex, networkCard: 0, status: "attaching", attachedAtMs: now, readyAtMs: now + this.timing.attachDelayMs, deleteOnTermination: false };
      e.status = "attaching";
      delete e.detachedAtMs;
      this.settle();
      return e.attachment.id;
    }, undefined, () => `@${deviceIndex}`);
  }

  setDeleteOnTermination(eniId: string, attachmentId: string): Promise<void> {
    return this.call("ModifyNetworkInterfaceAttribute", () => {
      const e = this.eniOf(eniId);
      if (e.attachment?.id !== attachmentId) throw new Refusal("InvalidAttachmentID.NotFound", `Interface attachment '${attachmentId}' does not exist`);
      e.attachment.deleteOnTermination = true;
    }, undefined, () => this.at(eniId));
  }

  detachEni(attachmentId: string): Promise<void> {
    return this.call("DetachNetworkInterface", () => {
      const e = [...this.enis.values()].find((x) => x.attachment?.id === attachmentId);
      if (!e?.attachment) throw new Refusal("InvalidAttachmentID.NotFound", `Interface attachment '${attachmentId}' does not exist`);
      if (e.attachment.deviceIndex === 0) throw new Refusal("OperationNotPermitted", "The network interface at device index 0 cannot be detached.");
      const { instanceId, status } = e.attachment;
      delete e.attachment;
      e.status = "available";
      e.detachedAtMs = this.clock.now();
      if (status === "attached") this.changed(instanceId);
    }, undefined, () => {
      const e = [...this.enis.values()].find((x) => x.attachment?.id === attachmentId);
      return e ? `@${e.attachment!.deviceIndex}` : "";
    });
  }

  deleteEni(eniId: string): Promise<void> {
    return this.call("DeleteNetworkInterface", () => {
      const e = this.eniOf(eniId);
      if (e.attachment || (e.detachedAtMs !== undefined && this.clock.now() < e.detachedAtMs + this.timing.deleteAfterDetachMs))
        throw new Refusal("InvalidParameterValue", `Network interface '${e.id}' is currently in use.`);
      const s = this.subnetOf(e.subnetId);
      s.addresses.release([e.primaryIp, ...e.secondaryIps, ...e.ipv4Prefixes]);
      s.addresses.releaseIpv6([...e.ipv6Addresses, ...e.ipv6Prefixes]);
      this.enis.delete(eniId);
    });
  }

  assign(eniId: string, family: "ipv4" | "ipv6", kind: CidrKind, count: number): Promise<string[]> {
    return this.call(family === "ipv6" ? "AssignIpv6Addresses" : "AssignPrivateIpAddresses", () => {
      const e = this.eniOf(eniId);
      if (!Number.isInteger(count) || count < 1) throw new Refusal("InvalidParameterValue", `Invalid value '${count}' for the address count`);
      const added = this.addCidrs(e, family, kind, count);
      if (e.attachment?.status === "attached") this.changed(e.attachment.instanceId);
      return added;
    }, undefined, () => `${this.at(eniId)} +${count} ${kind}`);
  }

  unassign(eniId: string, family: "ipv4" | "ipv6", kind: CidrKind, cidrs: string[]): Promise<void> {
    return this.call(family === "ipv6" ? "UnassignIpv6Addresses" : "UnassignPrivateIpAddresses", () => {
      const e = this.eniOf(eniId);
      const field = family === "ipv6" ? (kind === "prefix" ? "ipv6Prefixes" : "ipv6Addresses") : kind === "prefix" ? "ipv4Prefixes" : "secondaryIps";
      const held = kind === "address" ? cidrs.map((c) => c.split("/")[0]!) : cidrs;
      if (cidrs.length === 0 || held.some((c) => !e[field].includes(c))) throw new Refusal("InvalidParameterValue", `Some of the specified addresses are not assigned to interface ${e.id}`);
      e[field] = e[field].filter((c) => !held.includes(c));
      const s = this.subnetOf(e.subnetId);
      if (family === "ipv6") s.addresses.releaseIpv6(held);
      else s.addresses.release(held);
      if (e.attachment?.status === "attached") this.changed(e.attachment.instanceId);
    }, undefined, () => `${this.at(eniId)} -${cidrs.length} ${kind}`);
  }

  createTags(resourceIds: string[], tags: Tags): Promise<void> {
    return this.call("CreateTags", () => {
      const targets = resourceIds.map((id) => {
        if (this.enis.has(id)) return this.enis.get(id)!.tags;
        if (this.subnetsById.has(id)) return this.subnetsById.get(id)!.subnet.tags;
        if (id.startsWith("eni-")) throw new Refusal("InvalidNetworkInterfaceID.NotFound", `The networkInterface ID '${id}' does not exist`);
        throw new Refusal("InvalidID", `The ID '${id}' is not valid`);
      });
      for (const t of targets) Object.assign(t, tags);
    }, undefined, () => resourceIds.map((id) => this.at(id) || id).join(","));
  }

  /** Adds `count` addresses or prefixes within the ENI's slot limit (its instance type's, or the unattached one). */
  private addCidrs(e: FakeEni, family: "ipv4" | "ipv6", kind: CidrKind, count: number): string[] {
    const inst = e.attachment ? this.instanceOf(e.attachment.instanceId) : undefined;
    const limits = inst ? this.limitsOf(inst.instanceType) : { ipv4PerEni: UNATTACHED_IPV4_SLOTS, ipv6PerEni: UNATTACHED_IPV4_SLOTS };
    const full = family === "ipv6" ? ipv6Slots(e) + count > limits.ipv6PerEni : ipv4Slots(e) + count > limits.ipv4PerEni;
    if (full) throw new Refusal("PrivateIpAddressLimitExceeded", "Number of private addresses will exceed limit.");
    const a = this.subnetOf(e.subnetId).addresses;
    if (family === "ipv6" && kind === "prefix") {
      const added = a.takeIpv6Prefixes(count);
      e.ipv6Prefixes.push(...added);
      return added;
    }
    if (family === "ipv6") {
      const added = a.takeIpv6Addresses(count);
      e.ipv6Addresses.push(...added);
      return added.map((ip) => `${ip}/128`);
    }
    if (kind === "prefix") {
      const added = a.takePrefixes(count);
      e.ipv4Prefixes.push(...added);
      return added;
    }
    const added = a.takeAddresses(count);
    e.secondaryIps.push(...added);
    return added.map((ip) => `${ip}/32`);
  }
}
