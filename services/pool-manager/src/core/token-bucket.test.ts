import { describe, expect, test } from "bun:test";
import { bucketOf, BucketSet, TokenBucket } from "./token-bucket.ts";

describe("token bucket", () => {
  test("a burst up to capacity goes through, then callers wait at the refill rate", () => {
    const b = new TokenBucket({ capacity: 3, refillPerSec: 2 }, 0);
    expect([b.take(0), b.take(0), b.take(0)]).toEqual([0, 0, 0]);
    expect(b.take(0)).toBe(500); // 1 token short at 2/s
    expect(b.take(0)).toBe(1000);
    expect(b.take(2000)).toBe(0); // 2 s refill 4 tokens; 2 were owed → 1 left after this one
  });

  test("refill never exceeds capacity", () => {
    const b = new TokenBucket({ capacity: 2, refillPerSec: 10 }, 0);
    expect(b.level(60_000)).toBe(2);
  });

  test("APIs map to AWS's buckets", () => {
    expect(bucketOf("DescribeNetworkInterfaces")).toBe("describe");
    expect(bucketOf("AssignPrivateIpAddresses")).toBe("addressing");
    expect(bucketOf("CreateNetworkInterface")).toBe("addressing");
    expect(bucketOf("AttachNetworkInterface")).toBe("mutating");
    expect(bucketOf("CreateTags")).toBe("tags");
  });

  test("buckets are separate per API class", () => {
    const set = new BucketSet({ describe: { capacity: 1, refillPerSec: 1 }, mutating: { capacity: 1, refillPerSec: 1 }, addressing: { capacity: 1, refillPerSec: 1 }, tags: { capacity: 1, refillPerSec: 1 } }, 0);
    expect(set.take("DescribeSubnets", 0)).toBe(0);
    expect(set.take("AttachNetworkInterface", 0)).toBe(0);
    expect(set.take("DescribeInstances", 0)).toBe(1000);
  });
});

describe("adaptive rate (AIMD)", () => {
  const adapt = { decrease: 0.5, floorPerSec: 0.02, increaseFraction: 0.02 };
  // [what, steps (t = throttled, s = succeeded), rate after] on a 100 + 5/s bucket.
  const rows: Array<[string, string, number]> = [
    ["untouched: the configured rate", "", 5],
    ["a throttled answer halves it", "t", 2.5],
    ["three: 5 / 8", "ttt", 0.625],
    ["never below the floor", "t".repeat(20), 0.02],
    ["a success adds 2% of the configured rate", "tts", 1.35],
    ["successes never go above the configured rate", "t" + "s".repeat(100), 5],
    ["successes at the configured rate change nothing", "sss", 5],
  ];
  for (const [what, steps, rate] of rows) {
    test(what, () => {
      const b = new TokenBucket({ capacity: 100, refillPerSec: 5 }, 0, adapt);
      for (const c of steps) c === "t" ? b.throttled(0) : b.succeeded(0);
      expect(b.ratePerSec()).toBeCloseTo(rate, 6);
    });
  }

  // Cut to 1.25/s at 0 (no tokens; burst 25, full again after 20 s), then read at [ms]: 1% of 5/s back per idle second.
  const idleRows: Array<[string, number, number]> = [
    ["still refilling (calls would wait): no recovery", 15_000, 1.25],
    ["full for 40 s: +40 × 0.05", 60_000, 3.25],
    ["never above the configured rate", 3_600_000, 5],
  ];
  for (const [what, readAt, rate] of idleRows) {
    test(`idle recovery: ${what}`, () => {
      const b = new TokenBucket({ capacity: 100, refillPerSec: 5 }, 0, { ...adapt, recoverPerSec: 0.01 });
      b.throttled(0);
      b.throttled(0);
      b.level(readAt);
      expect(b.ratePerSec()).toBeCloseTo(rate, 6);
    });
  }

  test("the set says when a bucket was throttled recently or has not recovered since", () => {
    const set = new BucketSet({ describe: { capacity: 100, refillPerSec: 20 }, mutating: { capacity: 50, refillPerSec: 5 }, addressing: { capacity: 100, refillPerSec: 5 }, tags: { capacity: 100, refillPerSec: 10 } }, 0, { ...adapt, recoverPerSec: 0.01 });
    expect(set.throttledWithin("addressing", 0, 60_000)).toBe(false);
    set.throttled("AssignPrivateIpAddresses", 1_000); // 2.5/s
    expect(set.throttledWithin("addressing", 30_000, 60_000)).toBe(true);
    expect(set.throttledWithin("mutating", 30_000, 60_000)).toBe(false);
    // 61 s on: outside the window, but the rate is still below 5/s (full at 41 s, +0.05/s per idle s).
    expect(set.throttledWithin("addressing", 62_000, 60_000)).toBe(true);
    expect(set.throttledWithin("addressing", 200_000, 60_000)).toBe(false);
  });

  test("a throttled answer drops the tokens left: the next call waits at the cut rate", () => {
    const b = new TokenBucket({ capacity: 100, refillPerSec: 5 }, 0, adapt);
    expect(b.take(0)).toBe(0); // 99 left
    b.throttled(0); // 2.5/s, no tokens
    expect(b.take(0)).toBe(400);
  });

  test("the burst size follows the rate: a throttled bucket does not refill to the full burst", () => {
    const b = new TokenBucket({ capacity: 100, refillPerSec: 5 }, 0, adapt);
    b.throttled(0);
    b.throttled(0); // 1.25/s → burst 25
    expect(b.level(3_600_000)).toBe(25);
  });

  test("a bucket configured below the floor keeps its configured rate as the floor", () => {
    const b = new TokenBucket({ capacity: 1, refillPerSec: 0.01 }, 0, adapt);
    b.throttled(0);
    expect(b.ratePerSec()).toBe(0.01);
  });

  test("BucketSet: per API class; the state shows configured and current rates", () => {
    const set = new BucketSet({ describe: { capacity: 100, refillPerSec: 20 }, mutating: { capacity: 50, refillPerSec: 5 }, addressing: { capacity: 100, refillPerSec: 5 }, tags: { capacity: 100, refillPerSec: 10 } }, 0, adapt);
    set.throttled("CreateNetworkInterface", 0);
    expect(set.rates()).toEqual({ describe: 20, mutating: 5, addressing: 2.5, tags: 10 });
    expect(set.state(0).addressing).toMatchObject({ refillPerSec: 5, ratePerSec: 2.5, tokens: 0 });
  });
});
