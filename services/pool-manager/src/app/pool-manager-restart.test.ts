// A pool-manager restart over a correct pool, against the fake EC2 on a fake clock: the EC2
// state is the same after the new process took over, and it made no mutating call.
// Assumptions: m5.large (3 ENIs × 10 IPv4 → 9 secondary slots each), attach 300 ms, IMDS lag
// 200 ms; FakeBroker stands for addr-broker (its miss counter is cumulative over its own life,
// as addr-broker's is) and is shared by the old and the new process, as on a node.
import { afterEach, describe, expect, test } from "bun:test";
import { PROJECT_DEFAULTS, type PoolSettings } from "../core/settings.ts";
import { FakeBroker, FakeNetConfig } from "../../test-support/fakes.ts";
import { fakeWorld, manager, type Harness } from "../../test-support/harness.ts";

let h: Harness | undefined;
afterEach(() => {
  h?.pm.stop();
  h = undefined;
});

const addresses = (x: Harness) => x.enis().flatMap((e) => e.secondaryIps).sort();
const ec2View = (x: Harness) => JSON.stringify(x.enis().map((e) => ({ id: e.id, ips: [...e.secondaryIps].sort(), prefixes: e.ipv4Prefixes, attachment: e.attachment?.id })));

async function settle(x: Harness, cycles = 6): Promise<void> {
  await x.cycles(cycles);
}

/** Pods hold every address but `free` (in the broker's view), as the bench's held pods do. */
function podsHoldAllBut(x: Harness, free: number): void {
  const all = addresses(x);
  x.broker.use.clear();
  all.forEach((ip, i) => x.broker.use.set(`${ip}/32`, { assigned: i < all.length - free ? 1 : 0, cooling: 0 }));
}

/**
 * ADDs found no address (addr-broker's cumulative counter reaches `missesTotal`); the pool
 * grows for them in one cycle, then those pods take their addresses, leaving 4 free.
 */
async function missedThenServed(x: Harness, missesTotal: number): Promise<number> {
  const before = addresses(x).length;
  x.broker.misses = missesTotal;
  await x.pm.refreshUsage();
  await x.run(x.pm.cycle());
  const grown = addresses(x).length - before;
  podsHoldAllBut(x, 4);
  await x.pm.refreshUsage();
  await settle(x);
  return grown;
}

describe("restart over a correct pool", () => {
  // The bench's configuration (upstream targets set, so the compat planner, with the project's fixes).
  const settings: PoolSettings = { ...PROJECT_DEFAULTS, policy: "compat", warmIpTarget: 4, minimumIpTarget: 10 };

  test("misses addr-broker counted before the restart are not grown for again: EC2 unchanged, no mutating call", async () => {
    const w = fakeWorld();
    const broker = new FakeBroker();
    const net = new FakeNetConfig();
    h = manager(w, settings, {}, { broker, net });
    await h.start();
    await settle(h);
    // Pods arrive; three ADDs found no address: the first process grows for them, then those
    // pods got their addresses and the pool holds exactly WARM_IP_TARGET free.
    podsHoldAllBut(h, 4);
    await h.pm.refreshUsage();
    await settle(h);
    expect(await missedThenServed(h, 3)).toBe(3);
    const before = ec2View(h);
    w.ec2.resetCalls();
    await settle(h, 3);
    expect(w.ec2.mutatingCalls()).toBe(0); // the pool is correct for the running process
    expect(ec2View(h)).toBe(before);

    // The process dies; a new one starts over the same EC2 state and the same addr-broker.
    h.pm.stop();
    h = manager(w, settings, {}, { broker, net });
    await h.start();
    await settle(h);
    h.pm.onUsage(await broker.getUsage()); // addr-broker's next push, same counter
    await settle(h);
    await h.run(h.pm.reconcile(true));
    expect(w.ec2.mutatingCalls()).toBe(0);
    expect(ec2View(h)).toBe(before);
  });

  test("a miss after the restart is still grown for", async () => {
    const w = fakeWorld();
    const broker = new FakeBroker();
    h = manager(w, settings, {}, { broker });
    await h.start();
    await settle(h);
    podsHoldAllBut(h, 4);
    expect(await missedThenServed(h, 5)).toBe(5);
    const total = addresses(h).length;
    h.pm.stop();
    h = manager(w, settings, {}, { broker });
    await h.start();
    await settle(h);
    expect(addresses(h).length).toBe(total); // the 5 old misses: nothing
    expect(await missedThenServed(h, 8)).toBe(3);
    expect(addresses(h).length).toBe(total + 3);
  });

  test("a restarted addr-broker (its miss counter back to 0) still gets its new misses served", async () => {
    const w = fakeWorld();
    const broker = new FakeBroker();
    h = manager(w, settings, {}, { broker });
    await h.start();
    await settle(h);
    podsHoldAllBut(h, 4);
    expect(await missedThenServed(h, 6)).toBe(6);
    // addr-broker restarts: its counter starts at 0 again, then two ADDs miss.
    expect(await missedThenServed(h, 2)).toBe(2);
  });
});

