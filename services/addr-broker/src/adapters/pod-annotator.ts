/**
 * ANNOTATE_POD_IP: after a successful ADD the pod gets `vpc.amazonaws.com/pod-ips: <ip>`
 * through the Kubernetes API, as upstream's ipamd does; on DEL the value is set to "" (kept,
 * not removed, as upstream does), only when it still names the released address, and a pod
 * already gone is fine. Off the hot path: annotate() and clear() only
 * queues; the patch runs afterwards with retries; a failure is logged and counted and never
 * reaches the ADD. The only file of addr-broker that talks to the API, through
 * shared/kube-rest.ts (Bun's fetch: the cluster CA and client certificates reach the
 * connection, which client-node's CoreV1Api under Bun did not; ≈ 10 MiB less than loading
 * client-node; docs/ARCHITECTURE.md section 1b). Imported dynamically by createPodAnnotator,
 * so a broker without ANNOTATE_POD_IP loads no Kubernetes client at all.
 */
import type { Config } from "../../../../shared/config/types.ts";
import type { Log } from "../core/ports.ts";

export const POD_IPS_ANNOTATION = "vpc.amazonaws.com/pod-ips";

export interface PodAnnotatorPort {
  /** Queues the annotation; returns at once, never throws. */
  annotate(namespace: string, name: string, ip: string): void;
  /** Queues setting it to "" if it still holds `releasedIp` (DEL); returns at once, never throws. */
  clear(namespace: string, name: string, releasedIp: string): void;
  status(): unknown;
}

export interface PodAnnotatorOptions {
  log: Log;
  /** Told of every finished annotation ("ok") or given-up one ("error"). */
  onResult?: (result: "ok" | "error") => void;
  /** Attempts per annotation (default 5) and the first backoff, doubled up to maxMs. */
  retry?: { attempts: number; firstMs: number; maxMs: number };
  requestTimeoutMs?: number;
}

/** Sets the annotation to `value`, or (`ifEquals`) only when it currently holds that value; "skipped" when not. */
type Patch = (namespace: string, name: string, value: string, ifEquals?: string) => Promise<"done" | "skipped">;

/** Builds the annotator from the node's Kubernetes settings; undefined (and says why) when no API is configured. */
export async function createPodAnnotator(k: Config["kubernetes"], o: PodAnnotatorOptions): Promise<PodAnnotatorPort | undefined> {
  const { kubeRestFrom } = await import("../../../../shared/kube-rest.ts");
  const api = kubeRestFrom(k);
  if (!api) {
    o.log.warn({}, "ANNOTATE_POD_IP=true but no Kubernetes API is configured (KUBECONFIG, CLUSTER_ENDPOINT or KUBERNETES_SERVICE_HOST): pods are not annotated");
    return undefined;
  }
  const patch: Patch = async (namespace, name, value, ifEquals) => {
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`;
    if (ifEquals !== undefined) {
      const pod = await api.request<{ metadata?: { annotations?: Record<string, string> } }>("GET", path);
      if (pod.metadata?.annotations?.[POD_IPS_ANNOTATION] !== ifEquals) return "skipped";
    }
    await api.request("PATCH", path, { body: { metadata: { annotations: { [POD_IPS_ANNOTATION]: value } } }, merge: true });
    return "done";
  };
  return new PodAnnotator(patch, { ...o, server: api.server });
}

interface Job {
  /** The value to write ("" on DEL). */
  ip: string;
  /** DEL: write only while the annotation still holds this address. */
  releasedIp?: string;
  /** Bumped by a newer annotate() of the same pod: the older job stops. */
  generation: number;
}

export class PodAnnotator implements PodAnnotatorPort {
  private readonly jobs = new Map<string, Job>();
  private generation = 0;
  private stopped = false;
  readonly counts = { ok: 0, error: 0, retried: 0 };
  /** DELs whose pod's annotation named another address (or none): left as it was. */
  skipped = 0;
  lastError: { pod: string; error: string; at: string } | undefined;

  constructor(
    private readonly patch: Patch,
    private readonly o: PodAnnotatorOptions & { server: string },
  ) {}

  annotate(namespace: string, name: string, ip: string): void {
    this.queue(namespace, name, { ip, generation: ++this.generation });
  }

  clear(namespace: string, name: string, releasedIp: string): void {
    this.queue(namespace, name, { ip: "", releasedIp, generation: ++this.generation });
  }

  private queue(namespace: string, name: string, job: Job): void {
    if (this.stopped) return;
    const key = `${namespace}/${name}`;
    this.jobs.set(key, job);
    // A macrotask: the ADD's answer is written before the first request goes out.
    setTimeout(() => void this.run(namespace, name, key, job), 0);
  }

  /** Queued or retrying annotations (for tests and /debug). */
  get pending(): number {
    return this.jobs.size;
  }

  stop(): void {
    this.stopped = true;
    this.jobs.clear();
  }

  status(): unknown {
    return { server: this.o.server, pending: this.jobs.size, ...this.counts, skipped: this.skipped, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }

  private async run(namespace: string, name: string, key: string, job: Job): Promise<void> {
    const r = this.o.retry ?? { attempts: 5, firstMs: 200, maxMs: 5_000 };
    let delay = r.firstMs;
    for (let attempt = 1; ; attempt++) {
      if (this.jobs.get(key) !== job) return; // superseded or stopped
      try {
        const r = await this.timed(this.patch(namespace, name, job.ip, job.releasedIp));
        if (this.jobs.get(key) === job) this.jobs.delete(key);
        if (r === "skipped") {
          this.skipped++;
          this.o.log.info({ pod: key, released: job.releasedIp }, `${POD_IPS_ANNOTATION} no longer names the released address: left as it is`);
          return;
        }
        this.counts.ok++;
        this.o.onResult?.("ok");
        return;
      } catch (err) {
        const error = describe(err);
        if (job.releasedIp !== undefined && isNotFound(err)) {
          // DEL of a pod the API no longer has: nothing to clear (upstream: not an error).
          if (this.jobs.get(key) === job) this.jobs.delete(key);
          return;
        }
        if (attempt >= r.attempts || isNotFound(err)) {
          if (this.jobs.get(key) === job) this.jobs.delete(key);
          this.counts.error++;
          this.lastError = { pod: key, error, at: new Date().toISOString() };
          this.o.onResult?.("error");
          this.o.log.warn({ pod: key, ip: job.ip, attempts: attempt, err: error, kubeApi: this.o.server }, `could not annotate the pod with ${POD_IPS_ANNOTATION}`);
          return;
        }
        this.counts.retried++;
        await Bun.sleep(delay);
        delay = Math.min(delay * 2, r.maxMs);
      }
    }
  }

  private timed<T>(p: Promise<T>): Promise<T> {
    const ms = this.o.requestTimeoutMs ?? 10_000;
    let t: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`no answer in ${ms} ms`)), ms)));
    return Promise.race([p, timeout]).finally(() => clearTimeout(t));
  }
}

function isNotFound(err: unknown): boolean {
  return (err as { code?: unknown })?.code === 404;
}

function describe(err: unknown): string {
  const e = err as { code?: unknown; body?: unknown; message?: unknown };
  if (typeof e?.code === "number") {
    const body = typeof e.body === "string" ? e.body : JSON.stringify(e.body ?? "");
    return `HTTP ${e.code}: ${body.slice(0, 200)}`;
  }
  return err instanceof Error ? err.message : String(err);
}
