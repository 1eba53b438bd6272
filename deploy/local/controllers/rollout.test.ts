import { describe, expect, test } from "bun:test";
import type { KubeObject } from "../sim-kube/validate.ts";
import { maxUnavailableOf, rollingUpdateDeletions, scaledValue, untilAvailableMs } from "./rollout.ts";
import type { NodePods } from "./rollout.ts";

const daemonSet = (maxUnavailable: number | string | undefined): KubeObject => ({
  metadata: { name: "ds" },
  spec: { updateStrategy: { type: "RollingUpdate", rollingUpdate: maxUnavailable === undefined ? {} : { maxUnavailable } } },
});

describe("maxUnavailable", () => {
  test.each([
    ["10%", 2, 1], // the manifest's 10 % of 2 nodes: 0.2 rounded up
    ["10%", 10, 1],
    ["10%", 11, 2], // 1.1 rounded up
    ["25%", 10, 3],
    ["100%", 3, 3],
    ["0%", 5, 1], // never 0 while nodes want the pod
    [0, 5, 1],
    [2, 5, 2],
    [undefined, 5, 1], // the default
    ["10%", 0, 0], // nothing to roll
  ] as const)("%p of %d nodes → %d", (value, desired, expected) => {
    expect(maxUnavailableOf(daemonSet(value), desired)).toBe(expected);
  });

  test("scaledValue reads integers and percentages only", () => {
    expect(scaledValue("33%", 10)).toBe(4);
    expect(scaledValue(7, 10)).toBe(7);
    expect(scaledValue("seven", 10)).toBe(0);
  });
});

describe("availability (minReadySeconds)", () => {
  const pod = (ready: string, since: string): KubeObject => ({ metadata: { name: "p" }, status: { conditions: [{ type: "Ready", status: ready, lastTransitionTime: since }] } });
  const now = new Date("2026-01-01T00:00:10Z");
  test.each([
    ["True", "2026-01-01T00:00:00Z", 0, 0],
    ["True", "2026-01-01T00:00:00Z", 10, 0],
    ["True", "2026-01-01T00:00:05Z", 10, 5000],
    ["False", "2026-01-01T00:00:00Z", 0, undefined],
  ] as const)("Ready=%s since %s with minReadySeconds %d → available in %p ms", (ready, since, minReady, expected) => {
    expect(untilAvailableMs(pod(ready, since), minReady, now)).toBe(expected as never);
  });
});

describe("rollingUpdateDeletions", () => {
  // pods named <node>-<new|old>[-<state>]: state "down" = not available, "gone" = terminating
  function nodePods(nodeName: string, ...pods: string[]): NodePods {
    return {
      nodeName,
      pods: pods.map((name) => ({ metadata: { name: `${nodeName}-${name}`, ...(name.endsWith("gone") ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}) } })),
    };
  }
  const updated = (pod: KubeObject) => pod.metadata.name!.includes("-new");
  const available = (pod: KubeObject) => !pod.metadata.name!.endsWith("-down");
  const names = (pods: KubeObject[]) => pods.map((pod) => pod.metadata.name);

  const rows: Array<[title: string, nodes: NodePods[], max: number, expected: string[]]> = [
    ["all old and available, max 1: the first node goes", [nodePods("a", "old"), nodePods("b", "old")], 1, ["a-old"]],
    ["max 2 of 3", [nodePods("a", "old"), nodePods("b", "old"), nodePods("c", "old")], 2, ["a-old", "b-old"]],
    ["an old pod terminating: wait", [nodePods("a", "old-gone"), nodePods("b", "old")], 1, []],
    ["a node without a pod counts as unavailable", [nodePods("a"), nodePods("b", "old")], 1, []],
    ["a new pod not yet available: wait", [nodePods("a", "new-down"), nodePods("b", "old")], 1, []],
    ["the new pod is available: next node", [nodePods("a", "new"), nodePods("b", "old")], 1, ["b-old"]],
    ["an unavailable old pod is replaced at once, beyond the budget", [nodePods("a", "new-down"), nodePods("b", "old-down"), nodePods("c", "old")], 1, ["b-old-down"]],
    ["all updated: nothing", [nodePods("a", "new"), nodePods("b", "new")], 1, []],
    ["old and new on one node: the manage step sorts it out", [nodePods("a", "old", "new"), nodePods("b", "old")], 1, []],
  ];
  for (const [title, nodes, max, expected] of rows) {
    test(title, () => {
      expect(names(rollingUpdateDeletions(nodes, max, updated, available))).toEqual(expected);
    });
  }
});
