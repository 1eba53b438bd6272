/**
 * The reachability half of the pool-manager's Kubernetes adapter (kube.ts): the connection
 * state (connecting, connected, unreachable, failing, misconfigured), request timeouts, the
 * debounced "re-plan now" callback and the supervisor's interruptible pause. Every API answer
 * proves reachability; a network failure, timeout or 5xx proves the opposite; a 4xx is an
 * answer, not an outage.
 */
import type { KubeRest } from "../../../../shared/kube-rest.ts";
import { describeKubeError } from "./kube-node.ts";

export type KubeLog = (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;

export interface KubeConnectionOptions {
  nodeName: string | undefined;
  log?: KubeLog;
  /** Called (debounced) when demand, node or reachability changed: re-plan now. */
  onChange?: () => void;
  requestTimeoutMs?: number;
}

type State =
  | { phase: "connecting" }
  | { phase: "connected"; sinceMs: number }
  | { phase: "unreachable" | "failing"; error: string; retryAtMs: number; sinceMs: number }
  | { phase: "misconfigured"; error: string };

export abstract class KubeConnection {
  readonly url: string;
  protected state: State = { phase: "connecting" };
  protected stopped = false;
  private wake: (() => void) | undefined;
  private changeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(protected readonly api: KubeRest, private readonly conn: KubeConnectionOptions) {
    this.url = api.server;
  }

  protected get nodeName(): string {
    if (!this.conn.nodeName) throw new Error("MY_NODE_NAME is not set: this node cannot be found in the Kubernetes API");
    return this.conn.nodeName;
  }

  protected log(level: "info" | "warn" | "error", msg: string, f?: Record<string, unknown>): void {
    this.conn.log?.(level, msg, { kubeApi: this.url, ...f });
  }

  protected timed<T>(p: Promise<T>, what: string): Promise<T> {
    const ms = this.conn.requestTimeoutMs ?? 10_000;
    let t: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`${what}: no answer in ${ms} ms`)), ms)));
    return Promise.race([p, timeout]).finally(() => clearTimeout(t));
  }

  /** Called when the API answers again after it did not. */
  protected onReachableAgain(): void {}

  /** Every API answer proves reachability; a network failure or 5xx proves the opposite. */
  protected reachable(): void {
    if (this.state.phase !== "connected") {
      if (this.state.phase === "unreachable") this.log("info", "Kubernetes API reachable again");
      this.onReachableAgain();
      this.state = { phase: "connected", sinceMs: Date.now() };
      this.changed();
    }
  }

  /** Records a failed session: `outage` when the API could not be reached at all. */
  protected failed(err: unknown, retryInMs: number, outage: boolean): void {
    const error = describeKubeError(err);
    const phase = outage ? "unreachable" : "failing";
    const first = this.state.phase !== phase;
    this.state = { phase, error, retryAtMs: Date.now() + retryInMs, sinceMs: first || !("sinceMs" in this.state) ? Date.now() : this.state.sinceMs };
    const what = outage ? `Kubernetes API unreachable at ${this.url}: ${error}` : `Kubernetes API at ${this.url} answered: ${error}`;
    this.log(first ? "error" : "warn", `${what}; retrying in ${Math.ceil(retryInMs / 1000)} s (pool work that needs no Kubernetes goes on)`);
  }

  /** The API could not be reached (network error, timeout, 5xx); a 4xx is an answer, not an outage. */
  protected isOutage(err: unknown): boolean {
    const code = (err as { code?: unknown }).code;
    return typeof code !== "number" || code >= 500;
  }

  protected changed(): void {
    if (!this.conn.onChange || this.changeTimer) return;
    this.changeTimer = setTimeout(() => {
      this.changeTimer = undefined;
      if (!this.stopped) this.conn.onChange?.();
    }, 50);
  }

  /** Human-readable reachability, e.g. "kubernetes: unreachable at http://…: HTTP 503, retrying in 4 s". */
  statusText(): string {
    const s = this.state;
    if (s.phase === "connected") return `kubernetes: connected to ${this.url} as node ${this.conn.nodeName ?? "(MY_NODE_NAME unset)"}`;
    if (s.phase === "connecting") return `kubernetes: connecting to ${this.url}`;
    if (s.phase === "misconfigured") return `kubernetes: ${s.error}`;
    const inS = Math.max(0, Math.ceil((s.retryAtMs - Date.now()) / 1000));
    if (s.phase === "failing") return `kubernetes: ${this.url} answered ${s.error}, retrying in ${inS} s`;
    return `kubernetes: unreachable at ${this.url}: ${s.error}, retrying in ${inS} s`;
  }

  connected = (): boolean => this.state.phase === "connected";

  /** Waits `ms`, or less when stop() wakes it. */
  protected pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  /** Stops the loop: wakes a pause, drops a pending change callback. */
  protected stopConnection(): void {
    this.stopped = true;
    this.wake?.();
    if (this.changeTimer) clearTimeout(this.changeTimer);
  }
}
