// The executor spends the account's shared addressing budget only on calls that carry
// addresses: against the simulated EC2 through the real SDK (m5.large: 3 ENIs × 9 secondary
// slots), faults injected per action and then lifted; outcomes are EC2's state.
import { afterEach, describe, expect, test } from "bun:test";
import { PROJECT_DEFAULTS } from "../core/settings.ts";
import { DEVICE_READ_TTL_MS } from "./device-indexes.ts";
import { FakeBroker, manager, simWorld, type Harness } from "./fakes.test-support.ts";

let h: Harness | undefined;
afterEach(async () => {
  h?.pm.stop();
  await h?.w.stop();
  h = undefined;
});

type Injectable = "InternalError" | "RequestLimitExceeded";
const failing = (actions: Record<string, Injectable>) => ({ errors: Object.fromEntries(Object.entries(actions).map(([a, code]) => [a, { rate: 1, code }])) });
const created = (x: Harness) => Object.values(x.w.model.state.enis).filter((e) => e.description === `aws-K8S-${x.w.instanceId}`);
const primaryOf = (x: Harness) => x.w.model.state.enis[x.w.model.state.instances[x.w.instanceId]!.primaryEniId]!;

/** A started pool-manager (demand policy; its pre-scale has put the floor's few addresses on the primary), the guard retrying nothing. */
async function started(faults: Record<string, Injectable> = {}, clock = { offset: 0 }, instanceType = "m5.large"): Promise<Harness> {
  const x = manager(await simWorld({ instanceType, faults: failing(faults), guard: { maxRetries: 0 } }), { ...PROJECT_DEFAULTS }, { now: () => Date.now() + clock.offset });
  await x.pm.start();
  await x.pm.preScale;
  return x;
}

describe("assign on a throttling account", () => {
  for (const code of ["RequestLimitExceeded", "InternalError"] as const) {
    test(`${code}: the ENI gets no address at all (no second call for one), and the next try gets all it asked for`, async () => {
      h = await started();
      const x = h;
      const primary = primaryOf(x);
      const had = primary.secondaryIps.length;
      x.w.server.service.setFaults(failing({ AssignPrivateIpAddresses: code }));
      const assign = { kind: "assign", eniId: primary.id, cidrKind: "address", count: 5, reason: "test" } as const;
      await expect(x.pm.executor!.run(assign)).rejects.toThrow(code);
      expect(primary.secondaryIps.length).toBe(had);
      expect(x.pm.model.enis.get(primary.id)!.pool.cidrs.length).toBe(had);
      x.w.server.service.setFaults({ errors: {} });
      await x.pm.executor!.run(assign);
      expect(primary.secondaryIps.length).toBe(had + 5);
      expect(x.pm.model.enis.get(primary.id)!.pool.cidrs.length).toBe(had + 5);
    }, 30_000);
  }
});

