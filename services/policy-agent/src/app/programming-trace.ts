/**
 * Where a PolicyEndpoint change's programming time goes, for the latest changes: when the
 * agent's watch delivered it, when the apply that took it started (after any apply in flight),
 * how long the kernel transaction took, and when the apply was done. Wall-clock epoch
 * milliseconds with fractions, comparable with other processes' on the same machine (the
 * bench lines them up with the API server's and the controller's). /debug shows them.
 */
const KEEP = 128;

export interface ProgrammedChange {
  /** namespace/name of the PolicyEndpoint, and the resourceVersion seen. */
  endpoint: string;
  resourceVersion?: string;
  /** The watch event reached the agent. */
  seenAt: number;
  /** The apply that took it started (its resolution, then the kernel transaction). */
  applyStartedAt: number;
  /** The kernel transaction's own time (0: nothing to write). */
  transactionMs: number;
  doneAt: number;
}

export const epochMs = () => performance.timeOrigin + performance.now();

export class ProgrammingTrace {
  private pending = new Map<string, { seenAt: number; resourceVersion?: string }>();
  private readonly recent: ProgrammedChange[] = [];

  seen(endpoint: string, resourceVersion: string | undefined): void {
    if (this.pending.size >= KEEP) return; // a relist's worth of changes is not traced one by one
    this.pending.set(endpoint, { seenAt: epochMs(), ...(resourceVersion ? { resourceVersion } : {}) });
  }

  /** The changes an apply starting now takes. */
  take(): { startedAt: number; changes: Map<string, { seenAt: number; resourceVersion?: string }> } {
    const changes = this.pending;
    this.pending = new Map();
    return { startedAt: epochMs(), changes };
  }

  /** The apply done (failed: its changes wait for the next). */
  done(taken: ReturnType<ProgrammingTrace["take"]>, ok: boolean, transactionMs: number): void {
    if (!ok) {
      for (const [k, v] of taken.changes) if (!this.pending.has(k)) this.pending.set(k, v);
      return;
    }
    const doneAt = epochMs();
    for (const [endpoint, c] of taken.changes) this.recent.push({ endpoint, ...c, applyStartedAt: taken.startedAt, transactionMs, doneAt });
    if (this.recent.length > KEEP) this.recent.splice(0, this.recent.length - KEEP);
  }

  list(): ProgrammedChange[] {
    return [...this.recent];
  }
}
