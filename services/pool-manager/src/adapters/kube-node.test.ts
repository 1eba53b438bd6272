// What the Kubernetes adapter reads from Node and Pod objects, by upstream's rules (pure).
import { describe, expect, test } from "bun:test";
import { eniConfigNameOf, nodeIsUnschedulable, podNeedsAddress, withFeature } from "./kube-node.ts";

const ANN = "k8s.amazonaws.com/eniConfig";

describe("pure readings (upstream rules)", () => {
  test("ENIConfig name precedence: external label, annotation, custom label, default", () => {
    const custom = "example.com/zone-config";
    const rows: [string, Parameters<typeof eniConfigNameOf>[0], string][] = [
      ["external label beats everything", { metadata: { labels: { "vpc.amazonaws.com/externalEniConfig": "ext", [custom]: "lab" }, annotations: { [ANN]: "ann" } } }, "ext"],
      ["annotation beats the label", { metadata: { labels: { [custom]: "lab" }, annotations: { [ANN]: "ann" } } }, "ann"],
      ["custom label (ENI_CONFIG_LABEL_DEF)", { metadata: { labels: { [custom]: "lab" } } }, "lab"],
      ["the default label key is not read when another is configured", { metadata: { labels: { [ANN]: "x" } } }, "default"],
      ["nothing → default", {}, "default"],
      ["present but empty still wins (Go map lookup)", { metadata: { labels: { "vpc.amazonaws.com/externalEniConfig": "" }, annotations: { [ANN]: "ann" } } }, ""],
    ];
    for (const [why, node, want] of rows) expect({ why, name: eniConfigNameOf(node, ANN, custom).name }).toEqual({ why, name: want });
  });

  test("unschedulable: the cordon taint with NoSchedule, or spec.unschedulable; other taints are not", () => {
    expect(nodeIsUnschedulable({ spec: { taints: [{ key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" }] } })).toBe(true);
    expect(nodeIsUnschedulable({ spec: { unschedulable: true } })).toBe(true);
    expect(nodeIsUnschedulable({ spec: { taints: [{ key: "node.kubernetes.io/unschedulable", effect: "PreferNoSchedule" }] } })).toBe(false);
    expect(nodeIsUnschedulable({ spec: { taints: [{ key: "dedicated", effect: "NoSchedule" }] } })).toBe(false);
  });

  test("a pod needs an address unless host-network, finished, deleting or already addressed", () => {
    expect(podNeedsAddress({ status: { phase: "Pending" } })).toBe(true);
    expect(podNeedsAddress({ spec: { hostNetwork: true } })).toBe(false);
    expect(podNeedsAddress({ status: { phase: "Running", podIP: "10.0.1.5" } })).toBe(false);
    expect(podNeedsAddress({ status: { phase: "Succeeded" } })).toBe(false);
    expect(podNeedsAddress({ metadata: { deletionTimestamp: "2024-01-01T00:00:00Z" } })).toBe(false);
  });

  test("CNINode features: added once, value updated, others kept", () => {
    expect(withFeature([], { name: "SecurityGroupsForPods" })).toEqual([{ name: "SecurityGroupsForPods" }]);
    expect(withFeature([{ name: "SecurityGroupsForPods" }], { name: "SecurityGroupsForPods" })).toBeUndefined();
    expect(withFeature([{ name: "SecurityGroupsForPods" }, { name: "CustomNetworking", value: "a" }], { name: "CustomNetworking", value: "b" })).toEqual([{ name: "SecurityGroupsForPods" }, { name: "CustomNetworking", value: "b" }]);
  });
});
