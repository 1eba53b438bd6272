import { describe, expect, test } from "bun:test";
import { backoffDelayMs, CYCLE_BACKOFF } from "./backoff.ts";

describe("back-off delay (1 s → 60 s, equal jitter)", () => {
  // [failures in a row, random draw, ms]
  const rows: Array<[number, number, number]> = [
    [0, 0.5, 0],
    [1, 0, 500],
    [1, 0.999999, 1_000],
    [2, 0, 1_000],
    [3, 0.5, 3_000],
    [6, 1, 32_000],
    [7, 1, 60_000],
    [7, 0, 30_000],
    [50, 0.5, 45_000],
  ];
  for (const [failures, r, ms] of rows) {
    test(`${failures} failure(s), draw ${r} → ${ms} ms`, () => {
      expect(backoffDelayMs(failures, CYCLE_BACKOFF, r)).toBe(ms);
    });
  }
});
