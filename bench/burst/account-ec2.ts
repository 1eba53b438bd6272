/**
 * One AWS account's EC2 as the benchmarks see it, over sim-ec2's model on the simulated
 * clock: every call of every node draws from the account's shared token buckets (sim-ec2's
 * throttle.ts, of AWS's sizes as shared/aws-ec2-buckets.ts gives them) and is answered RequestLimitExceeded when its bucket is empty,
 * as EC2 does; otherwise it takes its latency and runs against the model. Each node reaches
 * it through its own client policy: the project's Ec2Guard (client-side buckets, jittered
 * backoff), or upstream's AWS SDK for Go v2 standard retryer (10 attempts, exponential
 * jitter backoff capped at 20 s, a 500-token retry quota, no client-side bucket).
 * The model ports of bench/pool-churn do the model work; this file adds only the account
 * side and the client policies around them.
 */
import { Ec2Model, instanceTypeLimits, TokenBuckets } from "../../deploy/local/sim-ec2/index.ts";
import { awsBucketOf } from "../../shared/aws-ec2-buckets.ts";
import { Ec2CallError, type CreateEniRequest, type Ec2Port, type Eni, type InstanceLimits, type Subnet, type Tags } from "../../services/pool-manager/src/core/ports.ts";
import type { CidrKind } from "../../services/pool-manager/src/core/pool-state.ts";
import { ModelEc2 } from "../pool-churn/model-ports.ts";
import type { Sim } from "./sim.ts";

/** Simulated EC2 answer times (ms). Create + attach call + attach delay ≈ 1 s. */
export const LATENCY_MS: Record<string, number> = {
  default: 120,
  CreateNetworkInterface: 450,
  AttachNetworkInterface: 250,
  AssignPrivateIpAddresses: 300,
  UnassignPrivateIpAddresses: 250,
  DetachNetworkInterface: 300,
  DeleteNetworkInterface: 250,
  ModifyNetworkInterfaceAttribute: 150,
  DescribeNetworkInterfaces: 150,
};
/** A throttled call is answered quickly. */
const THROTTLED_ANSWER_MS = 30;
const MUTATING = /^(Create|Attach|Detach|Delete|Modify|Assign|Unassign)/;

export interface ActionCount {
  ok: number;
  throttled: number;
  error: number;
}

/** The pool-churn model port over one sim-ec2 model, answering at once and never throttling: the account does both. */
export function innerPort(model: Ec2Model, sim: Sim): ModelEc2 {
  return new ModelEc2(model, sim.clock(), { latencyMs: { default: 0 }, bucketScale: 1e6 });
}

export class Ec2Account {
  readonly buckets: TokenBuckets;
  readonly calls: Record<string, ActionCount> = {};

  constructor(
    readonly sim: Sim,
    private readonly latencyMs: Record<string, number> = LATENCY_MS,
  ) {
    this.buckets = new TokenBuckets(() => sim.t);
  }

  resetCounts(): void {
    for (const k of Object.keys(this.calls)) delete this.calls[k];
  }

  async serve<T>(action: string, fn: () => Promise<T>): Promise<T> {
    const c = (this.calls[action] ??= { ok: 0, throttled: 0, error: 0 });
    if (!this.buckets.take(awsBucketOf(action, true))) {
      c.throttled++;
      await this.sim.sleep(THROTTLED_ANSWER_MS);
      throw new Ec2CallError("RequestLimitExceeded", "Request limit exceeded.", action, 503);
    }
    await this.sim.sleep(this.latencyMs[action] ?? this.latencyMs.default ?? 100);
    try {
      const out = await fn();
      c.ok++;
      return out;
    } catch (err) {
      c.error++;
      throw err;
    }
  }

  totals(): { calls: number; mutating: number; throttled: number; errors: number } {
    let calls = 0;
    let mutating = 0;
    let throttled = 0;
    let errors = 0;
    for (const [a, c] of Object.entries(this.calls)) {
      const n = c.ok + c.throttled + c.error;
      calls += n;
      if (MUTATING.test(a)) mutating += n;
      throttled += c.throttled;
      errors += c.error;
    }
    return { calls, mutating, throttled, errors };
  }
}

/**
 * How a node's client sends one call: retries, backoff, client-side buckets; `addressingBusy`
 * as the project's SdkEc2 answers it from its Ec2Guard (absent for upstream's SDK retryer).
 */
export type ClientPolicy = (<T>(api: string, send: () => Promise<T>, o?: { yieldToOthers?: boolean }) => Promise<T>) & { addressingBusy?: (quietMs?: number) => boolean };

const RETRYABLE = new Set(["RequestLimitExceeded", "Throttling", "ThrottlingException", "InternalError", "ServiceUnavailable", "Unavailable"]);

