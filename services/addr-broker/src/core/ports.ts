/** What the broker needs from its peers, in the project's own types. */
import type { CapacitySnapshot } from "../../../../shared/contracts/capacity.ts";
import type { PodWiring } from "../../../../shared/contracts/netconfig.ts";
import type { UsageReport } from "../../../../shared/contracts/usage.ts";

export interface WireAnswer {
  hostVeth: string;
  podMac: string;
  podIfIndex: number;
  hostMac: string;
}

export interface NetConfigPort {
  /** How long a call waits for net-config's answer before it fails. */
  readonly callTimeoutMs: number;
  wire(p: PodWiring): Promise<WireAnswer>;
  /** Best effort, succeeds when already gone; netns may be "". */
  unwire(p: Omit<PodWiring, "netns"> & { netns: string }): Promise<void>;
  check(p: PodWiring): Promise<{ ok: boolean; problems: string[] }>;
  /** Host veths present on the node; undefined when it cannot be known right now. */
  hostVeths(): Promise<Set<string> | undefined>;
}

/** The policy agent (policy-agent.sock): told of each new pod beside its wiring and of each deleted pod beside its teardown. */
export interface PolicyAgentPort {
  readonly socketPath: string;
  enforce(req: { podNamespace: string; podName: string; mode: "standard" | "strict"; hostVeth: string; addresses: string[] }): Promise<{ success: boolean }>;
  forget(req: { podNamespace: string; podName: string }): Promise<{ success: boolean }>;
}

export interface PoolManagerPort {
  /** Long poll: resolves with a snapshot newer than `since` (or of another epoch), or the same after waitMs. */
  getCapacity(since: number, epoch: string | undefined, waitMs: number): Promise<CapacitySnapshot>;
  postUsage(u: UsageReport): Promise<void>;
}

/** Logger subset (pino-compatible). */
export interface Log {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export const silentLog: Log = { info() {}, warn() {}, error() {}, debug() {} };

/** Peer errors that mean "not reachable right now" (try again later) rather than "refused". */
export function isUnreachable(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === "UNREACHABLE" || code === "ECONNREFUSED" || code === "ENOENT" || (err instanceof Error && err.name === "TimeoutError");
}
