// The Deployment controller with the scheduler and garbage collector against the real store. No
// kubelet runs: the test marks pods Ready through pods/status, and a stand-in finishes graceful
// deletions (or, with finishDeletions: false, leaves them terminating).
import { afterEach, describe, expect, test } from "bun:test";
import type { KubeObject } from "../sim-kube/validate.ts";
import { DEPLOYMENTS, EVENTS, PODS } from "./cluster.ts";
import { createTestCluster, settle, until } from "./test-support.ts";

let world: ReturnType<typeof createTestCluster>;
afterEach(() => world.stop());

function deployment(o: { replicas?: number; strategy?: string; arch?: string } = {}): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "policy-controller", namespace: "kube-system" },
    spec: {
      replicas: o.replicas ?? 1,
      strategy: { type: o.strategy ?? "Recreate" },
      selector: { matchLabels: { app: "pc" } },
      template: {
        metadata: { labels: { app: "pc" } },
        spec: {
          affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [
            { key: "kubernetes.io/os", operator: "In", values: ["linux"] },
            { key: "kubernetes.io/arch", operator: "In", values: [o.arch ?? "amd64"] },
          ] }] } } },
          containers: [{ name: "controller", image: "pc:1", args: ["--chunk=200"] }],
        },
      },
    },
  };
}

const get = () => world.cluster.get(DEPLOYMENTS, "kube-system", "policy-controller");
const status = () => get()?.status as Record<string, unknown> & { conditions?: Array<{ type: string; status: string; reason: string }> };
const all = () => world.pods("kube-system");
const live = () => all().filter((pod) => pod.metadata.deletionTimestamp === undefined);
const nodeOf = (pod: KubeObject) => (pod.spec as { nodeName?: string }).nodeName;
const argsOf = (pod: KubeObject) => (pod.spec as { containers: Array<{ args: string[] }> }).containers[0]!.args;
const conditions = () => Object.fromEntries((status().conditions ?? []).map((c) => [c.type, `${c.status} ${c.reason}`]));

function setArgs(args: string[]): void {
  world.cluster.patch(DEPLOYMENTS, get()!, { spec: { template: { spec: { containers: [{ name: "controller", args }] } } } });
}

