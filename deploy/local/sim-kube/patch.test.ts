import { describe, expect, test } from "bun:test";
import { applyPatch, JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH } from "./patch.ts";
import { KubeError } from "./status.ts";

const node = {
  metadata: { name: "n", labels: { a: "1", b: "2" } },
  spec: { taints: [{ key: "x", effect: "NoSchedule" }], containers: [{ name: "c1", image: "old" }, { name: "c2", image: "keep" }] },
};

describe("applyPatch", () => {
  const rows: Array<[title: string, type: string, patch: unknown, expected: unknown]> = [
    ["merge: set and remove labels", MERGE_PATCH, { metadata: { labels: { a: null, c: "3" } } }, { ...node, metadata: { name: "n", labels: { b: "2", c: "3" } } }],
    ["merge: lists are replaced", MERGE_PATCH, { spec: { taints: [] } }, { ...node, spec: { ...node.spec, taints: [] } }],
    ["strategic: containers merge by name", STRATEGIC_MERGE_PATCH, { spec: { containers: [{ name: "c1", image: "new" }] } }, { ...node, spec: { ...node.spec, containers: [{ name: "c1", image: "new" }, { name: "c2", image: "keep" }] } }],
    ["strategic: $patch delete removes by key", STRATEGIC_MERGE_PATCH, { spec: { containers: [{ name: "c2", $patch: "delete" }] } }, { ...node, spec: { ...node.spec, containers: [{ name: "c1", image: "old" }] } }],
    ["strategic: taints (no merge key) are replaced, $setElementOrder ignored", STRATEGIC_MERGE_PATCH, { spec: { taints: [{ key: "y", effect: "NoExecute" }], "$setElementOrder/taints": [{ key: "y" }] } }, { ...node, spec: { ...node.spec, taints: [{ key: "y", effect: "NoExecute" }] } }],
    ["json: add with an escaped key", JSON_PATCH, [{ op: "add", path: "/metadata/labels/k8s.io~1role", value: "r" }], { ...node, metadata: { name: "n", labels: { a: "1", b: "2", "k8s.io/role": "r" } } }],
    ["json: remove and append", JSON_PATCH, [{ op: "remove", path: "/metadata/labels/a" }, { op: "add", path: "/spec/taints/-", value: { key: "z", effect: "NoSchedule" } }], { ...node, metadata: { name: "n", labels: { b: "2" } }, spec: { ...node.spec, taints: [{ key: "x", effect: "NoSchedule" }, { key: "z", effect: "NoSchedule" }] } }],
    ["json: replace, test, copy", JSON_PATCH, [{ op: "test", path: "/metadata/labels/a", value: "1" }, { op: "replace", path: "/metadata/labels/a", value: "9" }, { op: "copy", from: "/metadata/labels/b", path: "/metadata/labels/c" }], { ...node, metadata: { name: "n", labels: { a: "9", b: "2", c: "2" } } }],
  ];
  for (const [title, type, patch, expected] of rows) {
    test(title, () => {
      expect(applyPatch(type, node, patch)).toEqual(expected);
    });
  }

  test("the target is never mutated", () => {
    const before = JSON.stringify(node);
    applyPatch(JSON_PATCH, node, [{ op: "remove", path: "/metadata/labels/a" }]);
    applyPatch(MERGE_PATCH, node, { metadata: { labels: { a: null } } });
    expect(JSON.stringify(node)).toBe(before);
  });

  test.each([
    [JSON_PATCH, [{ op: "remove", path: "/metadata/labels/missing" }], 422],
    [JSON_PATCH, [{ op: "test", path: "/metadata/labels/a", value: "2" }], 422],
    [JSON_PATCH, { op: "add" }, 400],
    [JSON_PATCH, [{ op: "frobnicate", path: "/x" }], 400],
    ["application/apply-patch+yaml", {}, 415],
  ])("%s %j is refused with %d", (type, patch, code) => {
    let caught: unknown;
    try {
      applyPatch(type, node, patch);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(KubeError);
    expect((caught as KubeError).code).toBe(code);
  });
});

describe("strategic merge patch as kubectl sends it", () => {
  const daemonSet = {
    spec: {
      template: {
        spec: {
          containers: [
            { name: "aws-node", env: [{ name: "X", value: "1" }, { name: "Y", value: "2" }] },
            { name: "other", env: [{ name: "X", value: "1" }] },
          ],
          volumes: [{ name: "v", hostPath: { path: "/x" } }],
        },
      },
    },
    metadata: { finalizers: ["a", "b"] },
  };

  test("`kubectl set env -c aws-node X=9 Z=3` changes only that container, in the order kubectl asks", () => {
    const patch = { spec: { template: { spec: {
      "$setElementOrder/containers": [{ name: "aws-node" }, { name: "other" }],
      containers: [{ "$setElementOrder/env": [{ name: "X" }, { name: "Z" }, { name: "Y" }], env: [{ name: "X", value: "9" }, { name: "Z", value: "3" }], name: "aws-node" }],
    } } } };
    const result = applyPatch(STRATEGIC_MERGE_PATCH, daemonSet, patch) as typeof daemonSet;
    expect(result.spec.template.spec.containers).toEqual([
      { name: "aws-node", env: [{ name: "X", value: "9" }, { name: "Z", value: "3" }, { name: "Y", value: "2" }] },
      { name: "other", env: [{ name: "X", value: "1" }] },
    ]);
  });

  test("`kubectl set env -c aws-node Y-` deletes by name", () => {
    const patch = { spec: { template: { spec: { containers: [{ "$setElementOrder/env": [{ name: "X" }], env: [{ $patch: "delete", name: "Y" }], name: "aws-node" }] } } } };
    const result = applyPatch(STRATEGIC_MERGE_PATCH, daemonSet, patch) as typeof daemonSet;
    expect(result.spec.template.spec.containers[0]?.env).toEqual([{ name: "X", value: "1" }]);
    expect(result.spec.template.spec.containers[1]).toEqual(daemonSet.spec.template.spec.containers[1]!);
  });

  test("$retainKeys drops a volume's old source; finalizers merge as a set", () => {
    const patch = {
      metadata: { finalizers: ["b", "c"], "$deleteFromPrimitiveList/finalizers": ["a"] },
      spec: { template: { spec: { volumes: [{ name: "v", emptyDir: {}, $retainKeys: ["emptyDir", "name"] }] } } },
    };
    const result = applyPatch(STRATEGIC_MERGE_PATCH, daemonSet, patch) as typeof daemonSet;
    expect(result.spec.template.spec.volumes).toEqual([{ name: "v", emptyDir: {} } as never]);
    expect(result.metadata.finalizers).toEqual(["b", "c"]);
  });
});
