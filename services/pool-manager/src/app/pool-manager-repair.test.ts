// What a throttled or failing EC2 leaves undone is finished later, and a failing account is
// not hammered: the pool-manager against the fake EC2 on a fake clock (m5.large: 3 ENIs × 9
// secondary slots; attach 300 ms; faults injected per action, then healed).
import { afterEach, describe, expect, test } from "bun:test";
import { PROJECT_DEFAULTS, UPSTREAM_DEFAULTS, type PoolSettings } from "../core/settings.ts";
import { FakeBroker } from "../../test-support/fakes.ts";
import { fakeWorld, manager, type Harness } from "../../test-support/harness.ts";

let h: Harness | undefined;
afterEach(() => {
  h?.pm.stop();
  h = undefined;
});

const up = (o: Partial<PoolSettings> = {}): PoolSettings => ({ ...UPSTREAM_DEFAULTS, ...o });
const created = (x: Harness) => x.created();
/** A world whose EC2 answers InternalError to every call of these actions until healed. */
const failingWorld = (actions: string[]) => {
  const w = fakeWorld();
  for (const a of actions) w.ec2.faults.fail(a, "InternalError");
  return w;
};

/** Cycles until `done` (at most `max`), letting each failed cycle's back-off run out in between. */
async function cycleUntil(x: Harness, done: () => boolean, max = 60): Promise<void> {
  for (let i = 0; i < max && !done(); i++) {
    await x.run(x.pm.cycle());
    await x.w.clock.advance(Math.max(x.pm.backoff.untilMs - x.w.clock.now(), 0) + 1);
  }
}

describe("DeleteOnTermination", () => {
  test("not settable at first (ModifyNetworkInterfaceAttribute failing): listed on /debug, set by later cycles once EC2 answers", async () => {
    h = manager(failingWorld(["ModifyNetworkInterfaceAttribute"]), up({ warmEniTarget: 3 }));
    const x = h;
    await x.start();
    await cycleUntil(x, () => created(x).length >= 2, 20);
    expect(created(x).length).toBeGreaterThanOrEqual(2);
    expect(created(x).every((e) => e.attachment && !e.attachment.deleteOnTermination)).toBe(true);
    expect((x.pm.debug().deleteOnTerminationPending as string[]).length).toBeGreaterThanOrEqual(2);
    x.w.ec2.faults.heal();
    await cycleUntil(x, () => created(x).every((e) => e.attachment?.deleteOnTermination));
    expect(created(x).map((e) => e.attachment?.deleteOnTermination)).toEqual(created(x).map(() => true));
    expect(x.pm.debug().deleteOnTerminationPending).toEqual([]);
  });

  test("while the account throttles the node's addressing calls it waits (pods first), for at most 10 min after the ENI's creation", async () => {
    // The demand policy with WARM_IP_TARGET 20 (m5.large: 9 on the primary, two ENIs more).
    h = manager(fakeWorld(), { ...PROJECT_DEFAULTS, warmIpTarget: 20 }, {});
    const x = h;
    const accountThrottles = () => x.w.guard.buckets.throttled("AssignPrivateIpAddresses", x.w.clock.now()); // RequestLimitExceeded just now
    accountThrottles();
    await x.start();
    await cycleUntil(x, () => created(x).length >= 2, 20);
    await x.cycles(3);
    expect(created(x).length).toBeGreaterThanOrEqual(2);
    expect(created(x).every((e) => e.attachment && !e.attachment.deleteOnTermination)).toBe(true);
    // Still busy (throttled again just now), but the ENIs are 10 min old: set now.
    await x.w.clock.advance(600_001);
    accountThrottles();
    await cycleUntil(x, () => created(x).every((e) => e.attachment?.deleteOnTermination), 5);
    expect(created(x).map((e) => e.attachment?.deleteOnTermination)).toEqual(created(x).map(() => true));
  });
});

