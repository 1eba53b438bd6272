/**
 * Where each recent CNI call spent its time, for GET /debug/cni-timings ("why was this ADD
 * slow?"). Each call carries a Trace: moments on the wall clock (milliseconds since the
 * epoch, sub-millisecond precision, comparable across processes of one machine), from the
 * shim's first line of code to addr-broker's answer. The shim reports its own two moments in
 * the request; the rest are marked here as the call passes each stage. Kept in memory only,
 * the last RECENT calls: a few hundred bytes each.
 */
import { Journal } from "../../../../shared/journal.ts";

/**
 * shimStarted/shimSent: the shim's first line and the moment it sent the request.
 * received: addr-broker's handler starts (after the HTTP request was parsed and validated).
 * assigned: the address is decided (ADD). durable: the checkpoint write carrying the
 * change has reached the disk. wired/unwired: net-config answered. policy: the policy agent
 * answered (NETWORK_POLICY_ENFORCING_MODE standard or strict). answered: the outcome
 * and plugin log line are ready to go back.
 */
export const MARKS = ["shimStarted", "shimSent", "received", "assigned", "durable", "wired", "unwired", "policy", "answered"] as const;
export type Mark = (typeof MARKS)[number];

export const RECENT = 512;

/** Wall-clock milliseconds with the precision of the monotonic clock. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

export class Trace {
  readonly at: Partial<Record<Mark, number>> = {};
  constructor(shim?: { startedAt?: number | undefined; sentAt?: number | undefined }) {
    if (shim?.startedAt !== undefined) this.at.shimStarted = shim.startedAt;
    if (shim?.sentAt !== undefined) this.at.shimSent = shim.sentAt;
    this.mark("received");
  }

  mark(m: Mark): void {
    this.at[m] = wallNow();
  }

  /** Marks `m` when `p` settles, either way (a failed write or wiring still ends its stage). */
  markWhenSettled<T>(p: Promise<T>, m: Mark): Promise<T> {
    p.then(
      () => this.mark(m),
      () => this.mark(m),
    );
    return p;
  }
}

export interface CniTiming {
  command: string;
  containerId: string;
  ifName: string;
  exitCode: number;
  /** Wall-clock milliseconds (epoch) of each stage reached, rounded to microseconds. */
  at: Partial<Record<Mark, number>>;
}

export class CniTimings {
  private readonly journal = new Journal<CniTiming>(RECENT);

  record(env: Record<string, string>, exitCode: number, trace: Trace): void {
    trace.mark("answered");
    const at: Partial<Record<Mark, number>> = {};
    for (const m of MARKS) if (trace.at[m] !== undefined) at[m] = Math.round(trace.at[m]! * 1000) / 1000;
    this.journal.add({ command: env.CNI_COMMAND ?? "", containerId: env.CNI_CONTAINERID ?? "", ifName: env.CNI_IFNAME ?? "", exitCode, at });
  }

  list(): CniTiming[] {
    return this.journal.list();
  }
}
