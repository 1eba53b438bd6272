// The executor spends the account's shared addressing budget only on calls that carry
// addresses: against the fake EC2 (m5.large: 3 ENIs × 9 secondary slots; m5.xlarge: 4 × 14),
// the guard retrying nothing, faults injected per action and then healed; outcomes are EC2's
// state.
import { afterEach, describe, expect, test } from "bun:test";
import { FakeBroker } from "../../test-support/fakes.ts";
import type { InjectedCode } from "../../test-support/fake-ec2/faults.ts";
import { fakeWorld, manager, type Harness } from "../../test-support/harness.ts";
import { PROJECT_DEFAULTS } from "../core/settings.ts";
import { DEVICE_READ_TTL_MS } from "./device-indexes.ts";

let h: Harness | undefined;
afterEach(() => {
  h?.pm.stop();
  h = undefined;
});

const failing = (x: Harness, actions: Record<string, InjectedCode>) => {
  x.w.ec2.faults.heal();
  for (const [api, code] of Object.entries(actions)) x.w.ec2.faults.fail(api, code);
};
const primaryOf = (x: Harness) => x.w.ec2.eniState(x.w.ec2.instance(x.w.instanceId)!.primaryEniId)!;

/** A started pool-manager (demand policy; its pre-scale has put the floor's few addresses on the primary), the guard retrying nothing. */
async function started(faults: Record<string, InjectedCode> = {}, instanceType = "m5.large"): Promise<Harness> {
  const x = manager(fakeWorld({ instanceType, guard: { maxRetries: 0 } }), { ...PROJECT_DEFAULTS });
  failing(x, faults);
  await x.start();
  await x.run(x.pm.preScale);
  return x;
}

describe("assign on a throttling account", () => {
  for (const code of ["RequestLimitExceeded", "InternalError"] as const) {
    test(`${code}: the ENI gets no address at all (no second call for one), and the next try gets all it asked for`, async () => {
      h = await started();
      const x = h;
      const primary = primaryOf(x).id;
      const had = primaryOf(x).secondaryIps.length;
      failing(x, { AssignPrivateIpAddresses: code });
      const assign = { kind: "assign", eniId: primary, cidrKind: "address", count: 5, reason: "test" } as const;
      await expect(x.run(x.pm.executor!.run(assign))).rejects.toThrow(code);
      expect(primaryOf(x).secondaryIps.length).toBe(had);
      expect(x.pm.model.enis.get(primary)!.pool.cidrs.length).toBe(had);
      x.w.ec2.faults.heal();
      await x.run(x.pm.executor!.run(assign));
      expect(primaryOf(x).secondaryIps.length).toBe(had + 5);
      expect(x.pm.model.enis.get(primary)!.pool.cidrs.length).toBe(had + 5);
    });
  }

  test("another failure (the subnet nearly full): one more try for a single address", async () => {
    // /27: 27 hosts; the instance's primary and an unrelated ENI's 20 leave 6.
    h = manager(fakeWorld({ subnetCidr: "10.0.1.0/27", guard: { maxRetries: 0 } }), { ...PROJECT_DEFAULTS });
    const x = h;
    x.w.ec2.addEni({ subnetId: x.w.subnetId, privateIps: Array.from({ length: 20 }, (_, i) => `10.0.1.${5 + i}`) });
    await x.start();
    await x.run(x.pm.preScale);
    const had = primaryOf(x).secondaryIps.length;
    const free = x.w.ec2.subnetView(x.w.subnetId)!.availableIps;
    await x.run(x.pm.executor!.run({ kind: "assign", eniId: primaryOf(x).id, cidrKind: "address", count: free + 1, reason: "test" }));
    expect(primaryOf(x).secondaryIps.length).toBe(had + 1);
  });
});

