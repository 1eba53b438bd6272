/**
 * Test support: a store with namespaces, node helpers, the controllers, and a stand-in for the
 * kubelets (none runs in these tests): it marks pods Ready through pods/status when told, and
 * deletes a terminating pod for good (gracePeriodSeconds=0), as a kubelet does after teardown.
 */
import { timestamp } from "../sim-kube/lifecycle.ts";
import { KubeStore } from "../sim-kube/store.ts";
import type { KubeObject } from "../sim-kube/validate.ts";
import { ClusterApi, NODES, PODS } from "./cluster.ts";
import { startControlPlane } from "./control-plane.ts";
import type { ControlPlaneOptions } from "./control-plane.ts";

export interface NodeSpec {
  labels?: Record<string, string>;
  ready?: boolean;
  unschedulable?: boolean;
  taints?: Array<{ key: string; value?: string; effect: string }>;
}

export function testNode(name: string, o: NodeSpec = {}): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, labels: { "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": name, ...o.labels } },
    spec: { ...(o.unschedulable ? { unschedulable: true } : {}), ...(o.taints ? { taints: o.taints } : {}) },
    status: { conditions: [{ type: "Ready", status: o.ready === false ? "False" : "True" }] },
  };
}

export async function until(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

/** Lets every pending controller pass run (they are scheduled at 0 ms after each change). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await Bun.sleep(2);
}

export function createTestCluster(options: ControlPlaneOptions & { finishDeletions?: boolean } = {}) {
  const store = new KubeStore();
  for (const name of ["default", "kube-system"]) store.create("namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name } });
  const cluster = new ClusterApi(store);
  const controlPlane = startControlPlane(store, options);
  // the kubelets' final DELETE of a terminating pod
  const unsubscribe = options.finishDeletions === false
    ? () => {}
    : cluster.subscribe([PODS], (change) => {
        if (change.type === "DELETED" || change.object.metadata.deletionTimestamp === undefined) return;
        queueMicrotask(() => {
          const pod = cluster.get(PODS, change.object.metadata.namespace, change.object.metadata.name ?? "");
          if (pod?.metadata.deletionTimestamp !== undefined) cluster.delete(PODS, pod, { gracePeriodSeconds: 0 });
        });
      });
  return {
    store,
    cluster,
    addNode: (name: string, o: NodeSpec = {}) => cluster.create(NODES, undefined, testNode(name, o)),
    pods: (namespace?: string) => cluster.list(PODS, namespace),
    /** What a kubelet reports once the pod's containers run and pass their readiness probes. */
    markReady(pod: KubeObject, ready = true): void {
      const now = timestamp(cluster.now());
      const current = cluster.get(PODS, pod.metadata.namespace, pod.metadata.name ?? "");
      if (current === undefined) throw new Error(`pod ${pod.metadata.name} is gone`);
      const containers = ((current.spec as { containers: Array<{ name: string; image: string }> }).containers ?? []).map((container) => ({
        name: container.name, image: container.image, ready, restartCount: 0, started: true, state: { running: { startedAt: now } },
      }));
      cluster.patch(PODS, current, {
        status: {
          phase: "Running",
          conditions: [{ type: "Ready", status: ready ? "True" : "False", lastTransitionTime: now }],
          containerStatuses: containers,
        },
      }, { subresource: "status" });
    },
    stop(): void {
      unsubscribe();
      controlPlane.stop();
    },
  };
}
