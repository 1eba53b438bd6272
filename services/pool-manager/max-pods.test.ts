import { expect, test } from "bun:test";
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
