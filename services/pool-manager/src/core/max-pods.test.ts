import { expect, test } from "bun:test";
import { knownInstanceLimits, knownInstanceTypes } from "./known-instance-types.ts";
import { maxPods } from "./max-pods.ts";

test.each([
  // m5.large 3×10: 3 × 9 + 2 = 29 (upstream eni-max-pods.txt)
  [{ maxEnis: 3, ipv4PerEni: 10, vcpus: 2 }, false, false, 29],
  // custom networking: the primary ENI serves no pod: 2 × 9 + 2 = 20
  [{ maxEnis: 3, ipv4PerEni: 10, vcpus: 2 }, false, true, 20],
  // PD: 3 × 9 × 16 + 2 = 434 → capped at 110 below 30 vCPUs
  [{ maxEnis: 3, ipv4PerEni: 10, vcpus: 2 }, true, false, 110],
  // PD on a big type: capped at 250
  [{ maxEnis: 15, ipv4PerEni: 50, vcpus: 96 }, true, false, 250],
  // t3.nano 2×2: 2 × 1 + 2 = 4
  [{ maxEnis: 2, ipv4PerEni: 2, vcpus: 2 }, false, false, 4],
])("%o pd=%p cn=%p → %p", (l, pd, cn, want) => {
  expect(maxPods(l, { prefixDelegation: pd, customNetworking: cn })).toBe(want);
});

test("the built-in table gives upstream's published values (eni-max-pods.txt)", () => {
  const published: Record<string, number> = { "t3.nano": 4, "t3.small": 11, "t3.medium": 17, "t3.large": 35, "m5.large": 29, "m5.xlarge": 58, "m5.4xlarge": 234, "m5.16xlarge": 737, "c5.9xlarge": 234, "r5.2xlarge": 58 };
  for (const [type, want] of Object.entries(published)) expect({ type, pods: maxPods(knownInstanceLimits(type)!, { prefixDelegation: false, customNetworking: false }) }).toEqual({ type, pods: want });
  expect(knownInstanceTypes().every((t) => knownInstanceLimits(t)!.ipv4PerEni >= 2)).toBe(true);
  expect(knownInstanceLimits("toString")).toBeUndefined();
});

test("MAX_ENI caps the ENIs counted; below 1 it means the instance's limit", () => {
  const l = { maxEnis: 4, ipv4PerEni: 15, vcpus: 4 };
  expect(maxPods(l, { prefixDelegation: false, customNetworking: false, maxEni: 2 })).toBe(30);
  expect(maxPods(l, { prefixDelegation: false, customNetworking: false, maxEni: 0 })).toBe(58);
  expect(maxPods(l, { prefixDelegation: false, customNetworking: true, maxEni: 2 })).toBe(16);
});
