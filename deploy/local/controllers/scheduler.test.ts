// The scheduler against the real store: pods created through the API get bound (or stay
// Pending with a reason) as the scheduler's contract says.
import { afterEach, describe, expect, test } from "bun:test";
import type { KubeObject } from "../sim-kube/validate.ts";
import { EVENTS, NODES, PODS } from "./cluster.ts";
import { createTestCluster, settle, until } from "./test-support.ts";

let world: ReturnType<typeof createTestCluster>;
afterEach(() => world.stop());

function pod(name: string, spec: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: "v1", kind: "Pod", metadata: { name }, spec: { containers: [{ name: "c", image: "busybox:1" }], ...spec } };
}

const nodeOf = (name: string) => (world.cluster.get(PODS, "default", name)?.spec as { nodeName?: string }).nodeName;
const eventsOf = (name: string) => world.cluster.list(EVENTS, "default").filter((event) => (event.involvedObject as { name: string }).name === name);

describe("scheduler", () => {
  test("binds round robin over the Ready, schedulable nodes, with a Scheduled event and PodScheduled=True", async () => {
    world = createTestCluster();
    world.addNode("n1");
    world.addNode("n2");
    world.addNode("n3", { ready: false });
    world.addNode("n4", { unschedulable: true });
    for (const name of ["p1", "p2", "p3", "p4"]) world.cluster.create(PODS, "default", pod(name));
    await until("all bound", () => world.pods("default").every((p) => (p.spec as { nodeName?: string }).nodeName));
    expect(["p1", "p2", "p3", "p4"].map(nodeOf)).toEqual(["n1", "n2", "n1", "n2"]);
    const [scheduled] = eventsOf("p1");
    expect(scheduled).toMatchObject({ type: "Normal", reason: "Scheduled", message: "Successfully assigned default/p1 to n1", source: { component: "default-scheduler" } });
    expect((world.cluster.get(PODS, "default", "p1")?.status as { conditions: unknown[] }).conditions).toEqual([expect.objectContaining({ type: "PodScheduled", status: "True" })]);
  });

  test("honours nodeSelector, required affinity and tolerations; leaves other schedulers' pods alone", async () => {
    world = createTestCluster();
    world.addNode("a", { labels: { zone: "a" } });
    world.addNode("b", { labels: { zone: "b" }, taints: [{ key: "dedicated", value: "cni", effect: "NoSchedule" }] });
    world.cluster.create(PODS, "default", pod("by-selector", { nodeSelector: { zone: "a" } }));
    world.cluster.create(PODS, "default", pod("by-affinity", { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "NotIn", values: ["a"] }] }] } } }, tolerations: [{ key: "dedicated", operator: "Equal", value: "cni", effect: "NoSchedule" }] }));
    world.cluster.create(PODS, "default", pod("untolerating", { nodeSelector: { zone: "b" } }));
    world.cluster.create(PODS, "default", pod("elsewhere", { schedulerName: "other-scheduler" }));
    await until("bound", () => nodeOf("by-selector") !== undefined && nodeOf("by-affinity") !== undefined);
    await settle();
    expect([nodeOf("by-selector"), nodeOf("by-affinity"), nodeOf("untolerating"), nodeOf("elsewhere")]).toEqual(["a", "b", undefined, undefined]);
  });

  test("a pod no node fits stays Pending, Unschedulable, with FailedScheduling; a fitting node added later takes it", async () => {
    world = createTestCluster();
    world.addNode("linux-1", { ready: false });
    world.cluster.create(PODS, "default", pod("waiting", { nodeSelector: { pool: "gpu" } }));
    await until("marked unschedulable", () => ((world.cluster.get(PODS, "default", "waiting")?.status as { conditions?: unknown[] }).conditions ?? []).length > 0);
    const status = world.cluster.get(PODS, "default", "waiting")?.status as { phase: string; conditions: Array<Record<string, string>> };
    expect(status.phase).toBe("Pending");
    expect(status.conditions[0]).toMatchObject({ type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector." });
    expect(eventsOf("waiting").map((event) => [event.type, event.reason])).toEqual([["Warning", "FailedScheduling"]]);

    world.addNode("gpu-1", { labels: { pool: "gpu" } });
    await until("bound after the node came", () => nodeOf("waiting") === "gpu-1");
    expect(eventsOf("waiting").map((event) => event.reason).sort()).toEqual(["FailedScheduling", "Scheduled"]);
  });

  test("a node that becomes Ready is used for a waiting pod (retried when nodes change)", async () => {
    world = createTestCluster();
    world.addNode("n1", { ready: false });
    world.cluster.create(PODS, "default", pod("p"));
    await until("failed once", () => eventsOf("p").length === 1);
    await settle();
    expect(eventsOf("p")[0]?.count).toBe(1);
    const node = world.cluster.get(NODES, undefined, "n1")!;
    world.cluster.patch(NODES, node, { status: { conditions: [{ type: "Ready", status: "True" }] } }, { subresource: "status" });
    await until("bound", () => nodeOf("p") === "n1");
  });
});