describe("Deployment controller", () => {
  test("spec.replicas pods of the template, owned by the Deployment, named after its hash, bound by the scheduler; status as kubectl reads it", async () => {
    world = createTestCluster();
    world.addNode("n1");
    world.addNode("n2");
    const created = world.cluster.create(DEPLOYMENTS, "kube-system", deployment({ replicas: 2 }));
    await until("two pods bound", () => live().length === 2 && live().every((pod) => nodeOf(pod) !== undefined));
    await settle();
    const pods = live();
    const hash = pods[0]!.metadata.labels?.["pod-template-hash"];
    expect(hash).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]+$/);
    for (const pod of pods) {
      expect(pod.metadata.name).toMatch(new RegExp(`^policy-controller-${hash}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
      expect(pod.metadata.labels).toEqual({ app: "pc", "pod-template-hash": hash! });
      expect(pod.metadata.ownerReferences).toEqual([{ apiVersion: "apps/v1", kind: "Deployment", name: "policy-controller", uid: created.metadata.uid!, controller: true, blockOwnerDeletion: true }]);
      expect(["n1", "n2"]).toContain(nodeOf(pod)!);
    }
    const { conditions: _, ...counts } = status();
    expect(counts).toEqual({ observedGeneration: 1, replicas: 2, updatedReplicas: 2, unavailableReplicas: 2 });
    expect(conditions()).toEqual({ Available: "False MinimumReplicasUnavailable", Progressing: "True ReplicaSetUpdated" });

    world.markReady(pods[0]!);
    await until("one available", () => status().availableReplicas === 1);
    expect(conditions().Available).toBe("False MinimumReplicasUnavailable");
    world.markReady(pods[1]!);
    await until("two available", () => status().availableReplicas === 2);
    const { conditions: __, ...done } = status();
    expect(done).toEqual({ observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 });
    expect(conditions()).toEqual({ Available: "True MinimumReplicasAvailable", Progressing: "True NewReplicaSetAvailable" });
    const events = world.cluster.list(EVENTS, "kube-system").filter((e) => (e.involvedObject as { kind: string }).kind === "Deployment").map((e) => e.message);
    expect(events.sort()).toEqual(pods.map((pod) => `Created pod: ${pod.metadata.name}`).sort());
  });

  test("a deleted pod is replaced; scaling down deletes the surplus, not-ready pods first", async () => {
    world = createTestCluster();
    world.addNode("n1");
    world.cluster.create(DEPLOYMENTS, "kube-system", deployment({ replicas: 3 }));
    await until("three pods", () => live().length === 3);
    const [first, second, third] = live();
    world.cluster.delete(PODS, first!);
    await until("a replacement", () => live().length === 3 && !live().some((pod) => pod.metadata.uid === first!.metadata.uid));
    expect(all()).toHaveLength(3);

    world.markReady(second!);
    world.markReady(third!);
    world.cluster.patch(DEPLOYMENTS, get()!, { spec: { replicas: 2 } });
    await until("two pods", () => all().length === 2);
    expect(live().map((pod) => pod.metadata.uid).sort()).toEqual([second!.metadata.uid, third!.metadata.uid].sort());
    await until("status of generation 2", () => status().observedGeneration === 2 && status().availableReplicas === 2);
    expect(status().replicas).toBe(2);
    expect(conditions().Available).toBe("True MinimumReplicasAvailable");
  });

  test("Recreate: a template change deletes the old pods, and the new ones come only once they are gone", async () => {
    world = createTestCluster({ finishDeletions: false });
    world.addNode("n1");
    world.cluster.create(DEPLOYMENTS, "kube-system", deployment({ replicas: 2 }));
    await until("two pods", () => live().length === 2);
    for (const pod of live()) world.markReady(pod);
    await until("available", () => status().availableReplicas === 2);
    const oldHash = live()[0]!.metadata.labels?.["pod-template-hash"];

    setArgs(["--chunk=100"]);
    await until("old pods terminating", () => all().length === 2 && live().length === 0);
    await settle();
    // no new pod while the old ones terminate
    expect(all().map((pod) => pod.metadata.labels?.["pod-template-hash"])).toEqual([oldHash, oldHash]);
    expect(status().observedGeneration).toBe(2);
    expect(status().replicas).toBeUndefined();
    expect(conditions().Available).toBe("False MinimumReplicasUnavailable");

    for (const pod of all()) world.cluster.delete(PODS, pod, { gracePeriodSeconds: 0 });
    await until("two new pods", () => live().length === 2);
    const fresh = live();
    expect(fresh.map((pod) => pod.metadata.labels?.["pod-template-hash"])).not.toContain(oldHash);
    expect(new Set(fresh.map((pod) => pod.metadata.labels?.["pod-template-hash"])).size).toBe(1);
    expect(fresh.map(argsOf)).toEqual([["--chunk=100"], ["--chunk=100"]]);
    await settle();
    expect(status()).toMatchObject({ observedGeneration: 2, replicas: 2, updatedReplicas: 2, unavailableReplicas: 2 });
  });

  test("RollingUpdate: the new pods first, an old one deleted for each new one available", async () => {
    world = createTestCluster();
    world.addNode("n1");
    world.cluster.create(DEPLOYMENTS, "kube-system", deployment({ replicas: 2, strategy: "RollingUpdate" }));
    await until("two pods", () => live().length === 2);
    const old = live();
    for (const pod of old) world.markReady(pod);
    await until("available", () => status().availableReplicas === 2);

    setArgs(["--chunk=100"]);
    await until("two new pods beside the old", () => live().length === 4);
    await settle();
    expect(live().filter((pod) => argsOf(pod)[0] === "--chunk=200")).toHaveLength(2);
    const fresh = live().filter((pod) => argsOf(pod)[0] === "--chunk=100");
    world.markReady(fresh[0]!);
    await until("one old pod gone", () => live().length === 3);
    world.markReady(fresh[1]!);
    await until("only the new pods", () => live().length === 2 && live().every((pod) => argsOf(pod)[0] === "--chunk=100"));
    await until("rolled out", () => status().availableReplicas === 2 && status().replicas === 2);
    expect(conditions()).toEqual({ Available: "True MinimumReplicasAvailable", Progressing: "True NewReplicaSetAvailable" });
  });

  test("pods stay unscheduled while no node matches the template's nodeAffinity (os, arch)", async () => {
    world = createTestCluster();
    world.addNode("n1");
    world.cluster.create(DEPLOYMENTS, "kube-system", deployment({ arch: "arm64" }));
    await until("a pod", () => live().length === 1);
    await settle();
    expect(nodeOf(live()[0]!)).toBeUndefined();
    world.addNode("graviton", { labels: { "kubernetes.io/arch": "arm64" } });
    await until("bound to the arm64 node", () => nodeOf(live()[0]!) === "graviton");
  });

  test("the pods go with the Deployment (garbage collector)", async () => {
    world = createTestCluster();
    world.addNode("n1");
    const created = world.cluster.create(DEPLOYMENTS, "kube-system", deployment({ replicas: 2 }));
    await until("two pods", () => live().length === 2);
    world.cluster.delete(DEPLOYMENTS, created);
    await until("no pod", () => all().length === 0);
    expect(get()).toBeUndefined();
  });
});
