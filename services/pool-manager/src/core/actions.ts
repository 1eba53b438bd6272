/** What the planner asks the executor to do. Each action says why, in an operator's words. */
import type { CidrKind } from "./pool-state.ts";

export type PlanAction =
  /** Add `count` secondary addresses or prefixes to an attached ENI, in one call. */
  | { kind: "assign"; eniId: string; cidrKind: CidrKind; count: number; reason: string }
  /** Create an ENI with `count` addresses or prefixes (one call), attach it, set it up. */
  | { kind: "createEni"; cidrKind: CidrKind; count: number; reason: string }
  /**
   * Drain, then unassign these CIDRs of one ENI (one call). `leftover`: CIDRs the node no longer
   * uses (the other kind after ENABLE_PREFIX_DELEGATION was switched, an excluded primary ENI's).
   */
  | { kind: "release"; eniId: string; cidrs: string[]; reason: string; leftover?: boolean }
  /** Drain all its CIDRs, tear the link down, detach and delete the ENI. */
  | { kind: "deleteEni"; eniId: string; reason: string };

export function describeAction(a: PlanAction): string {
  switch (a.kind) {
    case "assign":
      return `assign ${a.count} ${a.cidrKind}(es) to ${a.eniId}: ${a.reason}`;
    case "createEni":
      return `create an ENI with ${a.count} ${a.cidrKind}(es): ${a.reason}`;
    case "release":
      return `release ${a.cidrs.join(", ")} from ${a.eniId}: ${a.reason}`;
    case "deleteEni":
      return `delete ${a.eniId}: ${a.reason}`;
  }
}
