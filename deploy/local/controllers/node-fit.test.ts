import { describe, expect, test } from "bun:test";
import type { KubeObject } from "../sim-kube/validate.ts";
import { misfit, tolerates, unavailableMessage } from "./node-fit.ts";
import type { PodPlacement } from "./node-fit.ts";

function node(name: string, o: { labels?: Record<string, string>; ready?: boolean; unschedulable?: boolean; taints?: Array<{ key: string; value?: string; effect: string }>; pods?: string } = {}): KubeObject {
  return {
    metadata: { name, labels: { "kubernetes.io/os": "linux", ...o.labels } },
    spec: { ...(o.unschedulable ? { unschedulable: true } : {}), ...(o.taints ? { taints: o.taints } : {}) },
    status: { conditions: [{ type: "Ready", status: o.ready === false ? "False" : "True" }], ...(o.pods ? { allocatable: { pods: o.pods } } : {}) },
  };
}

const affinity = (...terms: object[]): PodPlacement => ({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms as never } } } });
const awsNode: PodPlacement = {
  tolerations: [{ operator: "Exists" }],
  ...affinity({ matchExpressions: [{ key: "kubernetes.io/os", operator: "In", values: ["linux"] }, { key: "eks.amazonaws.com/compute-type", operator: "NotIn", values: ["fargate", "hybrid", "auto"] }] }),
};

describe("misfit: the scheduler's filters", () => {
  const rows: Array<[title: string, placement: PodPlacement, node: KubeObject, podsOnNode: number, expected: string | undefined]> = [
    ["plain pod, ready node", {}, node("a"), 0, undefined],
    ["nodeSelector matches", { nodeSelector: { zone: "a" } }, node("a", { labels: { zone: "a" } }), 0, undefined],
    ["nodeSelector misses", { nodeSelector: { zone: "a" } }, node("a", { labels: { zone: "b" } }), 0, "affinity"],
    ["affinity In", affinity({ matchExpressions: [{ key: "zone", operator: "In", values: ["a", "b"] }] }), node("n", { labels: { zone: "b" } }), 0, undefined],
    ["affinity NotIn on a missing label matches", affinity({ matchExpressions: [{ key: "zone", operator: "NotIn", values: ["a"] }] }), node("n"), 0, undefined],
    ["affinity Exists misses", affinity({ matchExpressions: [{ key: "gpu", operator: "Exists" }] }), node("n"), 0, "affinity"],
    ["affinity DoesNotExist", affinity({ matchExpressions: [{ key: "gpu", operator: "DoesNotExist" }] }), node("n"), 0, undefined],
    ["terms are ORed: second term matches", affinity({ matchExpressions: [{ key: "gpu", operator: "Exists" }] }, { matchFields: [{ key: "metadata.name", operator: "In", values: ["n"] }] }), node("n"), 0, undefined],
    ["matchFields on another node", affinity({ matchFields: [{ key: "metadata.name", operator: "In", values: ["other"] }] }), node("n"), 0, "affinity"],
    ["an empty term matches nothing", affinity({}), node("n"), 0, "affinity"],
    ["Gt on a numeric label", affinity({ matchExpressions: [{ key: "cores", operator: "Gt", values: ["4"] }] }), node("n", { labels: { cores: "8" } }), 0, undefined],
    ["NoSchedule taint untolerated", {}, node("n", { taints: [{ key: "cni", value: "down", effect: "NoSchedule" }] }), 0, "taint"],
    ["NoSchedule taint tolerated by key and value", { tolerations: [{ key: "cni", operator: "Equal", value: "down", effect: "NoSchedule" }] }, node("n", { taints: [{ key: "cni", value: "down", effect: "NoSchedule" }] }), 0, undefined],
    ["toleration with another value", { tolerations: [{ key: "cni", value: "up" }] }, node("n", { taints: [{ key: "cni", value: "down", effect: "NoSchedule" }] }), 0, "taint"],
    ["PreferNoSchedule is no filter", {}, node("n", { taints: [{ key: "x", effect: "PreferNoSchedule" }] }), 0, undefined],
    ["NoExecute taint untolerated", { tolerations: [{ key: "x", effect: "NoSchedule", operator: "Exists" }] }, node("n", { taints: [{ key: "x", effect: "NoExecute" }] }), 0, "taint"],
    ["NotReady node", {}, node("n", { ready: false }), 0, "taint"],
    ["NotReady node, pod tolerates everything", { tolerations: [{ operator: "Exists" }] }, node("n", { ready: false }), 0, undefined],
    ["unschedulable node", {}, node("n", { unschedulable: true }), 0, "unschedulable"],
    ["unschedulable tolerated", { tolerations: [{ key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" }] }, node("n", { unschedulable: true }), 0, undefined],
    ["full node", {}, node("n", { pods: "2" }), 2, "capacity"],
    ["room left", {}, node("n", { pods: "2" }), 1, undefined],
    ["aws-node's affinity on a linux node", awsNode, node("n", { ready: false }), 0, undefined],
    ["aws-node's affinity on a fargate node", awsNode, node("n", { labels: { "eks.amazonaws.com/compute-type": "fargate" } }), 0, "affinity"],
  ];
  for (const [title, placement, target, podsOnNode, expected] of rows) {
    test(title, () => {
      expect(misfit(placement, target, podsOnNode)?.reason).toBe(expected as never);
    });
  }
});

describe("tolerations", () => {
  test.each([
    [{ operator: "Exists" as const }, { key: "a", effect: "NoExecute" }, true],
    [{ key: "a", operator: "Exists" as const }, { key: "a", value: "v", effect: "NoSchedule" }, true],
    [{ key: "a", effect: "NoSchedule" }, { key: "a", effect: "NoSchedule" }, true],
    [{ key: "a", effect: "NoSchedule" }, { key: "a", effect: "NoExecute" }, false],
    [{ key: "", operator: "Equal" as const }, { key: "a", effect: "NoSchedule" }, false],
  ])("%j tolerates %j: %p", (toleration, taint, expected) => {
    expect(tolerates(toleration, taint)).toBe(expected);
  });
});

describe("unavailableMessage", () => {
  test("counts reasons like the scheduler", () => {
    const message = unavailableMessage(3, [
      { reason: "affinity", text: "node(s) didn't match Pod's node affinity/selector" },
      { reason: "taint", text: "node(s) had untolerated taint {node.kubernetes.io/not-ready: }" },
      { reason: "affinity", text: "node(s) didn't match Pod's node affinity/selector" },
    ]);
    expect(message).toBe("0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 2 node(s) didn't match Pod's node affinity/selector.");
    expect(unavailableMessage(0, [])).toBe("no nodes available to schedule pods");
  });
});
