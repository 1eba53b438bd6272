// Ec2Guard's adaptive rate on an injected clock: many nodes' guards in front of one
// account's bucket (AWS's addressing bucket, 100 + 5/s, answering RequestLimitExceeded
// when empty). Time is simulated (a timer queue), nothing sleeps for real.
import { describe, expect, test } from "bun:test";
import { Ec2CallError } from "../core/ports.ts";
import { AIMD, TokenBucket, type AdaptSpec } from "../core/token-bucket.ts";
import { Ec2Guard } from "./ec2-guard.ts";

/** A minimal discrete-event clock: sleeps are timers; run() jumps from timer to timer. */
function virtualClock() {
  let t = 0;
  const timers: Array<{ at: number; seq: number; fn: () => void }> = [];
  let seq = 0;
  const sleep = (ms: number) => new Promise<void>((r) => void timers.push({ at: t + Math.max(ms, 0), seq: seq++, fn: r }));
  const run = async (until: number) => {
    for (;;) {
      await new Promise<void>((r) => setImmediate(r));
      timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = timers[0];
      if (!next || next.at > until) return;
      t = next.at;
      timers.shift()!.fn();
    }
  };
  return { now: () => t, sleep, run };
}

/** `nodes` guards, each calling CreateNetworkInterface back to back, for `ms` simulated. */
async function fleet(nodes: number, adapt: AdaptSpec, ms: number) {
  const clock = virtualClock();
  const account = new TokenBucket({ capacity: 100, refillPerSec: 5 }, 0, { decrease: 1, floorPerSec: 5, increaseFraction: 0 });
  let ok = 0;
  let throttled = 0;
  const send = async () => {
    await clock.sleep(50);
    if (account.level(clock.now()) < 1) {
      throttled++;
      throw new Ec2CallError("RequestLimitExceeded", "Request limit exceeded.", "CreateNetworkInterface", 503);
    }
    account.take(clock.now());
    ok++;
  };
  let seed = 7;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const guards = Array.from({ length: nodes }, () => new Ec2Guard({ now: clock.now, sleep: clock.sleep, random, adapt, maxRetries: 0 }));
  let stop = false;
  for (const g of guards) {
    void (async () => {
      while (!stop) await g.call("CreateNetworkInterface", send).catch(() => clock.sleep(1_000));
    })();
  }
  await clock.run(ms);
  stop = true;
  const rateSum = guards.reduce((n, g) => n + g.buckets.rates().addressing!, 0);
  return { ok, throttled, rateSum };
}

describe("Ec2Guard adaptive rate (AIMD)", () => {
  test("40 nodes converge on the account's 5 calls/s: few throttled answers, unlike fixed client buckets", async () => {
    const fixed = await fleet(40, { decrease: 1, floorPerSec: 5, increaseFraction: 0 }, 300_000);
    const adaptive = await fleet(40, AIMD, 300_000);
    console.log(`ec2-guard: 40 nodes, 300 s: fixed buckets ${fixed.ok} ok / ${fixed.throttled} throttled; AIMD ${adaptive.ok} ok / ${adaptive.throttled} throttled, rates sum ${adaptive.rateSum.toFixed(2)}/s`);
    // Both get about the account's budget through (100 + 5/s over 300 s ≈ 1,600).
    expect(adaptive.ok).toBeGreaterThan(1_200);
    expect(fixed.ok).toBeGreaterThan(1_200);
    // Fixed buckets of the account's size: each node offers 5/s, the fleet 200/s → most calls throttled.
    expect(fixed.throttled).toBeGreaterThan(5 * fixed.ok);
    // Adaptive: far fewer throttled answers than successes, and the rates sum near the budget.
    expect(adaptive.throttled).toBeLessThan(adaptive.ok);
    expect(adaptive.rateSum).toBeLessThan(3 * 5);
  }, 30_000);

  test("throttled answers cut the API's rate (calls then wait); successes bring it back", async () => {
    const clock = virtualClock();
    const g = new Ec2Guard({ now: clock.now, sleep: clock.sleep, random: () => 0.5, maxRetries: 3 });
    let answers = ["RequestLimitExceeded", "RequestLimitExceeded", "RequestLimitExceeded"];
    const send = async () => {
      const code = answers.shift();
      if (code) throw new Ec2CallError(code, "throttled", "AssignPrivateIpAddresses", 503);
      return "ok";
    };
    const done = g.call("AssignPrivateIpAddresses", send);
    await clock.run(600_000);
    expect(await done).toBe("ok");
    expect(g.counts.AssignPrivateIpAddresses).toMatchObject({ calls: 4, throttled: 3 });
    expect(g.counts.AssignPrivateIpAddresses!.waitMs).toBeGreaterThan(0); // the retries waited on the cut bucket
    expect(g.buckets.rates().addressing).toBeCloseTo(5 / 8 + 0.1, 6); // 5 → 0.625 after 3 cuts, +2% of 5 for the success
    expect(g.buckets.rates().describe).toBe(20); // other API classes untouched
    answers = [];
    for (let i = 0; i < 60; i++) {
      const p = g.call("AssignPrivateIpAddresses", send);
      await clock.run(clock.now() + 60_000);
      await p;
    }
    expect(g.buckets.rates().addressing).toBe(5);
  });
});

