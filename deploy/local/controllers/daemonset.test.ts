// The DaemonSet controller and garbage collector against the real store. No kubelet runs: the
// test marks pods Ready through pods/status, and a stand-in finishes graceful deletions.
import { afterEach, describe, expect, test } from "bun:test";
import type { KubeObject } from "../sim-kube/validate.ts";
import { DAEMONSETS, EVENTS, NODES, PODS } from "./cluster.ts";
import { createTestCluster, settle, until } from "./test-support.ts";

let world: ReturnType<typeof createTestCluster>;
afterEach(() => world.stop());

function daemonSet(o: { strategy?: object; minReadySeconds?: number; nodeSelector?: Record<string, string>; tolerateAll?: boolean } = {}): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: "aws-node", namespace: "kube-system" },
    spec: {
      selector: { matchLabels: { "k8s-app": "aws-node" } },
      ...(o.strategy ? { updateStrategy: o.strategy } : {}),
      ...(o.minReadySeconds ? { minReadySeconds: o.minReadySeconds } : {}),
      template: {
        metadata: { labels: { "k8s-app": "aws-node" } },
        spec: {
          hostNetwork: true,
          ...(o.tolerateAll === false ? {} : { tolerations: [{ operator: "Exists" }] }),
          ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
          affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [
            { key: "kubernetes.io/os", operator: "In", values: ["linux"] },
            { key: "eks.amazonaws.com/compute-type", operator: "NotIn", values: ["fargate"] },
          ] }] } } },
          containers: [{ name: "aws-node", image: "aws-vpc-cni:1", env: [{ name: "WARM_IP_TARGET", value: "1" }] }],
        },
      },
    },
  };
}

const dsPods = () => world.pods("kube-system").sort((a, b) => ((a.spec as { nodeName: string }).nodeName < (b.spec as { nodeName: string }).nodeName ? -1 : 1));
const nodeOf = (pod: KubeObject) => (pod.spec as { nodeName: string }).nodeName;
const status = () => world.cluster.get(DAEMONSETS, "kube-system", "aws-node")?.status as Record<string, number>;
const live = () => dsPods().filter((pod) => pod.metadata.deletionTimestamp === undefined);
const terminating = () => dsPods().filter((pod) => pod.metadata.deletionTimestamp !== undefined);

function setEnv(value: string): void {
  const current = world.cluster.get(DAEMONSETS, "kube-system", "aws-node")!;
  world.cluster.patch(DAEMONSETS, current, { spec: { template: { spec: { containers: [{ name: "aws-node", env: [{ name: "WARM_IP_TARGET", value }] }] } } } });
}

const envOf = (pod: KubeObject) => ((pod.spec as { containers: Array<{ env: Array<{ value: string }> }> }).containers[0]!.env[0]!.value);

