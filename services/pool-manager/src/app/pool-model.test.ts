import { describe, expect, test } from "bun:test";
import { PROJECT_DEFAULTS } from "../core/settings.ts";
import { PoolModel } from "./pool-model.ts";

const usage = (assigned: number) => ({ capacityVersion: 0, assigned, cooling: 0, cidrs: [], misses: 0, waiting: 0 });

describe("pending pods for the planner", () => {
  // [what, watched, pending read, assigned at the read, assigned now, pending for the planner]
  const rows: Array<[string, boolean, number, number, number, number]> = [
    ["as read when nothing was addressed since", true, 42, 58, 58, 42],
    ["pods addressed since the read were among the pending (not counted twice)", true, 42, 58, 75, 25],
    ["never below 0", true, 5, 0, 20, 0],
    ["pods that left since the read change nothing", true, 10, 30, 25, 10],
    ["without the watch, as read", false, 42, 58, 75, 42],
  ];
  for (const [what, watched, pending, atRead, now, want] of rows) {
    test(what, () => {
      const m = new PoolModel({ ...PROJECT_DEFAULTS });
      m.podsWatched = watched;
      m.pendingPods = pending;
      m.assignedAtPendingRead = atRead;
      m.usage = usage(now);
      expect(m.poolUsage(false).pendingPods).toBe(want);
    });
  }
});

describe("the pending count's stamp", () => {
  // A caller that sets the pending count alone (no assignedAtPendingRead): pods holding
  // addresses before the read are not taken off it, only those addressed after it.
  test("set alone, the count is stamped with the assigned count of that moment", () => {
    const m = new PoolModel({ ...PROJECT_DEFAULTS });
    m.podsWatched = true;
    m.usage = usage(30);
    m.pendingPods = 3;
    expect(m.poolUsage(false).pendingPods).toBe(3);
    m.usage = usage(32);
    expect(m.poolUsage(false).pendingPods).toBe(1);
  });
});
