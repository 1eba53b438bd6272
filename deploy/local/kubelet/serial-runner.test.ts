import { expect, test } from "bun:test";
import { SerialRunner } from "./serial-runner.ts";

test("runs never overlap; kicks during a run fold into one more run", async () => {
  let active = 0;
  let maxActive = 0;
  let runs = 0;
  const r = new SerialRunner(async () => {
    active++;
    maxActive = Math.max(maxActive, active);
    runs++;
    await Bun.sleep(20);
    active--;
  }, () => {});
  r.kick();
  r.kick();
  r.kick();
  await r.idle();
  expect(maxActive).toBe(1);
  expect(runs).toBe(2);
});

test("wakeAt: the earliest time asked for wins; close stops everything", async () => {
  const at: number[] = [];
  const r = new SerialRunner(async () => void at.push(Date.now()), () => {});
  const t0 = Date.now();
  r.wakeAt(t0 + 200);
  r.wakeAt(t0 + 30);
  r.wakeAt(t0 + 500);
  await Bun.sleep(120);
  expect(at.length).toBe(1);
  expect(at[0]! - t0).toBeGreaterThanOrEqual(25);
  r.wakeAt(Date.now() + 20);
  r.close();
  r.kick();
  await Bun.sleep(60);
  expect(at.length).toBe(1);
});

test("an error in a run is reported and the runner keeps going", async () => {
  const errors: unknown[] = [];
  let n = 0;
  const r = new SerialRunner(async () => {
    if (n++ === 0) throw new Error("boom");
  }, (e) => errors.push(e));
  r.kick();
  await r.idle();
  r.kick();
  await r.idle();
  expect(n).toBe(2);
  expect((errors[0] as Error).message).toBe("boom");
});
