import { describe, expect, test } from "bun:test";
import { idleLowerBound } from "./bound.ts";
import type { TracePod } from "./trace.ts";

const pod = (addAt: number, endAt: number): TracePod => ({ boundAt: addAt - 1_000, addAt, endAt, kind: "cron" });

describe("idle lower bound", () => {
  // 4 pods from 10 s to 30 s (then 10 s cooling), over 100 s: A = 4 on [10 s, 40 s), else 0.
  const pods = [0, 1, 2, 3].map(() => pod(10_000, 30_000));
  const o = { cooldownMs: 10_000, endMs: 100_000 };

  test("no call: the peak is held the whole span", () => {
    const b = idleLowerBound(pods, o.cooldownMs, o.endMs, 0);
    expect(b.meanCooling).toBeCloseTo(0.4, 5); // 4 addresses × 10 s of 100 s
    expect(b.meanFree).toBeCloseTo(4 * 0.7, 1); // held 4 over the 70 s without pods
  });

  test("two calls (grow before, release after): nothing free", () => {
    const b = idleLowerBound(pods, o.cooldownMs, o.endMs, 2);
    expect(b.meanFree).toBeCloseTo(0, 5);
  });

  test("one call: the cheaper side is kept (release after: free only before the pods)", () => {
    const b = idleLowerBound(pods, o.cooldownMs, o.endMs, 1);
    expect(b.meanFree).toBeCloseTo(4 * 0.1, 1);
  });
});
