/**
 * PolicyEndpoints, cluster-wide: list, then watch from the list's resourceVersion. The
 * watch is re-listed on 410 Gone and every `resyncMs` (a missed event cannot last), resumed
 * after a clean close, and the whole session retried with backoff on failure. Objects that
 * do not parse are skipped with the offending field logged.
 */
import { policyEndpoint, POLICY_ENDPOINT_GROUP, POLICY_ENDPOINT_PLURAL, POLICY_ENDPOINT_VERSION, type PolicyEndpoint } from "../../../../shared/contracts/policy.ts";
import type { KubeRest } from "../../../../shared/kube-rest.ts";

export const PE_PATH = `/apis/${POLICY_ENDPOINT_GROUP}/${POLICY_ENDPOINT_VERSION}/${POLICY_ENDPOINT_PLURAL}`;

export interface EndpointSink {
  replaceEndpoints(list: PolicyEndpoint[]): void;
  putEndpoint(pe: PolicyEndpoint): void;
  dropEndpoint(namespace: string, name: string): void;
}

export interface WatchLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface PeWatchOptions {
  /** Re-list this often even when the watch is healthy (default 5 min). */
  resyncMs?: number;
  retry?: { firstMs: number; maxMs: number };
  onEvent?: (type: string) => void;
}

type Api = Pick<KubeRest, "request" | "watch">;

export class PolicyEndpointWatch {
  private stopped = false;
  private ctl: AbortController | undefined;
  private wake: (() => void) | undefined;
  /** True between a successful list and the session's end. */
  live = false;
  lists = 0;
  lastError: string | undefined;

  constructor(
    private readonly api: Api,
    private readonly sink: EndpointSink,
    private readonly log: WatchLog,
    private readonly o: PeWatchOptions = {},
  ) {}

  private parse(obj: unknown): PolicyEndpoint | undefined {
    const r = policyEndpoint.safeParse(obj);
    if (r.success) return r.data;
    const meta = (obj as { metadata?: { namespace?: string; name?: string } })?.metadata;
    const issue = r.error.issues[0]!;
    this.log.warn({ policyEndpoint: `${meta?.namespace}/${meta?.name}`, field: issue.path.join("."), err: issue.message }, "PolicyEndpoint skipped: does not parse");
    return undefined;
  }

  /** One list + watch session; resolves when it must re-list, rejects on failure. */
  private async session(): Promise<void> {
    const list = await this.api.request<{ items?: unknown[]; metadata?: { resourceVersion?: string } }>("GET", PE_PATH);
    this.lists++;
    this.sink.replaceEndpoints((list.items ?? []).map((o) => this.parse(o)).filter((p): p is PolicyEndpoint => p !== undefined));
    this.live = true;
    this.lastError = undefined;
    let rv = list.metadata?.resourceVersion;
    const resyncAt = Date.now() + (this.o.resyncMs ?? 300_000);
    for (;;) {
      const started = Date.now();
      let resync: ReturnType<typeof setTimeout> | undefined;
      const end = await new Promise<{ error?: unknown; gone?: boolean; resync?: boolean }>((resolve) => {
        let gone = false;
        let timedResync = false;
        void this.api
          .watch(
            PE_PATH,
            { allowWatchBookmarks: true, ...(rv ? { resourceVersion: rv } : {}) },
            (type, o) => {
              this.o.onEvent?.(type);
              const obj = o as { code?: number; metadata?: { resourceVersion?: string; namespace?: string; name?: string } };
              if (type === "ERROR") {
                gone = obj.code === 410;
                return;
              }
              if (obj.metadata?.resourceVersion) rv = obj.metadata.resourceVersion;
              if (type === "BOOKMARK") return;
              if (type === "DELETED") {
                if (obj.metadata?.namespace && obj.metadata.name) this.sink.dropEndpoint(obj.metadata.namespace, obj.metadata.name);
                return;
              }
              const pe = this.parse(o);
              if (pe) this.sink.putEndpoint(pe);
            },
            (err: unknown) => resolve(timedResync ? { resync: true } : err ? { error: err } : { gone }),
          )
          .then((ctl) => {
            this.ctl = ctl;
            if (this.stopped) ctl.abort();
            resync = setTimeout(() => {
              timedResync = true;
              ctl.abort();
            }, Math.max(0, resyncAt - Date.now()));
            resync.unref?.();
          });
      });
      clearTimeout(resync);
      this.ctl = undefined;
      if (this.stopped || end.resync) return;
      if (end.gone) {
        this.log.info({}, "PolicyEndpoint watch expired (410 Gone): re-listing");
        return;
      }
      if (end.error) throw end.error;
      if (Date.now() >= resyncAt) return;
      // Closed cleanly (server timeout): resume from the last resourceVersion.
      if (Date.now() - started < 1_000) await this.pause(this.o.retry?.firstMs ?? 1_000);
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      let t: ReturnType<typeof setTimeout> | undefined = undefined;
      const done = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
      t = setTimeout(done, ms);
      this.wake = done;
    });
  }

  /** Starts the list/watch loop; returns at once. */
  start(): void {
    void this.run();
  }

  private async run(): Promise<void> {
    const first = this.o.retry?.firstMs ?? 1_000;
    const max = this.o.retry?.maxMs ?? 30_000;
    let delay = first;
    while (!this.stopped) {
      try {
        await this.session();
        delay = first;
      } catch (err) {
        this.live = false;
        if (this.stopped) return;
        this.lastError = err instanceof Error ? err.message : String(err);
        // The last known PolicyEndpoints stay in force while the API server is away.
        this.log.warn({ err: this.lastError, retryMs: delay }, "PolicyEndpoint list/watch failed: keeping the last known state, retrying");
        await this.pause(delay);
        delay = Math.min(delay * 2, max);
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.ctl?.abort();
    this.wake?.();
  }
}
