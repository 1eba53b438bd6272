/**
 * The pool-manager's EC2 and IMDS ports over the simulated EC2 model (deploy/local/sim-ec2),
 * in-process and on a simulated clock: every call takes `latencyMs` of simulated time,
 * draws from AWS's per-account token buckets (sim-ec2's throttle.ts, of the
 * sizes in shared/aws-ec2-buckets.ts, scaled for a node's share of the account), and is counted. A throttled call waits for a token and retries,
 * as the SDK adapter's guard does; the throttled attempt is counted.
 */
import { Ec2Error, Ec2Model, TokenBuckets, type Eni as SimEni } from "../../deploy/local/sim-ec2/index.ts";
import { AWS_EC2_BUCKETS, awsBucketOf } from "../../shared/aws-ec2-buckets.ts";
import { Ec2CallError, type CreateEniRequest, type Ec2Port, type Eni, type ImdsInterface, type ImdsPort, type InstanceLimits, type Subnet, type Tags } from "../../services/pool-manager/src/core/ports.ts";
import type { CidrKind } from "../../services/pool-manager/src/core/pool-state.ts";

export interface SimClock {
  t: number;
  /** Moves simulated time forward, letting the world (pods) act in between. */
  advance(ms: number, stopOnChange?: boolean): Promise<void>;
}

export interface CallCount {
  mutating: number;
  throttled: number;
  byAction: Record<string, number>;
}

const MUTATING = /^(Create|Attach|Detach|Delete|Modify|Assign|Unassign)/;

function toPortEni(e: SimEni): Eni {
  return {
    id: e.id,
    mac: e.mac,
    subnetId: e.subnetId,
    vpcId: e.vpcId,
    description: e.description,
    status: e.status,
    interfaceType: "interface",
    ...(e.attachment ? { attachment: { id: e.attachment.id, instanceId: e.attachment.instanceId, deviceIndex: e.attachment.deviceIndex, networkCard: 0, attachedAtMs: e.attachment.attachTime, status: e.attachment.status } } : {}),
    primaryIp: e.primaryIp,
    secondaryIps: [...e.secondaryIps],
    ipv4Prefixes: [...e.ipv4Prefixes],
    ipv6Addresses: [...e.ipv6Addresses],
    ipv6Prefixes: [...e.ipv6Prefixes],
    securityGroups: [...e.groups],
    tags: { ...e.tags },
  };
}

export class ModelEc2 implements Ec2Port {
  readonly count: CallCount = { mutating: 0, throttled: 0, byAction: {} };
  private readonly buckets: TokenBuckets;

  constructor(
    private readonly model: Ec2Model,
    private readonly clock: SimClock,
    private readonly o: { latencyMs: Record<string, number>; bucketScale: number },
  ) {
    this.buckets = new TokenBuckets(() => clock.t);
    this.buckets.setScale({ capacity: o.bucketScale, refill: o.bucketScale });
  }

  private async call<T>(action: string, fn: () => T): Promise<T> {
    const bucket = awsBucketOf(action, true);
    for (;;) {
      if (MUTATING.test(action)) this.count.mutating++;
      this.count.byAction[action] = (this.count.byAction[action] ?? 0) + 1;
      if (this.buckets.take(bucket)) break;
      this.count.throttled++;
      await this.clock.advance(Math.ceil(1000 / (AWS_EC2_BUCKETS[bucket].refillPerSec * this.o.bucketScale)));
    }
    await this.clock.advance(this.o.latencyMs[action] ?? this.o.latencyMs.default ?? 100);
    this.model.settle();
    try {
      return fn();
    } catch (e) {
      if (e instanceof Ec2Error) throw new Ec2CallError(e.code, e.message, action, 400);
      throw e;
    }
  }