describe("restart over a pool the demand policy keeps (the project's default policy)", () => {
  // No pod watch here: the policy keeps the peak arrivals of the last 5 min free, and the
  // addresses of pods that left within the release delay.
  const settings: PoolSettings = { ...PROJECT_DEFAULTS };

  test("what the old process kept for the burst is not released by the new one until its history covers the horizon", async () => {
    const w = fakeWorld();
    const broker = new FakeBroker();
    const net = new FakeNetConfig();
    h = manager(w, settings, {}, { broker, net });
    await h.start();
    await settle(h);
    // A burst: three waves of six pods, each wave missing first, then served.
    for (let wave = 1; wave <= 3; wave++) {
      broker.misses += 6;
      await h.pm.refreshUsage();
      await h.run(h.pm.cycle());
      podsHoldAllBut(h, Math.max(addresses(h).length - 6 * wave, 0));
      await h.pm.refreshUsage();
      await h.run(h.pm.cycle());
    }
    // Most of them leave again; the first process keeps their addresses (burst room, release delay).
    const all = addresses(h);
    podsHoldAllBut(h, all.length - 10);
    await h.pm.refreshUsage();
    await settle(h);
    const before = ec2View(h);
    w.ec2.resetCalls();
    await settle(h, 3);
    expect(w.ec2.mutatingCalls()).toBe(0); // correct for the running process: nothing to do
    expect(addresses(h).length).toBeGreaterThan(12); // it keeps more than the pods hold

    h.pm.stop();
    h = manager(w, settings, {}, { broker, net });
    await h.start();
    await settle(h);
    h.pm.onUsage(await broker.getUsage());
    await settle(h);
    await h.run(h.pm.reconcile(true));
    expect(w.ec2.mutatingCalls()).toBe(0);
    expect(ec2View(h)).toBe(before);

    // Once its own history covers the arrival horizon (5 min without the pod watch), the new
    // process sizes the pool from what it saw: the surplus goes.
    await w.clock.advance(301_000);
    await h.pm.refreshUsage();
    await settle(h);
    expect(addresses(h).length).toBeLessThan(all.length);
  });
});

describe("restart while addr-broker does not place the pods' addresses yet", () => {
  // No MINIMUM_IP_TARGET: only WARM_IP_TARGET=4 keeps addresses, so a view with the pods'
  // addresses free has a surplus to give back.
  const settings: PoolSettings = { ...PROJECT_DEFAULTS, policy: "compat", warmIpTarget: 4, minimumIpTarget: 0 };

  test("a usage report counting assigned addresses under no CIDR releases nothing; the complete one is planned on", async () => {
    const w = fakeWorld();
    const broker = new FakeBroker();
    h = manager(w, settings, {}, { broker });
    await h.start();
    await settle(h);
    podsHoldAllBut(h, 0);
    await h.pm.refreshUsage();
    await settle(h);
    podsHoldAllBut(h, 4);
    await h.pm.refreshUsage();
    await settle(h);
    expect(addresses(h).length).toBe(8); // 4 held by pods, WARM_IP_TARGET=4 free
    const before = ec2View(h);
    w.ec2.resetCalls();
    h.pm.stop();
    // addr-broker without capacity (it restarted too, or holds the new process's not-ready
    // snapshot): the same pods assigned, but no CIDR to count them under.
    const complete = broker.getUsage.bind(broker);
    broker.getUsage = async () => ({ ...(await complete()), cidrs: [] });
    h = manager(w, settings, {}, { broker });
    await h.start();
    await settle(h);
    expect(w.ec2.mutatingCalls()).toBe(0);
    expect(ec2View(h)).toBe(before);
    // The complete report again: the pool is correct, still nothing to do.
    broker.getUsage = complete;
    await h.pm.refreshUsage();
    await settle(h);
    expect(w.ec2.mutatingCalls()).toBe(0);
    expect(ec2View(h)).toBe(before);
  });
});
