import { describe, expect, test } from "bun:test";
import type { KubeObject } from "../sim-kube/validate.ts";
import { daemonPodFor, isPodUpdated, templateHash } from "./daemon-pods.ts";

const daemonSet: KubeObject = {
  metadata: { name: "aws-node", namespace: "kube-system", uid: "ds-uid", annotations: { "deprecated.daemonset.template.generation": "4" } },
  spec: {
    template: {
      metadata: { labels: { "k8s-app": "aws-node" } },
      spec: {
        hostNetwork: true,
        tolerations: [{ key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute" }],
        affinity: { nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/os", operator: "In", values: ["linux"] }] }] },
          preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1, preference: { matchExpressions: [{ key: "a", operator: "Exists" }] } }],
        } },
        containers: [{ name: "aws-node", image: "i:1", env: [{ name: "A", value: "1" }] }],
      },
    },
  },
};

describe("templateHash", () => {
  test("ignores key order, changes with the template", () => {
    const template = { metadata: { labels: { a: "1" } }, spec: { containers: [{ name: "c", image: "i" }] } };
    const reordered = { spec: { containers: [{ image: "i", name: "c" }] }, metadata: { labels: { a: "1" } } };
    expect(templateHash(template)).toBe(templateHash(reordered));
    expect(templateHash(template)).not.toBe(templateHash({ ...template, spec: { containers: [{ name: "c", image: "j" }] } }));
    expect(templateHash(template)).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]+$/);
  });
});

describe("daemonPodFor", () => {
  const pod = daemonPodFor(daemonSet, "node-7", "hash1");
  const spec = pod.spec as Record<string, any>;

  test("is bound to the node and pinned to it by affinity, keeping preferred terms", () => {
    expect(spec.nodeName).toBe("node-7");
    expect(spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution).toEqual({ nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: ["node-7"] }] }] });
    expect(spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution).toHaveLength(1);
  });

  test("tolerates what every DaemonSet pod tolerates, without repeating the template's own", () => {
    const keys = spec.tolerations.map((t: { key: string; effect: string }) => `${t.key}:${t.effect}`);
    expect(keys.filter((key: string) => key === "node.kubernetes.io/not-ready:NoExecute")).toHaveLength(1);
    expect(keys).toContain("node.kubernetes.io/network-unavailable:NoSchedule");
    expect(keys).toContain("node.kubernetes.io/unschedulable:NoSchedule");
  });

  test("is named after, labelled by and owned by its DaemonSet", () => {
    expect(pod.metadata).toMatchObject({
      generateName: "aws-node-",
      namespace: "kube-system",
      labels: { "k8s-app": "aws-node", "controller-revision-hash": "hash1", "pod-template-generation": "4" },
      ownerReferences: [{ apiVersion: "apps/v1", kind: "DaemonSet", name: "aws-node", uid: "ds-uid", controller: true, blockOwnerDeletion: true }],
    });
    expect(isPodUpdated(pod, "hash1", "3")).toBe(true);
    expect(isPodUpdated(pod, "other", "4")).toBe(true);
    expect(isPodUpdated(pod, "other", "3")).toBe(false);
  });
});
