import { expect, test } from "bun:test";
import { Backoff } from "./backoff.ts";

test("a crashing container: restarted at once, then after 10, 20, 40, 80, 160, 300, 300 s", () => {
  const b = new Backoff(10_000, 300_000);
  let now = 0;
  const waits: number[] = [];
  for (let crash = 0; crash < 8; crash++) {
    now += 1000; // it ran 1 s, then exited
    const at = b.retryAt("pod/c", now);
    waits.push((at - now) / 1000);
    now = at;
    b.next("pod/c", now);
  }
  expect(waits).toEqual([0, 10, 20, 40, 80, 160, 300, 300]);
});

test("a container that ran longer than twice the maximum starts over from the base", () => {
  const b = new Backoff(10_000, 300_000);
  b.next("k", 0);
  b.next("k", 1000);
  expect(b.get("k")?.delayMs).toBe(20_000);
  expect(b.retryAt("k", 1000 + 600_001)).toBe(1000 + 600_001);
  expect(b.next("k", 1000 + 600_001)).toBe(10_000);
});

test("keys are independent; reset and resetPrefix forget", () => {
  const b = new Backoff(1000, 4000);
  b.next("u1/a", 0);
  b.next("u1/b", 0);
  b.next("u2/a", 0);
  expect(b.retryAt("u1/a", 100)).toBe(1100);
  b.resetPrefix("u1/");
  expect(b.retryAt("u1/a", 100)).toBe(100);
  expect(b.retryAt("u2/a", 100)).toBe(1100);
  b.reset("u2/a");
  expect(b.get("u2/a")).toBeUndefined();
});

test("a base above the maximum is refused", () => {
  expect(() => new Backoff(10, 5)).toThrow(RangeError);
  expect(() => new Backoff(0, 5)).toThrow("base");
});
