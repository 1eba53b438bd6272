import { expect, test } from "bun:test";
import { Ec2CallError } from "../../services/pool-manager/src/core/ports.ts";
import { Ec2Account, sdkStandardRetry } from "./account-ec2.ts";
import { Sim } from "./sim.ts";

test("the simulated clock runs timers in time order and lets promise chains run between them", async () => {
  const sim = new Sim();
  const seen: string[] = [];
  const worker = async (name: string, waits: number[]) => {
    for (const w of waits) {
      await sim.sleep(w);
      seen.push(`${name}@${sim.t}`);
    }
  };
  void worker("a", [100, 300]);
  void worker("b", [250, 10]);
  await sim.run(10_000);
  expect(seen).toEqual(["a@100", "b@250", "b@260", "a@400"]);
  expect(sim.t).toBe(10_000);
});

test("a quantum rounds timers up", async () => {
  const sim = new Sim(10);
  let at = -1;
  void sim.sleep(3).then(() => (at = sim.t));
  await sim.run(100);
  expect(at).toBe(10);
});

test("the account throttles once a shared bucket is empty; the SDK retryer retries, then gives up after 10 attempts", async () => {
  const sim = new Sim();
  const account = new Ec2Account(sim, { default: 0 });
  // The address bucket holds 100 tokens: the 101st call at the same instant is throttled.
  const first = Array.from({ length: 100 }, () => account.serve("AssignPrivateIpAddresses", async () => 1));
  const done = account.serve("AssignPrivateIpAddresses", async () => 1).then(
    () => "ok",
    (e) => (e instanceof Ec2CallError ? e.code : "other"),
  );
  await sim.run(1_000);
  expect(await Promise.all(first)).toHaveLength(100);
  expect(await done).toBe("RequestLimitExceeded");
  let attempts = 0;
  const retry = sdkStandardRetry(sim, () => 0);
  const out = retry("X", async () => {
    attempts++;
    throw new Ec2CallError("RequestLimitExceeded", "slow down", "X", 503);
  }).catch((e) => (e as Ec2CallError).code);
  await sim.run(60_000);
  expect(await out).toBe("RequestLimitExceeded");
  expect(attempts).toBe(10);
});
