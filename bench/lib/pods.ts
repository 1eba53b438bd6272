/**
 * Pod sandboxes for benchmarks: real network namespaces (unique names per run, lo up),
 * attachments with Kubernetes CNI_ARGS, and timed ADD/DEL through a CniRuntime. Every
 * namespace created is removed by `cleanup()`, also after a failure.
 */
import type { Attachment, CniRuntime } from "../../deploy/local/cni-runtime.ts";
import { Namespaces } from "../../services/net-config/test-support/namespaces.ts";
import { onInterrupt } from "./interrupt.ts";

export class PodSandboxes {
  readonly nss = new Namespaces();
  private seq = 0;
  /** Removed also when the bench is interrupted (bench/lib/interrupt.ts). */
  private readonly forget = onInterrupt(() => this.cleanup());

  /** A namespace for a pod (reusable once its pod was deleted: DEL removes eth0). */
  namespace(): string {
    return this.nss.add("bp").path;
  }

  /** A node-like namespace (for the baseline plugin to configure instead of the root namespace). */
  nodeNamespace(): string {
    return this.nss.add("bn").name;
  }

  attachment(netns: string, group: string): Attachment {
    const n = this.seq++;
    const name = `${group}-${process.pid}-${n}`;
    return { containerId: `bench${process.pid}x${group}x${n}`, netns, ifName: "eth0", args: { K8S_POD_NAMESPACE: "bench", K8S_POD_NAME: name, K8S_POD_INFRA_CONTAINER_ID: `bench${process.pid}x${group}x${n}` } };
  }

  cleanup(): void {
    this.forget();
    this.nss.cleanup();
  }
}

export interface Timed {
  ms: number;
  /** performance.now() when the call started. */
  startAt: number;
  error?: string;
}

export async function timedAdd(rt: CniRuntime, a: Attachment): Promise<Timed> {
  const t = performance.now();
  try {
    await rt.add(a);
    return { ms: performance.now() - t, startAt: t };
  } catch (err) {
    return { ms: performance.now() - t, startAt: t, error: (err as Error).message };
  }
}

export async function timedDel(rt: CniRuntime, a: Attachment): Promise<Timed> {
  const t = performance.now();
  try {
    await rt.del(a);
    return { ms: performance.now() - t, startAt: t };
  } catch (err) {
    return { ms: performance.now() - t, startAt: t, error: (err as Error).message };
  }
}
