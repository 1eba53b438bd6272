/**
 * The pool's conditions (core/pool-state.ts PoolConditions) and their one owner: what the
 * rules read about the node besides its ENIs, changed only through the operations below, each
 * named for the event that changes it. The planner gets a copy (`view`).
 */
import { EMPTY_HISTORY, recordDemand, recordScheduled } from "../core/demand-history.ts";
import { historyKeepMs } from "../core/demand-policy.ts";
import type { PoolConditions } from "../core/pool-state.ts";

/** EC2's answers that say the subnet has run out (of addresses, of aligned /28 blocks). */
export type SubnetShortage = "InsufficientFreeAddressesInSubnet" | "InsufficientCidrBlocks";

export class PoolConditionsTracker {
  private c: PoolConditions = { node: { unschedulable: false, terminating: false } };

  /** A copy for the planner. */
  view(): PoolConditions {
    return { ...this.c, node: { ...this.c.node } };
  }

  /** CIDRs were released now (the shrink interval counts from here). */
  shrunk(nowMs: number): void {
    this.c.lastShrinkAtMs = nowMs;
  }

  /** EC2 refused addresses or prefixes because the subnet has none left (the planner's insufficient-CIDR windows). */
  subnetRanOut(code: SubnetShortage, nowMs: number): void {
    if (code === "InsufficientCidrBlocks") this.c.insufficientPrefixesAtMs = nowMs;
    else this.c.insufficientAddressesAtMs = nowMs;
  }

  /** The node's unschedulable taint as Kubernetes last showed it. */
  nodeUnschedulable(unschedulable: boolean): void {
    this.c.node.unschedulable = unschedulable;
  }

  /** Why no new ENI may be created (no ENIConfig, the Kubernetes API away), or undefined: ENIs may be created. */
  get newEniBlocked(): string | undefined {
    return this.c.newEniBlocked;
  }

  blockNewEnis(reason: string): void {
    this.c.newEniBlocked = reason;
  }

  allowNewEnis(): void {
    delete this.c.newEniBlocked;
  }

  /**
   * The first usage report of this process: addr-broker's miss counter counts over its own
   * life, so the misses it counted before are the history's baseline, not a burst.
   */
  missBaseline(missesTotal: number): void {
    this.c.demand = { ...(this.c.demand ?? EMPTY_HISTORY), missesSeen: missesTotal };
  }

  /** A usage report: addresses assigned now and addr-broker's cumulative misses; `arrivalsFromUsage` false while the pod watch counts arrivals. */
  usageReported(nowMs: number, assigned: number, missesTotal: number, arrivalsFromUsage: boolean): void {
    this.c.demand = recordDemand(this.c.demand, nowMs, assigned, missesTotal, historyKeepMs(), arrivalsFromUsage);
  }

  /** The pod watch saw `count` more pods scheduled to the node than at its last read. */
  podsScheduled(nowMs: number, count: number): void {
    this.c.demand = recordScheduled(this.c.demand, nowMs, count, historyKeepMs());
  }

  /** Whether the account throttles this node's addressing calls now, and whether it did within the last 10 min. */
  accountThrottling(now: boolean, lately: boolean): void {
    this.c.ec2Busy = now;
    this.c.ec2BusyLately = lately;
  }

  /** The account throttled this node's addressing calls at the last cycle's look. */
  get ec2Busy(): boolean {
    return this.c.ec2Busy ?? false;
  }
}
