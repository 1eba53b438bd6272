// The kubelet's side of the Kubernetes API, over fetch: list-then-watch of the pods bound to
// its node (resumed from the last resourceVersion, relisted when that is too old), pod status
// through pods/status, the final delete of a pod it tore down, Events, ConfigMaps, and its
// Node's status.
import { lines } from "./lines.ts";
import { assertPodName } from "./names.ts";
import type { ConfigMap, Pod } from "./pod-types.ts";

export class KubeApiError extends Error {
  readonly code = "KUBELET_API";
  constructor(readonly status: number, readonly reason: string, message: string) {
    super(message);
  }
}

export type PodEvent = { type: "ADDED" | "MODIFIED" | "DELETED"; pod: Pod } | { type: "SYNCED"; pods: Pod[] };

const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function ns(namespace: string | undefined): string {
  const n = namespace ?? "default";
  if (!NAMESPACE.test(n)) throw new KubeApiError(400, "BadRequest", `namespace: ${JSON.stringify(n)} is not a namespace name`);
  return n;
}

export class KubeApi {
  constructor(
    readonly endpoint: string,
    private readonly requestTimeoutMs = 10_000,
  ) {}

  private async request(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<unknown> {
    const res = await fetch(`${this.endpoint}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": contentType },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.requestTimeoutMs),
    });
    const text = await res.text();
    let doc: unknown;
    try {
      doc = text ? JSON.parse(text) : undefined;
    } catch {
      doc = undefined;
    }
    if (!res.ok) {
      const s = doc as { reason?: string; message?: string } | undefined;
      throw new KubeApiError(res.status, s?.reason ?? String(res.status), `${method} ${path}: ${res.status} ${s?.message ?? text.slice(0, 200)}`);
    }
    return doc;
  }

  getPod(namespace: string | undefined, name: string): Promise<Pod> {
    return this.request("GET", `/api/v1/namespaces/${ns(namespace)}/pods/${assertPodName(name)}`) as Promise<Pod>;
  }

  async getConfigMap(namespace: string | undefined, name: string): Promise<ConfigMap | undefined> {
    try {
      return (await this.request("GET", `/api/v1/namespaces/${ns(namespace)}/configmaps/${assertPodName(name, "configMap name")}`)) as ConfigMap;
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  /** The named ConfigMaps of a namespace that exist, by name. */
  async configMaps(namespace: string | undefined, names: readonly string[]): Promise<Map<string, ConfigMap>> {
    const out = new Map<string, ConfigMap>();
    for (const name of new Set(names)) {
      const cm = await this.getConfigMap(namespace, name);
      if (cm) out.set(name, cm);
    }
    return out;
  }

  /** Replaces the pod's status (a merge patch of the whole status: its lists are replaced). */
  patchPodStatus(pod: Pod, status: unknown): Promise<Pod> {
    return this.request("PATCH", `/api/v1/namespaces/${ns(pod.metadata.namespace)}/pods/${assertPodName(pod.metadata.name)}/status`, { status }, "application/merge-patch+json") as Promise<Pod>;
  }

  /** The kubelet's last word on a pod it tore down: delete now, only this incarnation (UID). */
  async deletePodNow(pod: Pod): Promise<void> {
    try {
      await this.request("DELETE", `/api/v1/namespaces/${ns(pod.metadata.namespace)}/pods/${assertPodName(pod.metadata.name)}?gracePeriodSeconds=0`, {
        kind: "DeleteOptions",
        apiVersion: "v1",
        gracePeriodSeconds: 0,
        preconditions: { uid: pod.metadata.uid },
      });
    } catch (e) {
      if (e instanceof KubeApiError && (e.status === 404 || e.status === 409)) return;
      throw e;
    }
  }

  createEvent(namespace: string, event: Record<string, unknown>): Promise<unknown> {
    return this.request("POST", `/api/v1/namespaces/${ns(namespace)}/events`, event);
  }

  patchEvent(namespace: string, name: string, patch: Record<string, unknown>): Promise<unknown> {
    return this.request("PATCH", `/api/v1/namespaces/${ns(namespace)}/events/${assertPodName(name, "event name")}`, patch, "application/merge-patch+json");
  }

  getNode(name: string): Promise<{ status?: { conditions?: unknown[] } }> {
    return this.request("GET", `/api/v1/nodes/${assertPodName(name, "node name")}`) as Promise<{ status?: { conditions?: unknown[] } }>;
  }

  patchNodeStatus(name: string, status: Record<string, unknown>): Promise<unknown> {
    return this.request("PATCH", `/api/v1/nodes/${assertPodName(name, "node name")}/status`, { status }, "application/merge-patch+json");
  }

  /**
   * Lists the pods bound to `nodeName` (a SYNCED event with all of them), then follows
   * changes; reconnects from the last resourceVersion, relists when it is too old. Ends when
   * `signal` aborts.
   */
  async watchNodePods(nodeName: string, onEvent: (e: PodEvent) => void, onError: (message: string) => void, signal: AbortSignal): Promise<void> {
    const selector = `fieldSelector=${encodeURIComponent(`spec.nodeName=${assertPodName(nodeName, "node name")}`)}`;
    let rv: string | undefined;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (rv === undefined) {
          const list = (await this.request("GET", `/api/v1/pods?${selector}`)) as { metadata?: { resourceVersion?: string }; items?: Pod[] };
          rv = list.metadata?.resourceVersion ?? "0";
          onEvent({ type: "SYNCED", pods: list.items ?? [] });
        }
        const res = await fetch(`${this.endpoint}/api/v1/pods?${selector}&watch=true&allowWatchBookmarks=true&resourceVersion=${rv}`, { signal });
        if (!res.ok || !res.body) throw new KubeApiError(res.status, "WatchFailed", `watch pods: ${res.status}`);
        failures = 0;
        for await (const line of lines(res.body)) {
          const e = JSON.parse(line) as { type: string; object: Pod & { code?: number } };
          if (e.type === "ERROR") {
            // 410 Gone/Expired: the history no longer reaches back; start over with a list.
            rv = undefined;
            throw new KubeApiError(e.object.code ?? 410, "Expired", "watch expired; relisting");
          }
          rv = e.object.metadata?.resourceVersion ?? rv;
          if (e.type === "ADDED" || e.type === "MODIFIED" || e.type === "DELETED") onEvent({ type: e.type, pod: e.object });
        }
      } catch (e) {
        if (signal.aborted) return;
        failures++;
        onError((e as Error).message);
      }
      if (!signal.aborted) await Bun.sleep(Math.min(200 * 2 ** Math.min(failures, 5), 5000));
    }
  }
}
