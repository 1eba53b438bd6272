/** The branch-ENI table agrees with the simulated instance types' trunking flags and AWS's figures. */
import { expect, test } from "bun:test";
import { INSTANCE_TYPES } from "./instance-types.ts";
import TRUNK_LIMITS from "./trunk-limits.json";
import { branchLimit } from "./trunk-ops.ts";

test("a simulated type has a branch limit exactly when it supports trunking", () => {
  for (const t of Object.values(INSTANCE_TYPES)) expect([t.name, branchLimit(t.name) !== undefined]).toEqual([t.name, t.trunking]);
});

test("published figures: m5.large 9, m5.2xlarge 38, c5.4xlarge 54, m5.24xlarge 107; t3 none; at most 120", () => {
  expect(["m5.large", "m5.2xlarge", "c5.4xlarge", "m5.24xlarge", "t3.medium", "x9.none"].map(branchLimit)).toEqual([9, 38, 54, 107, undefined, undefined]);
  expect(Math.max(...Object.values(TRUNK_LIMITS as Record<string, number>))).toBe(120);
});
