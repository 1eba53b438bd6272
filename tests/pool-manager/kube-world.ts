/**
 * Integration-test support: the simulated Kubernetes API (deploy/local/sim-kube) served in-process on
 * 127.0.0.1 port 0 with a kubeconfig on disk, and KubeAdapters built from that kubeconfig
 * exactly as main.ts builds them. Objects are seeded through the store (which notifies
 * watches like any write) and read back through the REST API.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serveKube, writeKubeconfig, type ServedKube } from "../../deploy/local/sim-kube/serve.ts";
import { KubeStore } from "../../deploy/local/sim-kube/store.ts";
import { KubeAdapter, type KubeAdapterOptions } from "../../services/pool-manager/src/adapters/kube.ts";
import { kubeRestFrom } from "../../shared/kube-rest.ts";

export const TOKEN = "sim-token";

export interface KubeWorld {
  served: ServedKube;
  kubeconfig: string;
  adapters: KubeAdapter[];
  adapter(nodeName: string, o?: Partial<KubeAdapterOptions>): KubeAdapter;
  node(name: string, o?: { labels?: Record<string, string>; annotations?: Record<string, string>; taints?: { key: string; effect: string }[]; unschedulable?: boolean; capacityPods?: number }): void;
  eniConfig(name: string, subnet: string, securityGroups: string[]): void;
  pod(name: string, nodeName: string, o?: { hostNetwork?: boolean; podIP?: string; phase?: string; namespace?: string }): void;
  setPodIp(name: string, ip: string, namespace?: string): void;
  deletePod(name: string, namespace?: string): void;
  /** GET through the API with the bearer token. */
  get(path: string): Promise<{ items?: unknown[] } & Record<string, unknown>>;
  stop(): Promise<void>;
}

export async function kubeWorld(o: { historyLimit?: number } = {}): Promise<KubeWorld> {
  const dir = mkdtempSync(join(tmpdir(), `pm-kube-${process.pid}-`));
  const store = new KubeStore({ ...(o.historyLimit ? { historyLimit: o.historyLimit } : {}) });
  const served = serveKube({ hostname: "127.0.0.1", port: 0, token: TOKEN, bookmarkIntervalMs: 5_000, store });
  const kubeconfig = join(dir, "kubeconfig");
  await writeKubeconfig(kubeconfig, served.url, TOKEN);
  const adapters: KubeAdapter[] = [];
  const w: KubeWorld = {
    served,
    kubeconfig,
    adapters,
    adapter(nodeName, ao = {}) {
      const api = kubeRestFrom({ kubeconfig, apiServer: undefined, clusterEndpoint: undefined, nodeName, annotatePodIp: false })!;
      const a = new KubeAdapter(api, { nodeName, eniConfigAnnotation: "k8s.amazonaws.com/eniConfig", eniConfigLabel: "k8s.amazonaws.com/eniConfig", watchPods: true, retry: { firstMs: 50, maxMs: 200 }, requestTimeoutMs: 2_000, ...ao });
      adapters.push(a);
      return a;
    },
    node(name, n = {}) {
      const obj = { apiVersion: "v1", kind: "Node", metadata: { name, labels: n.labels ?? {}, annotations: n.annotations ?? {} }, spec: { ...(n.taints ? { taints: n.taints } : {}), ...(n.unschedulable ? { unschedulable: true } : {}) }, ...(n.capacityPods ? { status: { capacity: { pods: String(n.capacityPods) } } } : {}) };
      const old = store.get("nodes", undefined, name);
      if (old) store.update("nodes", { ...obj, metadata: { ...old.metadata, ...obj.metadata } });
      else store.create("nodes", obj);
    },
    eniConfig(name, subnet, securityGroups) {
      store.create("eniconfigs.crd.k8s.amazonaws.com", { apiVersion: "crd.k8s.amazonaws.com/v1alpha1", kind: "ENIConfig", metadata: { name }, spec: { subnet, securityGroups } });
    },
    pod(name, nodeName, p = {}) {
      const namespace = p.namespace ?? "default";
      store.create("pods", {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace },
        spec: { nodeName, containers: [{ name: "main", image: "busybox" }], ...(p.hostNetwork ? { hostNetwork: true } : {}) },
        status: { phase: p.phase ?? "Pending", ...(p.podIP ? { podIP: p.podIP } : {}) },
      });
    },
    setPodIp(name, ip, namespace = "default") {
      const pod = store.get("pods", namespace, name)!;
      store.update("pods", { ...pod, status: { ...(pod.status as object), phase: "Running", podIP: ip } });
    },
    deletePod(name, namespace = "default") {
      store.delete("pods", namespace, name);
    },
    async get(path) {
      const res = await fetch(`${served.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      return (await res.json()) as { items?: unknown[] } & Record<string, unknown>;
    },
    async stop() {
      for (const a of adapters) a.stop();
      await served.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return w;
}

/** Polls `fn` until it returns true (no timing assertion: the bound only prevents a hang). */
export async function until(fn: () => boolean | Promise<boolean>, what: string, tries = 200, everyMs = 25): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await fn()) return;
    await Bun.sleep(everyMs);
  }
  throw new Error(`gave up waiting for: ${what}`);
}