describe("ENIs created but never attached", () => {
  test("attach and delete failing: the ENI is kept for deletion (on /debug) and deleted once EC2 answers; nothing leaks", async () => {
    h = manager(failingWorld(["AttachNetworkInterface", "DeleteNetworkInterface"]), up({ warmEniTarget: 3 }));
    const x = h;
    await x.start();
    await cycleUntil(x, () => x.pm.model.pendingDeletes.size > 0, 10);
    const pending = Object.keys(x.pm.debug().pendingEniDeletes as Record<string, unknown>);
    expect(pending.length).toBeGreaterThan(0);
    expect(pending.every((id) => x.w.ec2.eniState(id) && !x.w.ec2.eniState(id)!.attachment)).toBe(true);
    x.w.ec2.faults.heal();
    await cycleUntil(x, () => x.pm.model.pendingDeletes.size === 0 && created(x).length >= 2);
    expect(x.pm.model.pendingDeletes.size).toBe(0);
    for (const id of pending) expect(x.w.ec2.eniState(id)).toBeUndefined();
    expect(created(x).filter((e) => !e.attachment).map((e) => e.id)).toEqual([]);
    expect(created(x).length).toBe(2);
  });
});

describe("cycle back-off", () => {
  test("after a failed grow, usage pushes and misses start no EC2 call until the back-off ends; then the pool grows and the back-off resets", async () => {
    const broker = new FakeBroker();
    h = manager(failingWorld(["AssignPrivateIpAddresses"]), { ...PROJECT_DEFAULTS }, { cycleBackoff: { firstMs: 60_000, maxMs: 60_000 } }, { broker });
    const x = h;
    await x.start();
    await x.run(x.pm.preScale); // the pre-scale assign fails (demand policy: start-up does not wait for it)
    expect(x.pm.backoff.failures).toBe(1);
    const calls = () => x.w.ec2.mutatingCalls();
    const before = calls();
    for (let misses = 1; misses <= 5; misses++) {
      x.pm.onUsage({ capacityVersion: -1, assigned: 0, cooling: 0, cidrs: [], misses, waiting: 3 });
      await x.run(x.pm.cycle());
      await x.w.clock.advance(1_000);
    }
    expect(calls()).toBe(before);
    expect(x.pm.debug().cycleBackoff).toMatchObject({ failures: 1 });
    x.w.ec2.faults.heal();
    await x.w.clock.advance(61_000);
    await x.run(x.pm.cycle());
    expect(calls()).toBeGreaterThan(before);
    expect(x.pm.backoff.failures).toBe(0);
    expect(x.pm.model.snapshot().enis.flatMap((e) => e.cidrs).length).toBeGreaterThanOrEqual(3);
  });

  test("start-up retries after a jittered back-off until EC2 answers, saying why meanwhile", async () => {
    h = manager(failingWorld(["DescribeInstanceTypes"]), up(), { startupBackoff: { firstMs: 20, maxMs: 200 } });
    const x = h;
    const failures: number[] = [];
    const started = x.pm.startWithRetry((_err, ms) => {
      failures.push(ms);
      if (failures.length === 2) x.w.ec2.faults.heal();
    });
    await x.run(started);
    expect(failures.length).toBe(2);
    expect(failures.every((ms) => ms >= 10 && ms <= 200)).toBe(true); // 20 → 200 ms, equal jitter
    expect(x.pm.model.ready).toBe(true);
  });
});

describe("concurrent ENI creation", () => {
  test("the ENIs of one grow are created and attached together, at distinct device indexes, all set up", async () => {
    const broker = new FakeBroker();
    broker.waiting = 20; // 20 ADDs waiting: the primary's 9 slots and two new ENIs
    h = manager(fakeWorld(), { ...PROJECT_DEFAULTS }, {}, { broker });
    const x = h;
    x.w.ec2.faults.latency("CreateNetworkInterface", 150).latency("AttachNetworkInterface", 100);
    let inFlight = 0;
    let most = 0;
    const create = x.w.ec2.createEni.bind(x.w.ec2);
    x.w.ec2.createEni = async (req) => {
      most = Math.max(most, ++inFlight);
      try {
        return await create(req);
      } finally {
        inFlight--;
      }
    };
    await x.start();
    await x.run(x.pm.preScale);
    const enis = created(x);
    expect(enis.length).toBe(2);
    expect(most).toBe(2);
    expect(new Set(enis.map((e) => e.attachment?.deviceIndex)).size).toBe(2);
    expect([...x.net.enis.keys()].sort()).toEqual(enis.map((e) => e.id).sort());
  });
});