  async instanceLimits(instanceType: string): Promise<InstanceLimits> {
    throw new Error(`not used by the bench: ${instanceType}`);
  }
  instanceEnis(instanceId: string): Promise<Eni[]> {
    return this.call("DescribeNetworkInterfaces", () => this.model.enisOf(instanceId).map(toPortEni));
  }
  eni(eniId: string): Promise<Eni | undefined> {
    return this.call("DescribeNetworkInterfaces", () => {
      const e = this.model.state.enis[eniId];
      return e ? toPortEni(e) : undefined;
    });
  }
  async leakedEniCandidates(): Promise<Eni[]> {
    return [];
  }
  async subnets(): Promise<Subnet[]> {
    return [];
  }
  usedDeviceIndexes(instanceId: string): Promise<number[]> {
    return this.call("DescribeInstances", () => this.model.enisOf(instanceId).map((e) => e.attachment?.deviceIndex ?? 0));
  }
  createEni(req: CreateEniRequest): Promise<Eni> {
    return this.call("CreateNetworkInterface", () =>
      toPortEni(
        this.model.createNetworkInterface({
          subnetId: req.subnetId,
          description: req.description,
          groups: req.securityGroups,
          tags: req.tags,
          ...(req.cidrKind === "prefix" ? { ipv4PrefixCount: req.count } : { secondaryCount: req.count }),
        }),
      ),
    );
  }
  attachEni(eniId: string, instanceId: string, deviceIndex: number): Promise<string> {
    return this.call("AttachNetworkInterface", () => this.model.attachNetworkInterface({ eniId, instanceId, deviceIndex }).id);
  }
  setDeleteOnTermination(eniId: string, attachmentId: string): Promise<void> {
    return this.call("ModifyNetworkInterfaceAttribute", () => this.model.modifyNetworkInterfaceAttribute({ eniId, attachment: { attachmentId, deleteOnTermination: true } }));
  }
  detachEni(attachmentId: string): Promise<void> {
    return this.call("DetachNetworkInterface", () => this.model.detachNetworkInterface({ attachmentId }));
  }
  deleteEni(eniId: string): Promise<void> {
    return this.call("DeleteNetworkInterface", () => this.model.deleteNetworkInterface(eniId));
  }
  assign(eniId: string, _family: "ipv4" | "ipv6", kind: CidrKind, count: number): Promise<string[]> {
    return this.call("AssignPrivateIpAddresses", () => {
      const r = this.model.assignPrivateIpAddresses({ eniId, ...(kind === "prefix" ? { prefixCount: count } : { count }) });
      return kind === "prefix" ? r.prefixes : r.addresses.map((a) => `${a}/32`);
    });
  }
  unassign(eniId: string, _family: "ipv4" | "ipv6", kind: CidrKind, cidrs: string[]): Promise<void> {
    return this.call("UnassignPrivateIpAddresses", () =>
      this.model.unassignPrivateIpAddresses({ eniId, ...(kind === "prefix" ? { prefixes: cidrs } : { addresses: cidrs.map((c) => c.split("/")[0]!) }) }),
    );
  }
  createTags(resourceIds: string[], tags: Tags): Promise<void> {
    return this.call("CreateTags", () => this.model.createTags(resourceIds, tags));
  }
}

/** IMDS as the instance sees it at the simulated time (sim-ec2's lagging view). */
export class ModelImds implements ImdsPort {
  constructor(
    private readonly model: Ec2Model,
    private readonly clock: SimClock,
    private readonly instanceId_: string,
  ) {}
  async instanceId() {
    return this.instanceId_;
  }
  async instanceType() {
    return this.model.state.instances[this.instanceId_]!.instanceType;
  }
  async availabilityZone() {
    return this.model.state.instances[this.instanceId_]!.az;
  }
  async primaryMac() {
    return this.model.state.enis[this.model.state.instances[this.instanceId_]!.primaryEniId]!.mac;
  }
  async localIpv4() {
    return this.model.state.instances[this.instanceId_]!.privateIp;
  }
  async localIpv6() {
    return this.model.state.instances[this.instanceId_]!.ipv6Address ?? undefined;
  }
  async vpcIpv6Cidrs() {
    return this.model.state.vpcs[this.model.state.instances[this.instanceId_]!.vpcId]?.ipv6Cidrs ?? [];
  }
  async interfaces(): Promise<ImdsInterface[]> {
    await this.clock.advance(2);
    this.model.settle();
    return (this.model.imdsView(this.instanceId_, this.clock.t) ?? []) as unknown as ImdsInterface[];
  }
}
