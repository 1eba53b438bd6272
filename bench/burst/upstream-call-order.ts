/**
 * Upstream ipamd's EC2 call order, for the benchmarks' upstream baseline: an Ec2Port around a
 * node's port that makes the pool-manager's executor call EC2 the way upstream does.
 *   - A new ENI's device index: upstream reads it (DescribeInstances) after the create, before
 *     each attach; the executor reads it before the create and reuses the answer for 10 min.
 *     Here the executor's read is answered without a call (it adds the pool's own ENIs and the
 *     attaches in flight itself), and the attach reads the instance first: a failed read fails
 *     the attach, and the executor deletes the ENI again, as upstream does.
 *   - An assign that fails for throttling or a 5xx: upstream tries once more at once for one
 *     address; the executor does that only after other failures. Here the wrapper makes that
 *     try. Upstream tries once more in all, so when that try fails for another reason and the
 *     executor, at the same instant, asks for one address on that ENI itself, it gets that
 *     answer again without a call.
 */
import { isRetryable } from "../../services/pool-manager/src/app/ec2-failures.ts";
import type { CidrKind } from "../../services/pool-manager/src/core/pool-state.ts";
import type { CreateEniRequest, Ec2Port, Eni, InstanceLimits, Subnet, Tags } from "../../services/pool-manager/src/core/ports.ts";

export class UpstreamCallOrder implements Ec2Port {
  /** Per ENI: the failed one-address try this wrapper made, and when. */
  private readonly spentRetry = new Map<string, { atMs: number; err: unknown }>();

  constructor(
    private readonly inner: Ec2Port,
    private readonly now: () => number,
  ) {}

  async usedDeviceIndexes(): Promise<number[]> {
    return [];
  }

  async attachEni(eniId: string, instanceId: string, deviceIndex: number): Promise<string> {
    await this.inner.usedDeviceIndexes(instanceId);
    return this.inner.attachEni(eniId, instanceId, deviceIndex);
  }

  async assign(eniId: string, family: "ipv4" | "ipv6", kind: CidrKind, count: number): Promise<string[]> {
    const spent = this.spentRetry.get(eniId);
    this.spentRetry.delete(eniId);
    if (spent && count === 1 && spent.atMs === this.now()) throw spent.err;
    try {
      return await this.inner.assign(eniId, family, kind, count);
    } catch (err) {
      if (count <= 1 || !isRetryable(err)) throw err;
      try {
        return await this.inner.assign(eniId, family, kind, 1);
      } catch (err2) {
        if (!isRetryable(err2)) this.spentRetry.set(eniId, { atMs: this.now(), err: err2 });
        throw err2;
      }
    }
  }

  addressingBusy(quietMs?: number): boolean {
    return this.inner.addressingBusy?.(quietMs) ?? false;
  }
  instanceLimits(instanceType: string): Promise<InstanceLimits> {
    return this.inner.instanceLimits(instanceType);
  }
  instanceEnis(instanceId: string): Promise<Eni[]> {
    return this.inner.instanceEnis(instanceId);
  }
  eni(eniId: string): Promise<Eni | undefined> {
    return this.inner.eni(eniId);
  }
  leakedEniCandidates(vpcId: string, clusterName?: string): Promise<Eni[]> {
    return this.inner.leakedEniCandidates(vpcId, clusterName);
  }
  subnets(vpcId: string, az: string): Promise<Subnet[]> {
    return this.inner.subnets(vpcId, az);
  }
  createEni(req: CreateEniRequest): Promise<Eni> {
    return this.inner.createEni(req);
  }
  setDeleteOnTermination(eniId: string, attachmentId: string): Promise<void> {
    return this.inner.setDeleteOnTermination(eniId, attachmentId);
  }
  detachEni(attachmentId: string): Promise<void> {
    return this.inner.detachEni(attachmentId);
  }
  deleteEni(eniId: string): Promise<void> {
    return this.inner.deleteEni(eniId);
  }
  unassign(eniId: string, family: "ipv4" | "ipv6", kind: CidrKind, cidrs: string[]): Promise<void> {
    return this.inner.unassign(eniId, family, kind, cidrs);
  }
  createTags(resourceIds: string[], tags: Tags): Promise<void> {
    return this.inner.createTags(resourceIds, tags);
  }
}
