/**
 * The policy engine: turns the node's policy state into kernel rules (nftables, one table
 * of the agent's own) and reads back what is programmed. The agent's service decides
 * *what* each pod may do (services/policy-agent/src/resolve*); the engine only makes the
 * kernel say exactly that.
 */
import type { NodePolicyState, PodPolicyState, PolicyProtocol } from "../../../../shared/contracts/policy.ts";

export interface ApplyReport {
  /** Pods whose chains were (re)written by this call. */
  changedPods: string[];
  /** Pods whose chains were removed. */
  removedPods: string[];
  /** Wall time of the kernel transaction. */
  durationMs: number;
}

/** A flow to explain: seen from `pod`, in `direction`, with the remote end `remote`. */
export interface FlowQuery {
  direction: "ingress" | "egress";
  remote: string;
  protocol: PolicyProtocol | "ICMP";
  port?: number;
}

export interface FlowVerdict {
  allowed: boolean;
  /** Why, in words: "no policy isolates egress", "rule 2 (10.0.0.0/16 except 10.0.1.0/24, TCP 53)", "node address", "strict: no policy selects the pod yet". */
  reason: string;
  /** Index of the allowing rule in the direction's rules, when a rule allowed it. */
  ruleIndex?: number;
}

export interface PolicyEngine {
  /**
   * Make the kernel hold exactly `state`: pods absent from it lose their chains, changed
   * pods are rewritten, unchanged ones are left alone, rules edited by hand are repaired.
   * One kernel transaction per call (never a half-applied pod). When a change denies a flow
   * that was allowed, its established connections stop within a second.
   */
  apply(state: NodePolicyState): Promise<ApplyReport>;
  /**
   * The pods' rules as read back from the kernel (for /debug and repair checks): every pod
   * the kernel holds chains for, then each of `known` it holds none for, with what a miss
   * gives it (the table's default: open, or strict's catch-all deny) — unless there is no
   * table or its base chains are not as written, when what a miss gives is not known.
   */
  programmed(known?: ReadonlyArray<Pick<PodPolicyState, "namespace" | "name" | "hostVeth" | "addresses">>): Promise<PodPolicyState[]>;
  /**
   * True when an apply would write nothing for `hostVeth`: the kernel, as the engine's last
   * transaction left it, holds nothing for it, no call is queued or running, and `state` (if
   * given) is what a miss in the dispatch maps gives (the mode's default). Synchronous: the
   * agent's ADD and DEL of such pods need no transaction. Absent: always apply.
   */
  needsNothing?(hostVeth: string, state?: PodPolicyState): boolean;
  /** Remove the agent's table entirely (tests, uninstall). */
  removeAll(): Promise<void>;
}

/** The engine's verdict for one flow, computed from the state alone (same semantics as the kernel rules). */
export type ExplainFlow = (state: NodePolicyState, pod: PodPolicyState, flow: FlowQuery) => FlowVerdict;
