// ENABLE_IMDS_ONLY_MODE on a simulated node: the simulated EC2 and IMDS of the local
// deployment served on 127.0.0.1, the real SDK EC2 adapter and the real IMDS adapter over
// HTTP, the pool-manager wired as main.ts wires it (options from the loaded configuration).
// Assumptions: m5.large (3 ENIs × 10 IPv4; in the project's instance-type table, so no
// DescribeInstanceTypes), primary subnet 10.0.1.0/24; before pool-manager starts, the primary
// ENI carries 3 secondary addresses and a second ENI (device 1) 4, as another tool or an
// earlier process left them.
import { afterEach, expect, test } from "bun:test";
import { Hono } from "hono";
import { isMiss, pickAddress } from "../../services/addr-broker/src/core/assign.ts";
import { EMPTY_STATE, withAllocation, type BrokerState } from "../../services/addr-broker/src/core/state.ts";
import { SdkImds } from "../../services/pool-manager/src/adapters/imds.ts";
import { serviceRoutes } from "../../services/pool-manager/src/app/routes.ts";
import { poolSettingsFrom } from "../../services/pool-manager/src/app/settings-from-config.ts";
import { PoolManager } from "../../services/pool-manager/src/app/pool-manager.ts";
import { FakeBroker, FakeNetConfig } from "../../services/pool-manager/test-support/fakes.ts";
import { loadConfig } from "../../shared/config/index.ts";
import { capacitySnapshot } from "../../shared/contracts/capacity.ts";
import { imdsViewOf } from "../../deploy/local/node-identity.ts";
import { serveImds, type ServedImds } from "../../deploy/local/sim-imds/serve.ts";
import { simWorld, type SimWorld } from "./sim-world.ts";

let w: SimWorld | undefined;
let imds: ServedImds | undefined;
let pm: PoolManager | undefined;
afterEach(async () => {
  pm?.stop();
  await imds?.stop();
  await w?.stop();
  pm = imds = w = undefined;
});

/** A node whose ENIs and addresses were assigned before pool-manager starts; the sim's call log then emptied. */
async function preparedNode(): Promise<{ sim: SimWorld; preassigned: string[]; secondEni: string }> {
  const sim = await simWorld();
  const inst = sim.model.state.instances[sim.instanceId]!;
  const primary = sim.model.assignPrivateIpAddresses({ eniId: inst.primaryEniId, count: 3 }).addresses;
  const eni = sim.model.createNetworkInterface({ subnetId: sim.subnetId, groups: [sim.sgId], secondaryCount: 4 });
  sim.model.attachNetworkInterface({ eniId: eni.id, instanceId: sim.instanceId, deviceIndex: 1 });
  // Attachment and IMDS propagation are timed in the sim: let them land.
  await Bun.sleep(100);
  sim.model.settleDue();
  const second = sim.model.state.enis[eni.id]!.secondaryIps;
  expect(second).toHaveLength(4);
  sim.server.service.resetCounters();
  return { sim, preassigned: [...primary, ...second].sort(), secondEni: eni.id };
}

function boot(sim: SimWorld, env: Record<string, string>): { pm: PoolManager; net: FakeNetConfig; app: Hono } {
  const { config } = loadConfig({ WARM_IP_TARGET: "5", MINIMUM_IP_TARGET: "20", ...env });
  imds = serveImds({ hostname: "127.0.0.1", port: 0, instanceId: sim.instanceId, view: (id, now) => imdsViewOf(sim.model, "us-west-2", id, now) });
  const net = new FakeNetConfig();
  const p = new PoolManager(poolSettingsFrom(config), { ec2: sim.ec2, imds: new SdkImds({ endpoint: imds.url, retries: 0 }), net, broker: new FakeBroker() }, {
    additionalTags: {},
    subnetDiscovery: config.pool.subnetDiscovery,
    disableProvisioning: config.pool.disableNetworkResourceProvisioning,
    disableLeakedEniCleanup: config.pool.disableLeakedEniCleanup,
    imdsOnly: config.pool.imdsOnlyMode,
    now: Date.now,
    sleep: (ms) => Bun.sleep(Math.min(ms, 20)),
    imdsWait: { firstMs: 10, maxMs: 50, tries: 5 },
  });
  const app = new Hono();
  serviceRoutes(app, p);
  return { pm: p, net, app };
}

