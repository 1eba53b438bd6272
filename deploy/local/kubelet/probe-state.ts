// A probe's settings with the kubelet's defaults, and its result as the thresholds decide it:
// a result flips after `successThreshold` successes or `failureThreshold` failures in a row.
// Before any flip a readiness probe counts as failed (not ready), a liveness probe as
// succeeded, a startup probe as unknown. Pure.
import type { Probe } from "./pod-types.ts";
import { PodSpecError } from "./spec-error.ts";

export type ProbeKind = "liveness" | "readiness" | "startup";

export class ProbeSpecError extends PodSpecError {
  constructor(field: string, message: string) {
    super("KUBELET_BAD_PROBE", field, message);
  }
}

export interface ProbeTiming {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

function seconds(value: number | undefined, fallback: number, min: number, field: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min) throw new ProbeSpecError(field, `${JSON.stringify(value)} must be an integer >= ${min}`);
  return v;
}

export function probeTiming(p: Probe, kind: ProbeKind, field: string): ProbeTiming {
  const kinds = [p.exec, p.httpGet, p.tcpSocket].filter((h) => h !== undefined).length;
  if (kinds !== 1) throw new ProbeSpecError(field, "exactly one of exec, httpGet, tcpSocket is required");
  const successThreshold = seconds(p.successThreshold, 1, 1, `${field}.successThreshold`);
  if (kind !== "readiness" && successThreshold !== 1) throw new ProbeSpecError(`${field}.successThreshold`, `must be 1 for a ${kind} probe`);
  return {
    initialDelayMs: seconds(p.initialDelaySeconds, 0, 0, `${field}.initialDelaySeconds`) * 1000,
    periodMs: seconds(p.periodSeconds, 10, 1, `${field}.periodSeconds`) * 1000,
    timeoutMs: seconds(p.timeoutSeconds, 1, 1, `${field}.timeoutSeconds`) * 1000,
    successThreshold,
    failureThreshold: seconds(p.failureThreshold, 3, 1, `${field}.failureThreshold`),
  };
}

export class ProbeCounter {
  /** true: success, false: failure, undefined: unknown. */
  result: boolean | undefined;
  private successes = 0;
  private failures = 0;

  constructor(
    readonly kind: ProbeKind,
    readonly timing: ProbeTiming,
  ) {
    this.result = kind === "readiness" ? false : kind === "liveness" ? true : undefined;
  }

  /** Counts one probe; true when the result changed. */
  record(ok: boolean): boolean {
    if (ok) {
      this.successes++;
      this.failures = 0;
    } else {
      this.failures++;
      this.successes = 0;
    }
    const before = this.result;
    if (ok && this.successes >= this.timing.successThreshold) this.result = true;
    if (!ok && this.failures >= this.timing.failureThreshold) this.result = false;
    return this.result !== before;
  }

  /** When the n-th probe (0-based) of a container started at startedMs runs. */
  static dueAt(timing: ProbeTiming, startedMs: number, n: number): number {
    return startedMs + timing.initialDelayMs + n * timing.periodMs;
  }
}
