import { expect, test } from "bun:test";
import { PoolConditionsTracker } from "./pool-conditions.ts";

test("each event sets its own condition; the planner's view is a copy", () => {
  const c = new PoolConditionsTracker();
  c.subnetRanOut("InsufficientCidrBlocks", 1_000);
  c.subnetRanOut("InsufficientFreeAddressesInSubnet", 2_000);
  c.shrunk(3_000);
  c.nodeUnschedulable(true);
  c.accountThrottling(true, true);
  const v = c.view();
  expect(v).toMatchObject({ insufficientPrefixesAtMs: 1_000, insufficientAddressesAtMs: 2_000, lastShrinkAtMs: 3_000, node: { unschedulable: true }, ec2Busy: true, ec2BusyLately: true });
  v.node.unschedulable = false;
  expect(c.view().node.unschedulable).toBe(true);
});

test("new ENIs blocked with a reason, then allowed again", () => {
  const c = new PoolConditionsTracker();
  c.blockNewEnis("no ENIConfig named x");
  expect(c.view().newEniBlocked).toBe("no ENIConfig named x");
  c.allowNewEnis();
  expect(c.newEniBlocked).toBeUndefined();
});

test("misses before the first report are the baseline, not a burst", () => {
  const c = new PoolConditionsTracker();
  c.missBaseline(40);
  c.usageReported(1_000, 0, 40, true);
  c.usageReported(2_000, 0, 43, true);
  expect(c.view().demand!.samples.map((s) => s.arrivals)).toEqual([0, 3]);
});