describe("the device index of a new ENI", () => {
  test("read before the create: when DescribeInstances fails no ENI is created (nothing to delete again)", async () => {
    h = await started({ DescribeInstances: "InternalError" });
    const x = h;
    await x.w.clock.advance(DEVICE_READ_TTL_MS + 1); // start-up's view of the device indexes is too old to use
    const calls = x.w.ec2.mutatingCalls();
    const [err] = await x.run(x.pm.executor!.createEnis([{ cidrKind: "address", count: 3 }]));
    expect(String(err)).toContain("InternalError");
    expect(x.created()).toEqual([]);
    expect(x.w.ec2.mutatingCalls()).toBe(calls);
    x.w.ec2.faults.heal();
    const [again] = await x.run(x.pm.executor!.createEnis([{ cidrKind: "address", count: 3 }]));
    expect(again).toBeUndefined();
    expect(x.created().map((e) => [e.attachment?.deviceIndex, e.secondaryIps.length])).toEqual([[1, 3]]);
  });

  test("known from start-up's read of the instance's ENIs: the first grow needs no DescribeInstances", async () => {
    h = await started({ DescribeInstances: "InternalError" });
    const x = h;
    expect(await x.run(x.pm.executor!.createEnis([{ cidrKind: "address", count: 2 }]))).toEqual([undefined]);
    expect(x.created().map((e) => e.attachment?.deviceIndex)).toEqual([1]);
  });

  test("EC2's answer is reused for the next grow (DescribeInstances failing meanwhile), at the next free device; an attach failure drops it", async () => {
    h = await started();
    const x = h;
    await x.w.clock.advance(DEVICE_READ_TTL_MS + 1);
    expect(await x.run(x.pm.executor!.createEnis([{ cidrKind: "address", count: 2 }]))).toEqual([undefined]);
    failing(x, { DescribeInstances: "InternalError" });
    expect(await x.run(x.pm.executor!.createEnis([{ cidrKind: "address", count: 2 }]))).toEqual([undefined]);
    expect(x.created().map((e) => e.attachment?.deviceIndex).sort()).toEqual([1, 2]);
    // Someone else's attach fails ours: the next grow reads EC2 again (failing here: no ENI).
    failing(x, { DescribeInstances: "InternalError", AttachNetworkInterface: "InternalError" });
    const [attachErr] = await x.run(x.pm.executor!.createEnis([{ cidrKind: "address", count: 2 }]));
    expect(String(attachErr)).toContain("InternalError");
    failing(x, { DescribeInstances: "InternalError" });
    await x.run(x.pm.executor!.repair()); // deletes the ENI that was never attached
    const before = x.w.ec2.allEnis().length;
    const [readErr] = await x.run(x.pm.executor!.createEnis([{ cidrKind: "address", count: 2 }]));
    expect(String(readErr)).toContain("DescribeInstances");
    expect(x.w.ec2.allEnis().length).toBe(before);
    expect(x.created().filter((e) => !e.attachment)).toEqual([]);
  });
});

describe("the ENIs of one grow on a throttling account", () => {
  test("created one after another (a node does not draw from the shared bucket twice at once), all of them attached", async () => {
    const broker = new FakeBroker();
    broker.waiting = 20; // the primary's 9 slots and two new ENIs
    h = manager(fakeWorld(), { ...PROJECT_DEFAULTS }, {}, { broker });
    const x = h;
    x.w.ec2.faults.latency("CreateNetworkInterface", 100);
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
    x.w.guard.buckets.throttled("AssignPrivateIpAddresses", x.w.clock.now()); // the account said RequestLimitExceeded just now
    await x.start();
    await x.run(x.pm.preScale);
    expect(x.created().length).toBe(2);
    expect(x.created().every((e) => e.attachment)).toBe(true);
    expect(most).toBe(1);
  });
});

describe("an ENI the node's pending pods hardly need, on a throttling account", () => {
  test("its create yields to other nodes' calls; one the pods need, or any on a calm account, does not — both are created", async () => {
    h = await started({}, "m5.xlarge"); // room for three ENIs more
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
      expect(await x.run(x.pm.executor!.createEnis([{ cidrKind: "address", count: 8 }]))).toEqual([undefined]);
    };
    await grow(free() + 1, true); // 1 pod of 8 addresses: yields
    await grow(free() + 6, true); // 6 pods: needed
    await grow(free() + 1, false); // calm account
    expect(asked).toEqual([true, false, false]);
    expect(x.created().filter((e) => e.attachment).length).toBe(3);
  });
});
