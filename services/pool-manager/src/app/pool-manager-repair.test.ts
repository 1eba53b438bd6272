// What a throttled or failing EC2 leaves undone is finished later, and a failing account is
// not hammered: the pool-manager against the simulated EC2 through the real SDK (m5.large:
// 3 ENIs × 9 secondary slots; attach 20 ms; faults injected per action, then lifted).
import { afterEach, describe, expect, test } from "bun:test";
import { PROJECT_DEFAULTS, UPSTREAM_DEFAULTS, type PoolSettings } from "../core/settings.ts";
import { FakeBroker, manager, simWorld, type Harness } from "./fakes.test-support.ts";

let h: Harness | undefined;
afterEach(async () => {
  h?.pm.stop();
  await h?.w.stop();
  h = undefined;
});

const up = (o: Partial<PoolSettings> = {}): PoolSettings => ({ ...UPSTREAM_DEFAULTS, ...o });
const created = (x: Harness) => Object.values(x.w.model.state.enis).filter((e) => e.description === `aws-K8S-${x.w.instanceId}`);
const fail = (actions: string[]) => ({ errors: Object.fromEntries(actions.map((a) => [a, { rate: 1, code: "InternalError" as const }])) });

async function cycleUntil(x: Harness, done: () => boolean, max = 60): Promise<void> {
  for (let i = 0; i < max && !done(); i++) {
    await x.pm.cycle();
    await Bun.sleep(25); // the harness backs off 20 → 200 ms after a failed cycle
  }
}

describe("DeleteOnTermination", () => {
  test("not settable at first (ModifyNetworkInterfaceAttribute failing): listed on /debug, set by later cycles once EC2 answers", async () => {
    h = manager(await simWorld({ faults: fail(["ModifyNetworkInterfaceAttribute"]) }), up({ warmEniTarget: 3 }));
    const x = h;
    await x.pm.start();
    await cycleUntil(x, () => created(x).length >= 2, 20);
    expect(created(x).length).toBeGreaterThanOrEqual(2);
    expect(created(x).every((e) => e.attachment && !e.attachment.deleteOnTermination)).toBe(true);
    expect((x.pm.debug().deleteOnTerminationPending as string[]).length).toBeGreaterThanOrEqual(2);
    x.w.server.service.setFaults({ errors: {} });
    await cycleUntil(x, () => created(x).every((e) => e.attachment?.deleteOnTermination));
    expect(created(x).map((e) => e.attachment?.deleteOnTermination)).toEqual(created(x).map(() => true));
    expect(x.pm.debug().deleteOnTerminationPending).toEqual([]);
  }, 30_000);

  test("while the account throttles the node's addressing calls it waits (pods first), for at most 10 min after the ENI's creation", async () => {
    const clock = { offset: 0 };
    // The demand policy with WARM_IP_TARGET 20 (m5.large: 9 on the primary, two ENIs more).
    h = manager(await simWorld(), { ...PROJECT_DEFAULTS, warmIpTarget: 20 }, { now: () => Date.now() + clock.offset });
    const x = h;
    x.w.guard.buckets.throttled("AssignPrivateIpAddresses", Date.now()); // the account said RequestLimitExceeded just now
    await x.pm.start();
    await cycleUntil(x, () => created(x).length >= 2, 20);
    for (let i = 0; i < 3; i++) await x.pm.cycle();
    expect(created(x).length).toBeGreaterThanOrEqual(2);
    expect(created(x).every((e) => e.attachment && !e.attachment.deleteOnTermination)).toBe(true);
    // Still busy (the guard's clock has not moved), but the ENIs are 10 min old: set now.
    clock.offset = 600_001;
    await cycleUntil(x, () => created(x).every((e) => e.attachment?.deleteOnTermination), 5);
    expect(created(x).map((e) => e.attachment?.deleteOnTermination)).toEqual(created(x).map(() => true));
  }, 30_000);
});

