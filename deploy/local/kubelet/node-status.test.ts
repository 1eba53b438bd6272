import { expect, test } from "bun:test";
import { NETWORK_NOT_READY, nodeConditions, registeredNotReady } from "./node-status.ts";

const T0 = Date.parse("2026-12-01T10:00:00Z");

test("Ready follows the network; the pressure conditions are False", () => {
  const notReady = nodeConditions(undefined, false, T0);
  expect(notReady.map((c) => [c.type, c.status])).toEqual([["MemoryPressure", "False"], ["DiskPressure", "False"], ["PIDPressure", "False"], ["Ready", "False"]]);
  expect(notReady[3]).toMatchObject({ reason: "KubeletNotReady", message: NETWORK_NOT_READY });
  expect(nodeConditions(undefined, true, T0)[3]).toMatchObject({ status: "True", reason: "KubeletReady" });
});

test("heartbeats move lastHeartbeatTime only; a flip moves lastTransitionTime", () => {
  const a = nodeConditions([registeredNotReady(T0)], false, T0 + 5000);
  expect(a[3]).toMatchObject({ lastTransitionTime: "2026-12-01T10:00:00Z", lastHeartbeatTime: "2026-12-01T10:00:05Z" });
  const b = nodeConditions(a, true, T0 + 9000);
  expect(b[3]).toMatchObject({ status: "True", lastTransitionTime: "2026-12-01T10:00:09Z" });
  const c = nodeConditions(b, true, T0 + 19_000);
  expect(c[3]).toMatchObject({ lastTransitionTime: "2026-12-01T10:00:09Z", lastHeartbeatTime: "2026-12-01T10:00:19Z" });
  expect(c[0]?.lastTransitionTime).toBe("2026-12-01T10:00:05Z");
});
