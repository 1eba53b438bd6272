import { describe, expect, test } from "bun:test";
import { humanDuration, podReadyCell, podRestartsCell, podStatusCell } from "./pod-printing.ts";
import type { KubeObject } from "./validate.ts";

const NOW = new Date("2026-01-01T01:00:00Z");

function pod(status: Record<string, unknown>, extra: Partial<KubeObject["metadata"]> = {}, initContainers = 0): KubeObject {
  return {
    metadata: { name: "p", ...extra },
    spec: { containers: [{ name: "a" }, { name: "b" }], initContainers: Array.from({ length: initContainers }, (_, i) => ({ name: `i${i}` })) },
    status,
  };
}

const running = (name: string, ready: boolean, restartCount = 0) => ({ name, ready, restartCount, state: { running: { startedAt: "2026-01-01T00:00:00Z" } } });

describe("kubectl get pods cells", () => {
  const rows: Array<[string, KubeObject, string, string, string]> = [
    ["new pod", pod({ phase: "Pending" }), "0/2", "Pending", "0"],
    ["init container running", pod({ phase: "Pending", initContainerStatuses: [{ name: "i0", state: { running: {} } }] }, {}, 1), "0/2", "Init:0/1", "0"],
    ["init container failed", pod({ phase: "Pending", initContainerStatuses: [{ name: "i0", restartCount: 2, state: { terminated: { exitCode: 1, reason: "Error" } } }] }, {}, 1), "0/2", "Init:Error", "2"],
    ["creating", pod({ phase: "Pending", containerStatuses: [{ name: "a", state: { waiting: { reason: "ContainerCreating" } } }, { name: "b", state: { waiting: { reason: "ContainerCreating" } } }] }), "0/2", "ContainerCreating", "0"],
    ["one ready", pod({ phase: "Running", containerStatuses: [running("a", true), running("b", false)] }), "1/2", "Running", "0"],
    ["crash loop", pod({ phase: "Running", containerStatuses: [running("a", true), { name: "b", restartCount: 3, state: { waiting: { reason: "CrashLoopBackOff" } }, lastState: { terminated: { exitCode: 1, finishedAt: "2026-01-01T00:55:00Z" } } }] }), "1/2", "CrashLoopBackOff", "3 (5m ago)"],
    ["terminating", pod({ phase: "Running", containerStatuses: [running("a", true), running("b", true)] }, { deletionTimestamp: "2026-01-01T01:00:30Z" }), "2/2", "Terminating", "0"],
    ["exit code without reason", pod({ phase: "Failed", containerStatuses: [{ name: "a", state: { terminated: { exitCode: 137 } } }] }), "0/2", "ExitCode:137", "0"],
  ];
  for (const [title, object, ready, status, restarts] of rows) {
    test(title, () => {
      expect([podReadyCell(object), podStatusCell(object), podRestartsCell(object, NOW)]).toEqual([ready, status, restarts]);
    });
  }
});

describe("humanDuration", () => {
  test.each([
    [0, "0s"], [119, "119s"], [120, "2m"], [200, "3m20s"], [600, "10m"], [10799, "179m"], [10800, "3h"], [5 * 3600 + 30 * 60, "5h30m"],
    [47 * 3600, "47h"], [52 * 3600, "2d4h"], [30 * 86400, "30d"], [800 * 86400, "2y70d"],
  ])("%d s → %s", (seconds, text) => {
    expect(humanDuration(seconds)).toBe(text);
  });
});