describe("calls that yield to others", () => {
  /** Two nodes, one sending urgent creates back to back, the other creates that yield, into one account's bucket for `ms`. */
  async function twoNodes(ms: number, throttledFirst: boolean) {
    const clock = virtualClock();
    const account = new TokenBucket({ capacity: 100, refillPerSec: 5 }, 0, { decrease: 1, floorPerSec: 5, increaseFraction: 0 });
    const ok = { urgent: 0, yielding: 0 };
    const send = (who: keyof typeof ok) => async () => {
      await clock.sleep(50);
      if (account.level(clock.now()) < 1) throw new Ec2CallError("RequestLimitExceeded", "Request limit exceeded.", "CreateNetworkInterface", 503);
      account.take(clock.now());
      ok[who]++;
    };
    const guards = [0, 1].map(() => new Ec2Guard({ now: clock.now, sleep: clock.sleep, random: () => 0.5, maxRetries: 0 }));
    // A crowded account: both nodes were cut to the floor by throttling, and the account's bucket is empty.
    if (throttledFirst) {
      for (const g of guards) for (let i = 0; i < 6; i++) g.buckets.throttled("CreateNetworkInterface", 0);
      for (let i = 0; i < 100; i++) account.take(0);
    }
    let stop = false;
    const loop = (g: Ec2Guard, who: keyof typeof ok) =>
      void (async () => {
        while (!stop) await g.call("CreateNetworkInterface", send(who), { yieldToOthers: who === "yielding" }).catch(() => undefined);
      })();
    loop(guards[0]!, "urgent");
    loop(guards[1]!, "yielding");
    await clock.run(ms);
    stop = true;
    return ok;
  }

  test("on a crowded account (rates cut to the floor) a yielding create gets through about a quarter as often as an urgent one", async () => {
    const ok = await twoNodes(400_000, true);
    expect(ok.urgent).toBeGreaterThan(20);
    expect(ok.yielding).toBeGreaterThan(0);
    expect(ok.yielding * 2).toBeLessThan(ok.urgent);
  });

  test("on a calm account (full buckets) a node's few yielding creates wait no more than urgent ones: none", async () => {
    const clock = virtualClock();
    const g = new Ec2Guard({ now: clock.now, sleep: clock.sleep, random: () => 0.5 });
    const done: number[] = [];
    for (let i = 0; i < 3; i++) void g.call("CreateNetworkInterface", async () => void done.push(clock.now()), { yieldToOthers: true });
    await clock.run(60_000);
    expect(done).toEqual([0, 0, 0]);
    expect(g.counts.CreateNetworkInterface).toMatchObject({ calls: 3, waitMs: 0 });
  });
});