/**
 * aws-sdk-go-v2's standard retryer as upstream configures it (awssession: retry.NewStandard,
 * RetryMaxAttempts 10): retry throttling and 5xx after rand·min(2^attempt, 20) s; each retry
 * costs 5 tokens of a 500-token quota (a success refunds the cost, or adds 1 when it needed
 * no retry); with the quota spent the error goes straight to the caller.
 */
export function sdkStandardRetry(sim: Sim, random: () => number, maxAttempts = 10): ClientPolicy & { quotaExhausted: number } {
  let quota = 500;
  const policy = (async <T>(_api: string, send: () => Promise<T>): Promise<T> => {
    let retried = false;
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await send();
        quota = Math.min(500, quota + (retried ? 5 : 1));
        return out;
      } catch (err) {
        const code = err instanceof Ec2CallError ? err.code : "";
        const retryable = RETRYABLE.has(code) || (err instanceof Ec2CallError && (err.status ?? 0) >= 500);
        if (!retryable || attempt >= maxAttempts) throw err;
        if (quota < 5) {
          policy.quotaExhausted++;
          throw err;
        }
        quota -= 5;
        retried = true;
        await sim.sleep(Math.round(random() * Math.min(2 ** attempt, 20) * 1000));
      }
    }
  }) as ClientPolicy & { quotaExhausted: number };
  policy.quotaExhausted = 0;
  return policy;
}

/** A node's Ec2Port: its client policy, then the account (buckets, latency), then the model. */
export class NodeEc2 implements Ec2Port {
  constructor(
    private readonly account: Ec2Account,
    private readonly inner: ModelEc2,
    private readonly client: ClientPolicy,
  ) {}

  private send<T>(api: string, fn: () => Promise<T>, o?: { yieldToOthers?: boolean }): Promise<T> {
    return this.client(api, () => this.account.serve(api, fn), o);
  }

  addressingBusy(quietMs?: number): boolean {
    return this.client.addressingBusy?.(quietMs) ?? false;
  }

  instanceLimits(instanceType: string): Promise<InstanceLimits> {
    return this.send("DescribeInstanceTypes", async () => {
      const l = instanceTypeLimits(instanceType);
      if (!l) throw new Ec2CallError("InvalidInstanceType", `no limits for ${instanceType}`, "DescribeInstanceTypes", 400);
      // The port's ENI limit is card 0's (the only card managed), as the SDK adapter reads it.
      return { instanceType, maxEnis: l.cardEnis[0] ?? l.maxEnis, ipv4PerEni: l.ipv4PerEni, ipv6PerEni: l.ipv6PerEni, trunking: l.trunking, vcpus: l.vcpus, hypervisor: l.hypervisor, networkCards: l.networkCards };
    });
  }
  instanceEnis(instanceId: string): Promise<Eni[]> {
    return this.send("DescribeNetworkInterfaces", () => this.inner.instanceEnis(instanceId));
  }
  eni(eniId: string): Promise<Eni | undefined> {
    return this.send("DescribeNetworkInterfaces", () => this.inner.eni(eniId));
  }
  async leakedEniCandidates(): Promise<Eni[]> {
    return [];
  }
  async subnets(): Promise<Subnet[]> {
    return [];
  }
  usedDeviceIndexes(instanceId: string): Promise<number[]> {
    return this.send("DescribeInstances", () => this.inner.usedDeviceIndexes(instanceId));
  }
  createEni(req: CreateEniRequest): Promise<Eni> {
    return this.send("CreateNetworkInterface", () => this.inner.createEni(req), { yieldToOthers: req.yieldToOthers === true });
  }
  attachEni(eniId: string, instanceId: string, deviceIndex: number): Promise<string> {
    return this.send("AttachNetworkInterface", () => this.inner.attachEni(eniId, instanceId, deviceIndex));
  }
  setDeleteOnTermination(eniId: string, attachmentId: string): Promise<void> {
    return this.send("ModifyNetworkInterfaceAttribute", () => this.inner.setDeleteOnTermination(eniId, attachmentId));
  }
  detachEni(attachmentId: string): Promise<void> {
    return this.send("DetachNetworkInterface", () => this.inner.detachEni(attachmentId));
  }
  deleteEni(eniId: string): Promise<void> {
    return this.send("DeleteNetworkInterface", () => this.inner.deleteEni(eniId));
  }
  assign(eniId: string, family: "ipv4" | "ipv6", kind: CidrKind, count: number): Promise<string[]> {
    return this.send("AssignPrivateIpAddresses", () => this.inner.assign(eniId, family, kind, count));
  }
  unassign(eniId: string, family: "ipv4" | "ipv6", kind: CidrKind, cidrs: string[]): Promise<void> {
    return this.send("UnassignPrivateIpAddresses", () => this.inner.unassign(eniId, family, kind, cidrs));
  }
  createTags(resourceIds: string[], tags: Tags): Promise<void> {
    return this.send("CreateTags", () => this.inner.createTags(resourceIds, tags));
  }
}