describe("DaemonSet controller", () => {
  test("one pod per matching node, NotReady ones included, bound at creation, named, owned and labelled", async () => {
    world = createTestCluster();
    world.addNode("n1");
    world.addNode("n2", { ready: false });
    world.addNode("fargate-1", { labels: { "eks.amazonaws.com/compute-type": "fargate" } });
    const created = world.cluster.create(DAEMONSETS, "kube-system", daemonSet());
    await until("two pods", () => dsPods().length === 2);
    await settle();
    const pods = dsPods();
    expect(pods.map(nodeOf)).toEqual(["n1", "n2"]);
    for (const pod of pods) {
      expect(pod.metadata.name).toMatch(/^aws-node-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      expect(pod.metadata.ownerReferences).toEqual([{ apiVersion: "apps/v1", kind: "DaemonSet", name: "aws-node", uid: created.metadata.uid!, controller: true, blockOwnerDeletion: true }]);
      expect(pod.metadata.labels?.["pod-template-generation"]).toBe("1");
      expect(pod.metadata.labels?.["controller-revision-hash"]).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]+$/);
      expect((pod.spec as { tolerations: Array<{ key?: string }> }).tolerations.map((t) => t.key)).toContain("node.kubernetes.io/network-unavailable");
    }
    expect(status()).toEqual({ currentNumberScheduled: 2, desiredNumberScheduled: 2, numberMisscheduled: 0, numberReady: 0, observedGeneration: 1, updatedNumberScheduled: 2, numberUnavailable: 2 });
    for (const pod of pods) world.markReady(pod);
    await until("ready", () => status().numberReady === 2);
    expect(status()).toEqual({ currentNumberScheduled: 2, desiredNumberScheduled: 2, numberMisscheduled: 0, numberReady: 2, observedGeneration: 1, updatedNumberScheduled: 2, numberAvailable: 2 });
    const events = world.cluster.list(EVENTS, "kube-system").map((event) => `${event.reason}: ${event.message}`);
    expect(events.sort()).toEqual(pods.map((pod) => `SuccessfulCreate: Created pod: ${pod.metadata.name}`).sort());
  });

  test("a node added later gets its pod; a deleted node's pod goes; a node no longer matching loses it", async () => {
    world = createTestCluster({ garbageCollector: { orphanedPodQuarantineMs: 0 } });
    world.addNode("n1");
    world.cluster.create(DAEMONSETS, "kube-system", daemonSet());
    await until("first pod", () => dsPods().length === 1);
    world.addNode("n2");
    await until("second pod", () => dsPods().map(nodeOf).join() === "n1,n2");
    world.cluster.delete(NODES, world.cluster.get(NODES, undefined, "n1")!);
    await until("n1's pod gone", () => dsPods().map(nodeOf).join() === "n2");
    world.cluster.patch(NODES, world.cluster.get(NODES, undefined, "n2")!, { metadata: { labels: { "eks.amazonaws.com/compute-type": "fargate" } } });
    await until("n2's pod gone", () => dsPods().length === 0);
    await settle();
    expect(status()).toMatchObject({ desiredNumberScheduled: 0, currentNumberScheduled: 0 });
  });

  test("a NoSchedule taint keeps the running pod (counted misscheduled); NoExecute evicts it", async () => {
    world = createTestCluster();
    world.addNode("n1");
    world.cluster.create(DAEMONSETS, "kube-system", daemonSet({ tolerateAll: false }));
    await until("pod", () => dsPods().length === 1);
    world.cluster.patch(NODES, world.cluster.get(NODES, undefined, "n1")!, { spec: { taints: [{ key: "dedicated", effect: "NoSchedule" }] } });
    await until("misscheduled", () => status().numberMisscheduled === 1);
    expect(dsPods()).toHaveLength(1);
    expect(status()).toMatchObject({ desiredNumberScheduled: 0, currentNumberScheduled: 0 });
    world.cluster.patch(NODES, world.cluster.get(NODES, undefined, "n1")!, { spec: { taints: [{ key: "dedicated", effect: "NoExecute" }] } }, { type: "merge" });
    await until("evicted", () => dsPods().length === 0);
  });

  test("a changed template rolls out one node at a time (10 % of 3 nodes → 1), waiting for each new pod to be Ready", async () => {
    world = createTestCluster();
    for (const name of ["n1", "n2", "n3"]) world.addNode(name);
    world.cluster.create(DAEMONSETS, "kube-system", daemonSet({ strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "10%" } } }));
    await until("three pods", () => dsPods().length === 3);
    for (const pod of dsPods()) world.markReady(pod);
    await until("available", () => status().numberAvailable === 3);

    setEnv("5");
    expect(world.cluster.get(DAEMONSETS, "kube-system", "aws-node")?.metadata.generation).toBe(2);
    const replaced: string[] = [];
    for (let round = 1; round <= 3; round += 1) {
      // one new pod appears (its old one deleted and finished), and nothing else moves until it is Ready
      await until(`new pod ${round}`, () => live().filter((pod) => envOf(pod) === "5").length === round);
      await settle();
      const fresh = live().filter((pod) => envOf(pod) === "5");
      expect(live()).toHaveLength(3);
      expect(terminating()).toHaveLength(0);
      const waiting = fresh.find((pod) => !replaced.includes(nodeOf(pod)))!;
      expect(waiting.metadata.labels?.["pod-template-generation"]).toBe("2");
      expect(status()).toMatchObject({ updatedNumberScheduled: round, numberAvailable: 2, numberUnavailable: 1, observedGeneration: 2 });
      replaced.push(nodeOf(waiting));
      world.markReady(waiting);
    }
    await until("rolled out", () => status().numberAvailable === 3);
    expect(replaced.sort()).toEqual(["n1", "n2", "n3"]);
    expect(status()).toEqual({ currentNumberScheduled: 3, desiredNumberScheduled: 3, numberMisscheduled: 0, numberReady: 3, observedGeneration: 2, updatedNumberScheduled: 3, numberAvailable: 3 });
  });

  test("maxUnavailable 2 replaces two nodes at once", async () => {
    world = createTestCluster({ finishDeletions: false });
    for (const name of ["n1", "n2", "n3"]) world.addNode(name);
    world.cluster.create(DAEMONSETS, "kube-system", daemonSet({ strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 2 } } }));
    await until("three pods", () => dsPods().length === 3);
    for (const pod of dsPods()) world.markReady(pod);
    await until("available", () => status().numberAvailable === 3);
    setEnv("5");
    await until("two terminating", () => terminating().length === 2);
    await settle();
    expect(terminating()).toHaveLength(2);
  });

  test("OnDelete: a changed template reaches a node only when its pod is deleted", async () => {
    world = createTestCluster();
    world.addNode("n1");
    world.addNode("n2");
    world.cluster.create(DAEMONSETS, "kube-system", daemonSet({ strategy: { type: "OnDelete" } }));
    await until("pods", () => dsPods().length === 2);
    for (const pod of dsPods()) world.markReady(pod);
    setEnv("7");
    await settle();
    expect(dsPods().map(envOf)).toEqual(["1", "1"]);
    world.cluster.delete(PODS, dsPods()[0]!);
    await until("n1 replaced", () => live().some((pod) => nodeOf(pod) === "n1" && envOf(pod) === "7"));
    await settle();
    expect(dsPods().map(envOf)).toEqual(["7", "1"]);
    expect(status()).toMatchObject({ updatedNumberScheduled: 1, observedGeneration: 2 });
  });

  test("minReadySeconds: a Ready pod counts as available only after it", async () => {
    world = createTestCluster();
    world.addNode("n1");
    world.cluster.create(DAEMONSETS, "kube-system", daemonSet({ minReadySeconds: 1 }));
    await until("pod", () => dsPods().length === 1);
    world.markReady(dsPods()[0]!);
    await until("ready", () => status().numberReady === 1);
    expect(status().numberAvailable).toBeUndefined();
    await until("available after minReadySeconds", () => status().numberAvailable === 1, 3000);
  });

  test("a failed pod is replaced", async () => {
    world = createTestCluster({ daemonSets: { failedPodBackoffMs: 10 } });
    world.addNode("n1");
    world.cluster.create(DAEMONSETS, "kube-system", daemonSet());
    await until("pod", () => dsPods().length === 1);
    const first = dsPods()[0]!;
    world.cluster.patch(PODS, first, { status: { phase: "Failed" } }, { subresource: "status" });
    await until("replaced", () => dsPods().length === 1 && dsPods()[0]!.metadata.uid !== first.metadata.uid);
  });
});

