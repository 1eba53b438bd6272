/**
 * Back-off between attempts after failures (pool cycles after a throttled or failed
 * action, start-up after IMDS/EC2 failed): exponential from `firstMs`, capped at `maxMs`,
 * with "equal jitter" (half fixed, half random) so nodes that failed together do not
 * retry together. Pure: the random draw comes in.
 */

export interface BackoffSpec {
  firstMs: number;
  maxMs: number;
}

/** Pool cycles after a throttled or failed action: 1 s → 60 s, reset by a cycle that went through. */
export const CYCLE_BACKOFF: BackoffSpec = { firstMs: 1_000, maxMs: 60_000 };
/** Start-up retries (IMDS or EC2 failing, e.g. DescribeInstanceTypes throttled): 2 s → 60 s. */
export const STARTUP_BACKOFF: BackoffSpec = { firstMs: 2_000, maxMs: 60_000 };

/** The wait after the `failures`-th failure in a row (1 = the first); `random` in [0, 1). */
export function backoffDelayMs(failures: number, spec: BackoffSpec, random: number): number {
  if (failures <= 0) return 0;
  const exp = Math.min(spec.maxMs, spec.firstMs * 2 ** Math.min(failures - 1, 30));
  const r = Math.min(Math.max(random, 0), 1);
  return Math.round(exp / 2 + (exp / 2) * r);
}