describe("ENIs created but never attached", () => {
  test("attach and delete failing: the ENI is kept for deletion (on /debug) and deleted once EC2 answers; nothing leaks", async () => {
    h = manager(await simWorld({ faults: fail(["AttachNetworkInterface", "DeleteNetworkInterface"]) }), up({ warmEniTarget: 3 }));
    const x = h;
    await x.pm.start();
    await cycleUntil(x, () => x.pm.model.pendingDeletes.size > 0, 10);
    const pending = Object.keys(x.pm.debug().pendingEniDeletes as Record<string, unknown>);
    expect(pending.length).toBeGreaterThan(0);
    expect(pending.every((id) => x.w.model.state.enis[id] && !x.w.model.state.enis[id]!.attachment)).toBe(true);
    x.w.server.service.setFaults({ errors: {} });
    await cycleUntil(x, () => x.pm.model.pendingDeletes.size === 0 && created(x).length >= 2);
    expect(x.pm.model.pendingDeletes.size).toBe(0);
    for (const id of pending) expect(x.w.model.state.enis[id]).toBeUndefined();
    expect(created(x).filter((e) => !e.attachment).map((e) => e.id)).toEqual([]);
    expect(created(x).length).toBe(2);
  }, 30_000);
});

describe("cycle back-off", () => {
  test("after a failed grow, usage pushes and misses start no EC2 call until the back-off ends; then the pool grows and the back-off resets", async () => {
    const clock = { offset: 0 };
    const broker = new FakeBroker();
    h = manager(await simWorld({ faults: fail(["AssignPrivateIpAddresses"]) }), { ...PROJECT_DEFAULTS }, { now: () => Date.now() + clock.offset, cycleBackoff: { firstMs: 60_000, maxMs: 60_000 } }, { broker });
    const x = h;
    await x.pm.start();
    await x.pm.preScale; // the pre-scale assign fails (demand policy: start-up does not wait for it)
    expect(x.pm.backoff.failures).toBe(1);
    const calls = () => x.w.mutatingCalls();
    const before = calls();
    for (let misses = 1; misses <= 5; misses++) {
      x.pm.onUsage({ capacityVersion: -1, assigned: 0, cooling: 0, cidrs: [], misses, waiting: 3 });
      await x.pm.cycle();
    }
    expect(calls()).toBe(before);
    expect(x.pm.debug().cycleBackoff).toMatchObject({ failures: 1 });
    x.w.server.service.setFaults({ errors: {} });
    clock.offset += 61_000;
    await x.pm.cycle();
    expect(calls()).toBeGreaterThan(before);
    expect(x.pm.backoff.failures).toBe(0);
    expect(x.pm.model.snapshot().enis.flatMap((e) => e.cidrs).length).toBeGreaterThanOrEqual(3);
  }, 30_000);

  test("start-up retries after a jittered back-off until EC2 answers, saying why meanwhile", async () => {
    h = manager(await simWorld({ faults: fail(["DescribeInstanceTypes"]) }), up());
    const x = h;
    const failures: number[] = [];
    const started = x.pm.startWithRetry((_err, ms) => {
      failures.push(ms);
      if (failures.length === 2) x.w.server.service.setFaults({ errors: {} });
    });
    await started;
    expect(failures.length).toBe(2);
    expect(failures.every((ms) => ms >= 10 && ms <= 200)).toBe(true); // harness: 20 → 200 ms, equal jitter
    expect(x.pm.model.ready).toBe(true);
  }, 30_000);
});

describe("concurrent ENI creation", () => {
  test("the ENIs of one grow are created and attached together, at distinct device indexes, all set up", async () => {
    const broker = new FakeBroker();
    broker.waiting = 20; // 20 ADDs waiting: the primary's 9 slots and two new ENIs
    h = manager(await simWorld({ faults: { latencyMs: { CreateNetworkInterface: 150, AttachNetworkInterface: 100 } } }), { ...PROJECT_DEFAULTS }, {}, { broker });
    const x = h;
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
    await x.pm.start();
    await x.pm.preScale;
    const enis = created(x);
    expect(enis.length).toBe(2);
    expect(most).toBe(2);
    expect(new Set(enis.map((e) => e.attachment?.deviceIndex)).size).toBe(2);
    expect([...x.net.enis.keys()].sort()).toEqual(enis.map((e) => e.id).sort());
  }, 30_000);
});
