import { expect, test } from "bun:test";
import { Limiter } from "./limiter.ts";

test("never more than the limit at once, all run, in arrival order, a failure frees its place", async () => {
  const l = new Limiter(2);
  let active = 0;
  let most = 0;
  const started: number[] = [];
  const job = (i: number) => async () => {
    started.push(i);
    active++;
    most = Math.max(most, active);
    await Bun.sleep(10);
    active--;
    if (i === 1) throw new Error("one fails");
    return i;
  };
  const results = await Promise.allSettled([0, 1, 2, 3, 4].map((i) => l.run(job(i))));
  expect(most).toBe(2);
  expect(started).toEqual([0, 1, 2, 3, 4]);
  expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled", "fulfilled"]);
});

test("a limit below 1 is refused", () => {
  expect(() => new Limiter(0)).toThrow(RangeError);
});