describe("the device index of a new ENI", () => {
  test("read before the create: when DescribeInstances fails no ENI is created (nothing to delete again)", async () => {
    const clock = { offset: 0 };
    h = await started({ DescribeInstances: "InternalError" }, clock);
    const x = h;
    clock.offset = DEVICE_READ_TTL_MS + 1; // start-up's view of the device indexes is too old to use
    const calls = x.w.mutatingCalls();
    const [err] = await x.pm.executor!.createEnis([{ cidrKind: "address", count: 3 }]);
    expect(String(err)).toContain("InternalError");
    expect(Object.values(x.w.model.state.enis).filter((e) => e.id !== primaryOf(x).id)).toEqual([]);
    expect(x.w.mutatingCalls()).toBe(calls);
    x.w.server.service.setFaults({ errors: {} });
    const [again] = await x.pm.executor!.createEnis([{ cidrKind: "address", count: 3 }]);
    expect(again).toBeUndefined();
    expect(created(x).map((e) => [e.attachment?.deviceIndex, e.secondaryIps.length])).toEqual([[1, 3]]);
  }, 30_000);

  test("known from start-up's read of the instance's ENIs: the first grow needs no DescribeInstances", async () => {
    h = await started({ DescribeInstances: "InternalError" });
    const x = h;
    x.pm.executor!.noteDeviceIndexes([0]); // as start() does from DescribeNetworkInterfaces
    expect(await x.pm.executor!.createEnis([{ cidrKind: "address", count: 2 }])).toEqual([undefined]);
    expect(created(x).map((e) => e.attachment?.deviceIndex)).toEqual([1]);
  }, 30_000);

  test("EC2's answer is reused for the next grow (DescribeInstances failing meanwhile), at the next free device; an attach failure drops it", async () => {
    h = await started();
    const x = h;
    expect(await x.pm.executor!.createEnis([{ cidrKind: "address", count: 2 }])).toEqual([undefined]);
    x.w.server.service.setFaults(failing({ DescribeInstances: "InternalError" }));
    expect(await x.pm.executor!.createEnis([{ cidrKind: "address", count: 2 }])).toEqual([undefined]);
    expect(created(x).map((e) => e.attachment?.deviceIndex).sort()).toEqual([1, 2]);
    // Someone else's attach fails ours: the next grow reads EC2 again (failing here: no ENI).
    x.w.server.service.setFaults(failing({ DescribeInstances: "InternalError", AttachNetworkInterface: "InternalError" }));
    const [attachErr] = await x.pm.executor!.createEnis([{ cidrKind: "address", count: 2 }]);
    expect(String(attachErr)).toContain("InternalError");
    x.w.server.service.setFaults(failing({ DescribeInstances: "InternalError" }));
    await x.pm.executor!.repair(); // deletes the ENI that was never attached
    const before = Object.keys(x.w.model.state.enis).length;
    const [readErr] = await x.pm.executor!.createEnis([{ cidrKind: "address", count: 2 }]);
    expect(String(readErr)).toContain("DescribeInstances");
    expect(Object.keys(x.w.model.state.enis).length).toBe(before);
    expect(created(x).filter((e) => !e.attachment)).toEqual([]);
  }, 30_000);
});

describe("the ENIs of one grow on a throttling account", () => {
  test("created one after another (a node does not draw from the shared bucket twice at once), all of them attached", async () => {
    const broker = new FakeBroker();
    broker.waiting = 20; // the primary's 9 slots and two new ENIs
    h = manager(await simWorld({ faults: { latencyMs: { CreateNetworkInterface: 100 } } }), { ...PROJECT_DEFAULTS }, {}, { broker });
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
    x.w.guard.buckets.throttled("AssignPrivateIpAddresses", Date.now()); // the account said RequestLimitExceeded just now
    await x.pm.start();
    await x.pm.preScale;
    expect(created(x).length).toBe(2);
    expect(created(x).every((e) => e.attachment)).toBe(true);
    expect(most).toBe(1);
  }, 30_000);
});

describe("an ENI the node's pending pods hardly need, on a throttling account", () => {
  test("its create yields to other nodes' calls; one the pods need, or any on a calm account, does not — both are created", async () => {
    h = await started({}, { offset: 0 }, "m5.xlarge"); // room for three ENIs more
    const x = h;
    const asked: boolean[] = [];
    const create = x.w.ec2.createEni.bind(x.w.ec2);
    x.w.ec2.createEni = async (req) => {
      asked.push(req.yieldToOthers === true);
      return create(req);
    };
    const free = () => x.pm.model.poolState().enis.reduce((n, e) => n + e.cidrs.length, 0); // nothing assigned here
    const grow = async (pending: number, busy: boolean) => {
      x.pm.model.pendingPods = pending;
      x.pm.model.conditions.accountThrottling(busy, busy);
      expect(await x.pm.executor!.createEnis([{ cidrKind: "address", count: 8 }])).toEqual([undefined]);
    };
    await grow(free() + 1, true); // 1 pod of 8 addresses: yields
    await grow(free() + 6, true); // 6 pods: needed
    await grow(free() + 1, false); // calm account
    expect(asked).toEqual([true, false, false]);
    expect(created(x).filter((e) => e.attachment).length).toBe(3);
  }, 30_000);
});
