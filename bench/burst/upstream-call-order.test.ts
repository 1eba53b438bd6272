// Upstream's EC2 call order imposed on the pool-manager's executor (the benchmarks' upstream
// baseline), against the fake EC2: m5.large (3 ENIs × 9 secondary slots), the guard retrying
// nothing, the demand policy's pre-scale done before each test's own call.
import { afterEach, expect, test } from "bun:test";
import { PROJECT_DEFAULTS } from "../../services/pool-manager/src/core/settings.ts";
import { fakeWorld, manager, type Harness } from "../../services/pool-manager/test-support/harness.ts";
import { UpstreamCallOrder } from "./upstream-call-order.ts";

let h: Harness | undefined;
afterEach(() => {
  h?.pm.stop();
  h = undefined;
});

async function upstreamOrder(subnetCidr = "10.0.1.0/24"): Promise<Harness> {
  const w = fakeWorld({ subnetCidr, guard: { maxRetries: 0 } });
  const x = manager(w, { ...PROJECT_DEFAULTS }, {}, { ec2: new UpstreamCallOrder(w.ec2, w.clock.now) });
  await x.start();
  await x.run(x.pm.preScale);
  return x;
}
const primary = (x: Harness) => x.enis()[0]!;
const assign = (x: Harness, count: number) => x.run(x.pm.executor!.run({ kind: "assign", eniId: primary(x).id, cidrKind: "address", count, reason: "test" }));

test("after a 5xx the same assign is tried once more at once, for one address", async () => {
  h = await upstreamOrder();
  const had = primary(h).secondaryIps.length;
  h.w.ec2.faults.fail("AssignPrivateIpAddresses", "InternalError", { times: 1 });
  await assign(h, 5);
  expect(primary(h).secondaryIps.length).toBe(had + 1);
});

test("that one-address try failing for another reason (a full subnet) is the last: no third call", async () => {
  // /28: 11 hosts; the instance's primary and the pre-scale's addresses leave `free`.
  h = await upstreamOrder("10.0.1.0/28");
  const x = h;
  x.w.ec2.addEni({ subnetId: x.w.subnetId, privateIps: Array.from({ length: x.w.ec2.subnetView(x.w.subnetId)!.availableIps }, (_, i) => `10.0.1.${14 - i}`) });
  x.w.ec2.resetCalls();
  x.w.ec2.faults.fail("AssignPrivateIpAddresses", "RequestLimitExceeded", { times: 1 });
  await expect(assign(x, 5)).rejects.toThrow("InsufficientFreeAddressesInSubnet");
  expect(x.w.ec2.calls.AssignPrivateIpAddresses).toEqual({ ok: 0, error: 1, throttled: 1 });
  expect(x.pm.model.conditions.view().insufficientAddressesAtMs).toBe(x.w.clock.now());
});

test("the device index is read after the create: a failed read fails the attach, and the ENI is deleted again", async () => {
  h = await upstreamOrder();
  const x = h;
  x.w.ec2.faults.fail("DescribeInstances", "InternalError");
  const [err] = await x.run(x.pm.executor!.createEnis([{ cidrKind: "address", count: 3 }]));
  expect(String(err)).toContain("DescribeInstances");
  expect(x.w.ec2.calls.CreateNetworkInterface).toMatchObject({ ok: 1 });
  expect(x.created()).toEqual([]); // created, not attached, deleted
  x.w.ec2.faults.heal();
  expect(await x.run(x.pm.executor!.createEnis([{ cidrKind: "address", count: 3 }]))).toEqual([undefined]);
  expect(x.created().map((e) => e.attachment?.deviceIndex)).toEqual([1]);
});
