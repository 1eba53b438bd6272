import { expect, test } from "bun:test";
import { TokenBuckets } from "./throttle.ts";

test("a bucket empties at its capacity and refills at its rate", () => {
  const clock = { t: 0 };
  const b = new TokenBuckets(() => clock.t);
  for (let i = 0; i < 50; i++) expect(b.take("mutating")).toBe(true);
  expect(b.take("mutating")).toBe(false);
  // Other buckets are independent.
  expect(b.take("addressing")).toBe(true);
  clock.t += 199; // 5 tokens/s: not yet one token
  expect(b.take("mutating")).toBe(false);
  clock.t += 1;
  expect(b.take("mutating")).toBe(true);
  expect(b.take("mutating")).toBe(false);
  clock.t += 60_000;
  expect(b.tokens("mutating")).toBe(50);
});

test("scaling shrinks capacity and refill", () => {
  const clock = { t: 0 };
  const b = new TokenBuckets(() => clock.t);
  b.setScale({ capacity: 0.04, refill: 0 }); // describeUnfiltered: 50 * 0.04 = 2
  expect(b.take("describeUnfiltered")).toBe(true);
  expect(b.take("describeUnfiltered")).toBe(true);
  expect(b.take("describeUnfiltered")).toBe(false);
  clock.t += 10_000;
  expect(b.take("describeUnfiltered")).toBe(false);
});
