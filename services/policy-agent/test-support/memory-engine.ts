/**
 * A PolicyEngine that keeps the programmed state in memory (the service's tests; never
 * shipped): apply makes it hold exactly the given state, `handEdit` changes it behind the
 * agent's back as a person with nft would, `failNext` makes the next apply fail, `gate` (when
 * set) holds every apply until it resolves (a slow agent).
 */
import type { NodePolicyState, PodPolicyState } from "../../../shared/contracts/policy.ts";
import type { ApplyReport, PolicyEngine } from "../src/engine/engine.ts";

const clone = <T>(v: T): T => structuredClone(v);

export class MemoryEngine implements PolicyEngine {
  private programmedPods = new Map<string, PodPolicyState>();
  nodeAddresses: string[] = [];
  applies = 0;
  private failures = 0;
  gate: Promise<void> | undefined;

  async apply(state: NodePolicyState): Promise<ApplyReport> {
    await this.gate;
    if (this.failures > 0) {
      this.failures--;
      throw new Error("memory engine: apply refused (failNext)");
    }
    this.applies++;
    const changedPods: string[] = [];
    const removedPods: string[] = [];
    const next = new Map(state.pods.map((p) => [p.hostVeth, clone(p)]));
    for (const [veth] of this.programmedPods) if (!next.has(veth)) removedPods.push(veth);
    for (const [veth, p] of next) if (JSON.stringify(this.programmedPods.get(veth)) !== JSON.stringify(p)) changedPods.push(veth);
    this.programmedPods = next;
    this.nodeAddresses = [...state.nodeAddresses];
    return { changedPods, removedPods, durationMs: 0 };
  }

  async programmed(): Promise<PodPolicyState[]> {
    return [...this.programmedPods.values()].map(clone);
  }

  async removeAll(): Promise<void> {
    this.programmedPods.clear();
  }

  /** Changes one pod's programmed rules as a hand edit would. */
  handEdit(hostVeth: string, change: Partial<Pick<PodPolicyState, "ingress" | "egress">>): void {
    const p = this.programmedPods.get(hostVeth);
    if (!p) throw new Error(`memory engine: no pod ${hostVeth}`);
    this.programmedPods.set(hostVeth, { ...p, ...clone(change) });
  }

  failNext(n = 1): void {
    this.failures = n;
  }
}
