import { expect, test } from "bun:test";
import { FakeClock } from "./fake-clock.ts";

test("time moves only when the test moves it; timers fire in time order", async () => {
  const clock = new FakeClock(0);
  const fired: string[] = [];
  void clock.sleep(300).then(() => fired.push(`b@${clock.now()}`));
  void clock.sleep(100).then(() => fired.push(`a@${clock.now()}`));
  await Bun.sleep(5);
  expect(fired).toEqual([]);
  await clock.advance(250);
  expect(fired).toEqual(["a@100"]);
  expect(clock.now()).toBe(250);
  await clock.advance(50);
  expect(fired).toEqual(["a@100", "b@300"]);
});

test("run() drives time until the awaited work is done, chains of waits included", async () => {
  const clock = new FakeClock(0);
  const work = async () => {
    for (let i = 0; i < 5; i++) await clock.sleep(1_000);
    return clock.now();
  };
  expect(await clock.run(work())).toBe(5_000);
});

test("run() fails when the work can never finish, or not within its limit", async () => {
  const clock = new FakeClock(0);
  await expect(clock.run(new Promise(() => undefined))).rejects.toThrow("stuck");
  await expect(clock.run(clock.sleep(10_000), 5_000)).rejects.toThrow("within 5000 ms");
});

test("runUntil() stops as soon as the condition holds", async () => {
  const clock = new FakeClock(0);
  let ticks = 0;
  const loop = async () => {
    for (;;) {
      await clock.sleep(100);
      ticks++;
    }
  };
  void loop();
  await clock.runUntil(() => ticks >= 3, "three ticks");
  expect(clock.now()).toBe(300);
});