const callCount = (sim: SimWorld) => Object.values(sim.server.service.calls).reduce((n, c) => n + c.ok + c.error + c.throttled, 0);

test("ENABLE_IMDS_ONLY_MODE: no EC2 call at all; the pool is what IMDS shows, and pods get those addresses", async () => {
  const { sim, preassigned, secondEni } = await preparedNode();
  w = sim;
  const booted = boot(sim, { ENABLE_IMDS_ONLY_MODE: "true" });
  pm = booted.pm;
  await pm.start();
  // Cycles (the targets ask for 20 addresses, the node has 7), a forced reconcile, the leak clean-up.
  for (let i = 0; i < 3; i++) await pm.cycle();
  await pm.reconcile(true);
  expect(await pm.cleanLeakedEnis()).toBe(0);
  expect({ calls: sim.server.service.calls, total: callCount(sim) }).toEqual({ calls: {}, total: 0 });
  // EC2 unchanged: the same two ENIs and the same addresses.
  const ec2Addresses = sim.model.enisOf(sim.instanceId).flatMap((e) => e.secondaryIps).sort();
  expect(ec2Addresses).toEqual(preassigned);
  expect(booted.net.enis.has(secondEni)).toBe(true);

  // The capacity addr-broker reads serves exactly those addresses, then reports the pool exhausted.
  const res = await booted.app.request("/v1/capacity");
  expect(res.status).toBe(200);
  const cap = capacitySnapshot.parse(await res.json());
  expect(cap.ready).toBe(true);
  let state: BrokerState = EMPTY_STATE;
  const given: string[] = [];
  for (let i = 0; i < preassigned.length; i++) {
    const pick = pickAddress(state, cap, 0, 30);
    if (isMiss(pick)) throw new Error(`pod ${i}: ${pick.message}`);
    given.push(pick.address);
    state = withAllocation(state, { networkName: "aws-cni", containerId: `c${i}`, ifName: "eth0", address: pick.address, allocatedAtNs: 1n });
  }
  expect(given.sort()).toEqual(preassigned);
  const next = pickAddress(state, cap, 0, 30);
  expect(isMiss(next) ? next.kind : "picked").toBe("exhausted");
});

test("without it, the same node asks EC2 (the check above can fail)", async () => {
  const { sim } = await preparedNode();
  w = sim;
  pm = boot(sim, {}).pm;
  await pm.start();
  expect(sim.server.service.calls.DescribeNetworkInterfaces?.ok ?? 0).toBeGreaterThan(0);
});

test("ENABLE_IMDS_ONLY_MODE forces DISABLE_NETWORK_RESOURCE_PROVISIONING and DISABLE_LEAKED_ENI_CLEANUP", () => {
  const on = loadConfig({ ENABLE_IMDS_ONLY_MODE: "true", DISABLE_NETWORK_RESOURCE_PROVISIONING: "false", DISABLE_LEAKED_ENI_CLEANUP: "false" }).config.pool;
  expect({ imds: on.imdsOnlyMode, provisioning: on.disableNetworkResourceProvisioning, leak: on.disableLeakedEniCleanup }).toEqual({ imds: true, provisioning: true, leak: true });
  const off = loadConfig({}).config.pool;
  expect({ imds: off.imdsOnlyMode, provisioning: off.disableNetworkResourceProvisioning, leak: off.disableLeakedEniCleanup }).toEqual({ imds: false, provisioning: false, leak: false });
});
