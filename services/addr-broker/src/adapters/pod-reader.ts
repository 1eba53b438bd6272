/**
 * Reads this node's pods from the Kubernetes API for security groups for pods: a branch-ENI
 * pod's resources and its `vpc.amazonaws.com/pod-eni` annotation. Upstream's ipamd reads an
 * informer cache and fails the ADD when the annotation is not there yet (the kubelet then
 * retries the sandbox, upstream #3066, #2049); here an ADD waits for it by watching the pod,
 * bounded, so the pod starts when the resource controller annotates it. Through
 * shared/kube-rest.ts, as pod-annotator.ts does.
 */
import type { Config } from "../../../../shared/config/types.ts";
import type { KubeRest } from "../../../../shared/kube-rest.ts";
import type { PodView } from "../core/pod-eni.ts";

export interface PodReaderPort {
  /** The pod, or undefined when the API has none; throws when the API cannot be asked. */
  get(namespace: string, name: string): Promise<PodView | undefined>;
  /**
   * The pod as soon as `until` holds for it (now, or at a watch event), else as last seen
   * once `timeoutMs` has passed (undefined when the pod does not exist).
   */
  waitFor(namespace: string, name: string, until: (p: PodView) => boolean, timeoutMs: number): Promise<PodView | undefined>;
}

interface PodObject {
  metadata?: { uid?: string; resourceVersion?: string; annotations?: Record<string, string> };
  spec?: { containers?: Array<{ resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> } }> };
}

export function podViewOf(o: PodObject): PodView {
  const view: PodView = { annotations: o.metadata?.annotations ?? {} };
  if (o.metadata?.uid) view.uid = o.metadata.uid;
  const r = o.spec?.containers?.[0]?.resources;
  if (o.spec?.containers?.[0]) view.firstContainer = { ...(r?.requests ? { requests: r.requests } : {}), ...(r?.limits ? { limits: r.limits } : {}) };
  return view;
}

const podPath = (namespace: string, name: string) => `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`;

export class KubePodReader implements PodReaderPort {
  constructor(private readonly api: KubeRest) {}

  private async read(namespace: string, name: string): Promise<PodObject | undefined> {
    try {
      return await this.api.request<PodObject>("GET", podPath(namespace, name));
    } catch (err) {
      if ((err as { code?: unknown }).code === 404) return undefined;
      throw err;
    }
  }

  async get(namespace: string, name: string): Promise<PodView | undefined> {
    const o = await this.read(namespace, name);
    return o && podViewOf(o);
  }

  async waitFor(namespace: string, name: string, until: (p: PodView) => boolean, timeoutMs: number): Promise<PodView | undefined> {
    const deadline = performance.now() + timeoutMs;
    let last: PodView | undefined;
    // A watch the server ends early is started again from a fresh read, until the deadline.
    while (performance.now() < deadline) {
      const o = await this.read(namespace, name);
      last = o && podViewOf(o);
      if (!last || until(last)) return last;
      const found = await this.watchOnce(namespace, name, o?.metadata?.resourceVersion, until, deadline - performance.now());
      if (found) return found;
    }
    return last;
  }

  /** One watch of the pod; the first view `until` accepts, or undefined when the watch ended or time ran out. */
  private watchOnce(namespace: string, name: string, resourceVersion: string | undefined, until: (p: PodView) => boolean, ms: number): Promise<PodView | undefined> {
    return new Promise((resolve) => {
      let controller: AbortController | undefined;
      let settled = false;
      const settle = (v: PodView | undefined) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        controller?.abort();
        resolve(v);
      };
      const timer = setTimeout(() => settle(undefined), Math.max(ms, 0));
      const query = { fieldSelector: `metadata.name=${name}`, ...(resourceVersion ? { resourceVersion } : {}), allowWatchBookmarks: false };
      void this.api
        .watch(
          `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
          query,
          (type, obj) => {
            if (type !== "ADDED" && type !== "MODIFIED") return;
            const view = podViewOf(obj as PodObject);
            if (until(view)) settle(view);
          },
          // Ended by the server or failed: a short pause, then the caller reads again.
          () => setTimeout(() => settle(undefined), 50),
        )
        .then((c) => {
          controller = c;
          if (settled) c.abort();
        });
    });
  }
}

/** The reader for the node's Kubernetes settings; undefined when no API is configured. */
export async function createPodReader(k: Config["kubernetes"]): Promise<PodReaderPort | undefined> {
  const { kubeRestFrom } = await import("../../../../shared/kube-rest.ts");
  const api = kubeRestFrom(k);
  return api ? new KubePodReader(api) : undefined;
}
