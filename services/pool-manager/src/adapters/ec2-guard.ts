/**
 * Every EC2 call goes through here: a client-side token bucket per API class that adapts to
 * the account's throttling (AIMD, see token-bucket.ts), retries of throttling and 5xx with
 * jittered exponential backoff, a metric per call, and a short log of recent errors for
 * /debug. Clock, sleep and randomness are injected.
 */
import type { PoolMetrics } from "../app/metrics.ts";
import { Ec2CallError } from "../core/ports.ts";
import { AIMD, BucketSet, scaledBuckets, type AdaptSpec, type BucketName, type BucketSpec } from "../core/token-bucket.ts";

/** Answers that mean the account's bucket for this API is empty. */
export const THROTTLING = new Set(["RequestLimitExceeded", "Throttling", "ThrottlingException"]);

export const RETRYABLE = new Set(["RequestLimitExceeded", "Throttling", "ThrottlingException", "InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable", "NETWORK", "TimeoutError"]);

export interface GuardOptions {
  buckets?: Record<BucketName, BucketSpec>;
  /** How the buckets adapt to throttling (default AIMD: ×0.5 on throttling, floor 0.1/s, +2% of the configured rate per success and +1% per second idle). */
  adapt?: AdaptSpec;
  maxRetries?: number;
  /**
   * Tokens a call that yields to others takes from its bucket (default 4): at the adapted
   * rate of a crowded account it is tried a quarter as often as an urgent call; on a calm
   * account (bucket full) it waits no more.
   */
  yieldTokens?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  metrics?: PoolMetrics;
  /** Told of every EC2 error (e.g. to raise a Kubernetes event on UnauthorizedOperation). */
  onError?: (e: Ec2CallError) => void;
}

export interface RecentError {
  at: number;
  api: string;
  code: string;
  message: string;
}

export class Ec2Guard {
  readonly buckets: BucketSet;
  readonly recentErrors: RecentError[] = [];
  /** Per API: calls made (each attempt), throttled answers, retries, total bucket wait. */
  readonly counts: Record<string, { calls: number; errors: number; throttled: number; waitMs: number }> = {};
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(private readonly opts: GuardOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? ((ms) => Bun.sleep(ms));
    this.random = opts.random ?? Math.random;
    this.buckets = new BucketSet(opts.buckets ?? scaledBuckets(), this.now(), opts.adapt ?? AIMD);
    this.publishRates();
  }

  /** The buckets' current refill rates on the gauge. */
  private publishRates(): void {
    const g = this.opts.metrics?.clientRate;
    if (g) for (const [bucket, rate] of Object.entries(this.buckets.rates())) g.set({ bucket }, rate);
  }

  /** One EC2 call: client bucket, retries; `yieldToOthers` calls take `yieldTokens` per attempt. */
  async call<T>(api: string, fn: () => Promise<T>, o: { yieldToOthers?: boolean } = {}): Promise<T> {
    const maxRetries = this.opts.maxRetries ?? 5;
    const tokens = o.yieldToOthers ? Math.max(1, this.opts.yieldTokens ?? 4) : 1;
    const c = (this.counts[api] ??= { calls: 0, errors: 0, throttled: 0, waitMs: 0 });
    for (let attempt = 0; ; attempt++) {
      const wait = this.buckets.take(api, this.now(), tokens);
      this.opts.metrics?.bucketWait.observe({ api }, wait / 1000);
      if (wait > 0) {
        c.waitMs += wait;
        await this.sleep(wait);
      }
      const started = performance.now();
      c.calls++;
      this.opts.metrics?.ec2Requests.inc({ fn: api });
      try {
        const out = await fn();
        this.buckets.succeeded(api, this.now());
        this.publishRates();
        this.opts.metrics?.apiLatency.observe({ api, error: "false", status: "200" }, performance.now() - started);
        return out;
      } catch (err) {
        const e = toCallError(api, err);
        c.errors++;
        if (THROTTLING.has(e.code)) {
          c.throttled++;
          this.buckets.throttled(api, this.now());
          this.publishRates();
        }
        this.opts.metrics?.apiLatency.observe({ api, error: "true", status: String(e.status ?? 0) }, performance.now() - started);
        this.opts.metrics?.ec2Errors.inc({ fn: api });
        this.opts.metrics?.awsErrors.inc({ api, error: e.code });
        this.recentErrors.push({ at: this.now(), api, code: e.code, message: e.message });
        if (this.recentErrors.length > 50) this.recentErrors.shift();
        try {
          this.opts.onError?.(e);
        } catch {
          // an observer never breaks the call path
        }
        const retryable = RETRYABLE.has(e.code) || (e.status !== undefined && e.status >= 500);
        if (!retryable || attempt >= maxRetries) throw e;
        await this.sleep(this.backoff(attempt));
      }
    }
  }

  /**
   * The account throttled this node's addressing calls (ENI create/delete, address assign,
   * ModifyNetworkInterfaceAttribute) within `quietMs`: the shared budget is spent, and work
   * that can wait (DeleteOnTermination, an ENI ahead of need) should leave it to pods.
   */
  addressingBusy(quietMs = 60_000): boolean {
    return this.buckets.throttledWithin("addressing", this.now(), quietMs);
  }

  /** Full-jitter exponential backoff. */
  backoff(attempt: number): number {
    const base = this.opts.baseDelayMs ?? 200;
    const cap = this.opts.maxDelayMs ?? 10_000;
    return Math.round(this.random() * Math.min(cap, base * 2 ** attempt));
  }
}

function toCallError(api: string, err: unknown): Ec2CallError {
  if (err instanceof Ec2CallError) return err;
  const e = err as { name?: string; Code?: string; message?: string; $metadata?: { httpStatusCode?: number }; code?: string };
  const status = e?.$metadata?.httpStatusCode;
  const code = e?.Code ?? (e?.name && e.name !== "Error" ? e.name : undefined) ?? (status === undefined ? "NETWORK" : `HTTP_${status}`);
  return new Ec2CallError(code, e?.message ?? String(err), api, status);
}