describe("garbage collector", () => {
  async function withPods(): Promise<KubeObject> {
    world.addNode("n1");
    world.addNode("n2");
    const created = world.cluster.create(DAEMONSETS, "kube-system", daemonSet());
    await until("pods", () => dsPods().length === 2);
    return created;
  }

  test("deleting a DaemonSet (Background, kubectl's default) deletes its pods, gracefully", async () => {
    world = createTestCluster({ finishDeletions: false });
    const created = await withPods();
    world.cluster.delete(DAEMONSETS, created, { propagationPolicy: "Background" });
    expect(world.cluster.get(DAEMONSETS, "kube-system", "aws-node")).toBeUndefined();
    await until("pods terminating", () => terminating().length === 2);
    for (const pod of dsPods()) world.cluster.delete(PODS, pod, { gracePeriodSeconds: 0 });
    await settle();
    expect(dsPods()).toHaveLength(0);
  });

  test("Foreground keeps the DaemonSet until its pods are gone", async () => {
    world = createTestCluster({ finishDeletions: false });
    const created = await withPods();
    world.cluster.delete(DAEMONSETS, created, { propagationPolicy: "Foreground" });
    await until("pods terminating", () => terminating().length === 2);
    await settle();
    expect(world.cluster.get(DAEMONSETS, "kube-system", "aws-node")?.metadata.finalizers).toEqual(["foregroundDeletion"]);
    for (const pod of dsPods()) world.cluster.delete(PODS, pod, { gracePeriodSeconds: 0 });
    await until("DaemonSet gone", () => world.cluster.get(DAEMONSETS, "kube-system", "aws-node") === undefined);
  });

  test("Orphan keeps the pods, without their owner reference", async () => {
    world = createTestCluster();
    const created = await withPods();
    world.cluster.delete(DAEMONSETS, created, { propagationPolicy: "Orphan" });
    await until("DaemonSet gone", () => world.cluster.get(DAEMONSETS, "kube-system", "aws-node") === undefined);
    await settle();
    expect(dsPods()).toHaveLength(2);
    expect(dsPods().map((pod) => pod.metadata.ownerReferences)).toEqual([undefined, undefined]);
    expect(terminating()).toHaveLength(0);
  });

  test("an owner of a kind this server does not serve is left alone", async () => {
    world = createTestCluster();
    world.cluster.create(PODS, "default", {
      metadata: { name: "rs-pod", ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "rs", uid: "u-1", controller: true }] },
      spec: { nodeName: "n9", containers: [{ name: "c", image: "i:1" }] },
    });
    await settle();
    expect(world.cluster.get(PODS, "default", "rs-pod")?.metadata.deletionTimestamp).toBeUndefined();
  });
});
