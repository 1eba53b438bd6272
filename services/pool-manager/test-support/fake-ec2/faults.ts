/**
 * What a test injects into the fake EC2, per API action: errors (the next few calls, or a
 * share of them, spread evenly: with 0.3, the 4th, 7th, 10th ... call), latency on the fake
 * clock, UnauthorizedOperation, and the account's throttling (AWS's per-account buckets,
 * scaled; an empty bucket answers RequestLimitExceeded).
 */
import { AWS_EC2_BUCKETS, awsBucketOf, type AwsBucketName } from "../../../../shared/aws-ec2-buckets.ts";
import { TokenBucket } from "../../src/core/token-bucket.ts";
import { Refusal } from "./refusal.ts";

/**
 * Errors of the service rather than of the request: the ones a test injects; and the
 * subnet's InsufficientCidrBlocks (a fragmented subnet, for a given number of calls: the
 * fake's allocator would otherwise need a subnet shaped just so, for just so long).
 */
export type InjectedCode = "InternalError" | "ServiceUnavailable" | "Unavailable" | "RequestLimitExceeded" | "InsufficientCidrBlocks";

interface Injection {
  code: InjectedCode;
  /** Calls left to fail (undefined: every call, subject to `rate`). */
  times?: number;
  /** Share of calls that fail, 0–1 (default 1). */
  rate: number;
  /** Failures owed: each call adds `rate`; a whole one fails the call. */
  owed: number;
}

export class Ec2Faults {
  private readonly errors = new Map<string, Injection>();
  private readonly delays = new Map<string, number>();
  private readonly denied = new Set<string>();
  private buckets: Map<AwsBucketName, TokenBucket> | undefined;

  constructor(private readonly now: () => number) {}

  /** `api` answers `code`: the next `times` calls, or (without `times`) a `rate` share of all calls until healed. */
  fail(api: string, code: InjectedCode, o: { times?: number; rate?: number } = {}): this {
    const rate = o.rate ?? 1;
    if (!(rate >= 0 && rate <= 1)) throw new Error(`fail: rate must be within 0–1 (got ${o.rate})`);
    if (o.times !== undefined && !(Number.isInteger(o.times) && o.times > 0)) throw new Error(`fail: times must be a whole number > 0 (got ${o.times})`);
    this.errors.set(api, { code, rate, owed: 0, ...(o.times !== undefined ? { times: o.times } : {}) });
    return this;
  }

  /** No more injected errors for `api` (every action when none is named). */
  heal(api?: string): this {
    if (api === undefined) this.errors.clear();
    else this.errors.delete(api);
    return this;
  }

  /** Every call of `api` takes `ms` of fake time before it is answered (0 removes it). */
  latency(api: string, ms: number): this {
    if (!(ms >= 0)) throw new Error(`latency: ms must be ≥ 0 (got ${ms})`);
    if (ms === 0) this.delays.delete(api);
    else this.delays.set(api, ms);
    return this;
  }

  /** The caller's role lacks the IAM permission for `api` (or has it again). */
  unauthorized(api: string, denied = true): this {
    if (denied) this.denied.add(api);
    else this.denied.delete(api);
    return this;
  }

  /** The account throttles at AWS's bucket sizes × `scale` (capacity at least 1 token); `false` stops it. */
  throttle(scale: number | false = 1): this {
    if (scale === false) {
      this.buckets = undefined;
      return this;
    }
    if (!(scale > 0)) throw new Error(`throttle: scale must be > 0 (got ${scale})`);
    const at = this.now();
    this.buckets = new Map(
      (Object.keys(AWS_EC2_BUCKETS) as AwsBucketName[]).map((name) => {
        const spec = AWS_EC2_BUCKETS[name];
        return [name, new TokenBucket({ capacity: Math.max(1, spec.capacity * scale), refillPerSec: spec.refillPerSec * scale }, at, { decrease: 1, floorPerSec: 0, increaseFraction: 0 })];
      }),
    );
    return this;
  }

  delayOf(api: string): number {
    return this.delays.get(api) ?? 0;
  }

  /** Refuses the call as the account would before doing anything: IAM, then the bucket. */
  admit(api: string): void {
    if (this.denied.has(api)) throw new Refusal("UnauthorizedOperation", `You are not authorized to perform this operation. (ec2:${api})`);
    const bucket = this.buckets?.get(awsBucketOf(api, true));
    if (bucket) {
      if (bucket.level(this.now()) < 1) throw new Refusal("RequestLimitExceeded", "Request limit exceeded.");
      bucket.take(this.now());
    }
  }

  /** An injected error for this call, if one is due. */
  injected(api: string): Refusal | undefined {
    const inj = this.errors.get(api);
    if (!inj) return undefined;
    inj.owed += inj.rate;
    if (inj.owed < 1 - 1e-9) return undefined;
    inj.owed -= 1;
    if (inj.times !== undefined && --inj.times <= 0) this.errors.delete(api);
    return new Refusal(inj.code, `injected ${inj.code}`);
  }
}
