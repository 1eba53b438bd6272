/**
 * NetworkPolicy created → rule in the kernel, stage by stage, from the times each component
 * records itself (wall-clock epoch ms, one machine): the simulated API server's store (it runs
 * in the bench's process: a subscription sees each commit), the controller's log line for the
 * policy's endpoints (its informer event, the reconcile's start, resolution done, writes done),
 * the agent's /debug trace of each PolicyEndpoint (its watch event, the apply's start, the
 * transaction's time, done), and `nft monitor`. Plus the bench process's own event-loop lag: the
 * API server shares it, so a blocked loop delays every request and watch event it serves.
 */
import { readFileSync } from "node:fs";
import type { KubeStore, StoredChange } from "../../deploy/local/sim-kube/store.ts";

export const epochNow = () => performance.timeOrigin + performance.now();

interface ControllerTiming {
  eventAt: number;
  startedAt: number;
  resolvedAt: number;
  writtenAt: number;
}

export interface AgentTrace {
  endpoint: string;
  seenAt: number;
  applyStartedAt: number;
  transactionMs: number;
  doneAt: number;
}

/** The commits of NetworkPolicies and of PolicyEndpoints (by their policy's name), first of each. */
export class StoreCommits {
  readonly policies = new Map<string, number>();
  readonly endpoints = new Map<string, { at: number; name: string }>();
  private readonly unsubscribe: () => void;

  constructor(store: KubeStore, namespace: string) {
    this.unsubscribe = store.subscribe((change: StoredChange) => {
      if (change.type !== "ADDED" || change.object.metadata.namespace !== namespace) return;
      const at = epochNow();
      const kind = (change.object as { kind?: string }).kind;
      if (kind === "NetworkPolicy" && !this.policies.has(change.object.metadata.name ?? "")) this.policies.set(change.object.metadata.name ?? "", at);
      const ref = (change.object as { spec?: { policyRef?: { name?: string } } }).spec?.policyRef?.name;
      if (kind === "PolicyEndpoint" && ref && !this.endpoints.has(ref)) this.endpoints.set(ref, { at, name: change.object.metadata.name ?? "" });
    });
  }

  close(): void {
    this.unsubscribe();
  }
}

/** The controller's "policy endpoints written" lines: policy key → the stages' times (the first write of each policy). */
export function controllerTimings(logFile: string): Map<string, ControllerTiming> {
  const out = new Map<string, ControllerTiming>();
  for (const line of readFileSync(logFile, "utf8").split("\n")) {
    if (!line.includes('"policy endpoints written"')) continue;
    try {
      const o = JSON.parse(line) as { policy?: string; timing?: ControllerTiming };
      if (o.policy && o.timing && !out.has(o.policy)) out.set(o.policy, o.timing);
    } catch {
      // a line cut by a concurrent write
    }
  }
  return out;
}

/** How late a 10 ms timer fires in this process: the event loop's blocked time. */
export class LoopLag {
  readonly lags: number[] = [];
  private last = performance.now();
  private readonly timer = setInterval(() => {
    const now = performance.now();
    this.lags.push(Math.max(0, now - this.last - 10));
    this.last = now;
  }, 10);

  stop(): number[] {
    clearInterval(this.timer);
    return this.lags;
  }
}

export const STAGES = [
  "API write → NetworkPolicy stored (sim API server)",
  "stored → controller's informer event (watch)",
  "event → reconcile started (controller's queue)",
  "reconcile started → resolved",
  "resolved → PolicyEndpoint stored (API write)",
  "PolicyEndpoint stored → agent's watch event",
  "agent's event → apply started (apply queue)",
  "apply started → done (resolve + nft)",
  "  of which the nft transaction",
  "apply done → rule seen by nft monitor",
  "PolicyEndpoint stored → bench's own watcher",
] as const;

/** One policy's stages (ms), in STAGES' order; undefined where a component recorded nothing. */
export function stagesOf(p: { writeAt: number; npStored?: number; controller?: ControllerTiming; peStored?: number; agent?: AgentTrace; ruleAt: number; benchSeen?: number }): Array<number | undefined> {
  const d = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : b - a);
  const c = p.controller;
  const a = p.agent;
  return [d(p.writeAt, p.npStored), d(p.npStored, c?.eventAt), d(c?.eventAt, c?.startedAt), d(c?.startedAt, c?.resolvedAt), d(c?.resolvedAt, p.peStored), d(p.peStored, a?.seenAt), d(a?.seenAt, a?.applyStartedAt), d(a?.applyStartedAt, a?.doneAt), a?.transactionMs, d(a?.doneAt, p.ruleAt), d(p.peStored, p.benchSeen)];
}
