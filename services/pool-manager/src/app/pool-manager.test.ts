// The pool-manager against the simulated EC2 through the real SDK.
// Assumptions: m5.large (3 ENIs × 10 IPv4 → 9 secondary slots each), one /24 subnet
// unless a test says otherwise, attach 20 ms, IMDS lag 10 ms, fakes for net-config and
// addr-broker that keep state (FakeBroker refuses to drain a CIDR in use).
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
const proj = (o: Partial<PoolSettings> = {}): PoolSettings => ({ ...PROJECT_DEFAULTS, ...o });

async function settle(x: Harness, cycles = 8): Promise<void> {
  for (let i = 0; i < cycles; i++) await x.pm.cycle();
}

const ec2Enis = (x: Harness) => Object.values(x.w.model.state.enis).filter((e) => e.attachment?.instanceId === x.w.instanceId);

describe("start-up and pre-scale", () => {
  test("WARM_ENI_TARGET=3 → 3 ENIs with 9 secondaries each, each set up by net-config and tagged", async () => {
    h = manager(await simWorld(), up({ warmEniTarget: 3 }), { clusterName: "demo", additionalTags: { team: "net", "k8s.amazonaws.com/x": "dropped" } });
    await h.pm.start();
    await settle(h);
    const enis = ec2Enis(h);
    expect(enis).toHaveLength(3);
    expect(enis.map((e) => e.secondaryIps.length).sort()).toEqual([9, 9, 9]);
    const secondary = enis.filter((e) => e.attachment!.deviceIndex > 0);
    for (const e of secondary) {
      expect(e.description).toBe(`aws-K8S-${h.w.instanceId}`);
      expect(e.tags).toMatchObject({ "node.k8s.amazonaws.com/instance_id": h.w.instanceId, "cluster.k8s.amazonaws.com/name": "demo", team: "net" });
      expect(e.tags["k8s.amazonaws.com/x"]).toBeUndefined();
      expect(e.attachment!.deleteOnTermination).toBe(true);
      expect(h.net.enis.get(e.id)).toBe(e.attachment!.deviceIndex + 1);
    }
    const snap = h.pm.model.snapshot();
    expect(snap.ready).toBe(true);
    expect(snap.enis.flatMap((e) => e.cidrs)).toHaveLength(27);
    expect(snap.enis.every((e) => e.usable)).toBe(true);
  });

  test("WARM_IP_TARGET=5 MINIMUM_IP_TARGET=12 → 12 addresses", async () => {
    h = manager(await simWorld(), up({ warmIpTarget: 5, minimumIpTarget: 12 }));
    await h.pm.start();
    await settle(h);
    expect(ec2Enis(h).reduce((n, e) => n + e.secondaryIps.length, 0)).toBe(12);
  });

  test("prefix delegation, WARM_PREFIX_TARGET=1 → one /28 on the primary ENI", async () => {
    h = manager(await simWorld(), up({ prefixDelegation: true, warmPrefixTarget: 1 }));
    await h.pm.start();
    await settle(h);
    expect(ec2Enis(h).flatMap((e) => e.ipv4Prefixes)).toHaveLength(1);
  });

  test("a restart with a correct pool makes zero mutating EC2 calls", async () => {
    const w = await simWorld();
    h = manager(w, up({ warmEniTarget: 2 }), { clusterName: "demo" });
    await h.pm.start();
    await settle(h);
    const before = JSON.stringify(ec2Enis(h));
    w.server.service.resetCounters();
    h = manager(w, up({ warmEniTarget: 2 }), { clusterName: "demo" });
    await h.pm.start();
    await settle(h);
    await h.pm.reconcile(true);
    expect(w.mutatingCalls()).toBe(0);
    expect(JSON.stringify(ec2Enis(h))).toBe(before);
    expect(h.pm.model.snapshot().enis).toHaveLength(2);
  });

  test("DISABLE_NETWORK_RESOURCE_PROVISIONING: reads only, no EC2 mutation", async () => {
    h = manager(await simWorld(), up({ warmEniTarget: 3 }), { disableProvisioning: true });
    await h.pm.start();
    await settle(h, 3);
    expect(h.w.mutatingCalls()).toBe(0);
    expect(h.pm.model.snapshot().ready).toBe(true);
  });
});

describe("subnets", () => {
  test("a full subnet: InsufficientFreeAddressesInSubnet opens the 120 s window and a shortage reason", async () => {
    // /28: 16 − 5 reserved − the instance's primary = 10 free; WARM_ENI_TARGET=3 wants 27.
    h = manager(await simWorld({ subnetCidr: "10.0.1.0/28" }), up({ warmEniTarget: 3 }));
    await h.pm.start();
    await settle(h, 5);
    expect(h.pm.model.conditions.view().insufficientAddressesAtMs).toBeDefined();
    expect(h.pm.model.snapshot().shortage).toContain("InsufficientFreeAddressesInSubnet");
  });

  test("a fragmented subnet with PD: InsufficientCidrBlocks → /32s instead (project), nothing (upstream)", async () => {
    // A /27 with the instance's primary at .4 : no aligned free /28 is left once the second
    // /28 is taken by an unrelated ENI's address.
    for (const [settings, wantIps] of [[proj({ prefixDelegation: true, warmPrefixTarget: 1 }), true], [up({ prefixDelegation: true, warmPrefixTarget: 1 }), false]] as const) {
      const w = await simWorld({ subnetCidr: "10.0.1.0/27" });
      w.model.createNetworkInterface({ subnetId: w.subnetId, privateIps: ["10.0.1.20"] });
      h = manager(w, settings);
      await h.pm.start();
      await settle(h, 4);
      const primary = ec2Enis(h).find((e) => e.attachment!.deviceIndex === 0)!;
      expect(primary.ipv4Prefixes).toEqual([]);
      expect(primary.secondaryIps.length > 0).toBe(wantIps);
      if (!wantIps) expect(h.pm.model.snapshot().shortage).toContain("InsufficientCidrBlocks");
      h.pm.stop();
      await w.stop();
      h = undefined;
    }
  });

  test("subnet discovery: a subnet tagged cni=0 is never used; one tagged cni=1 gets the new ENIs", async () => {
    const w = await simWorld();
    const tagged = w.model.createSubnet({ vpcId: w.vpcId, az: "us-west-2a", cidr: "10.0.8.0/22", tags: { "kubernetes.io/role/cni": "1" } });
    const excluded = w.model.createSubnet({ vpcId: w.vpcId, az: "us-west-2a", cidr: "10.0.16.0/20", tags: { "kubernetes.io/role/cni": "0" } });
    h = manager(w, up({ warmEniTarget: 3 }), { subnetDiscovery: true });
    await h.pm.start();
    await settle(h);
    const subnets = ec2Enis(h).filter((e) => e.attachment!.deviceIndex > 0).map((e) => e.subnetId);
    expect(subnets.length).toBe(2);
    expect(subnets).not.toContain(excluded.id);
    expect(subnets.every((s) => s === tagged.id)).toBe(true);
  });
});

describe("release handshake and clean-up", () => {
  test("a CIDR with an assigned address is never unassigned; idle ones are, after the drain", async () => {
    const broker = new FakeBroker();
    h = manager(await simWorld(), up({ warmIpTarget: 2 }), {}, { broker });
    await h.pm.start();
    await settle(h);
    // Grow to 9, then mark one in use and drop the demand.
    const primary = () => ec2Enis(h!).find((e) => e.attachment!.deviceIndex === 0)!;
    h.pm.settings.warmIpTarget = 9;
    await settle(h, 2);
    expect(primary().secondaryIps).toHaveLength(9);
    const held = primary().secondaryIps[0]!;
    broker.use.set(`${held}/32`, { assigned: 1, cooling: 0 });
    const cooling = primary().secondaryIps[1]!;
    broker.use.set(`${cooling}/32`, { assigned: 0, cooling: 1 });
    await h.pm.refreshUsage();
    h.pm.settings.warmIpTarget = 0;
    h.pm.settings.minimumIpTarget = 1;
    h.pm.model.conditions.shrunk(0);
    await settle(h, 2);
    expect(primary().secondaryIps).toContain(held);
    expect(primary().secondaryIps).toContain(cooling);
    expect(broker.drained.has(`${held}/32`)).toBe(false);
    // MINIMUM_IP_TARGET=1: the 7 idle ones went (drained first), the two in use stayed.
    expect(primary().secondaryIps).toHaveLength(2);
  });

  test("an ENI with a pod is not deleted; empty and older than a minute, it is (drained, torn down, detached, deleted)", async () => {
    const broker = new FakeBroker();
    let offset = 0;
    h = manager(await simWorld(), up({ warmIpTarget: 12 }), { now: () => Date.now() + offset }, { broker });
    await h.pm.start();
    await settle(h);
    const secondary = ec2Enis(h).find((e) => e.attachment!.deviceIndex === 1)!;
    broker.use.set(`${secondary.secondaryIps[0]}/32`, { assigned: 1, cooling: 0 });
    await h.pm.refreshUsage();
    h.pm.settings.warmIpTarget = 1;
    offset = 120_000;
    await settle(h, 4);
    expect(h.w.model.state.enis[secondary.id]).toBeDefined();
    broker.use.clear();
    await h.pm.refreshUsage();
    offset = 240_000;
    await settle(h, 6);
    expect(h.w.model.state.enis[secondary.id]).toBeUndefined();
    expect(h.net.enis.has(secondary.id)).toBe(false);
  });

  test("leaked ENIs: tagged, detached, older than 5 min, aws-K8S- description → deleted; others kept", async () => {
    const w = await simWorld();
    const old = new Date(Date.now() - 10 * 60_000).toISOString();
    const leaked = w.model.createNetworkInterface({ subnetId: w.subnetId, description: "aws-K8S-i-gone", tags: { "node.k8s.amazonaws.com/instance_id": "i-gone", "node.k8s.amazonaws.com/createdAt": old } });
    const young = w.model.createNetworkInterface({ subnetId: w.subnetId, description: "aws-K8S-i-gone", tags: { "node.k8s.amazonaws.com/instance_id": "i-gone", "node.k8s.amazonaws.com/createdAt": new Date().toISOString() } });
    const foreign = w.model.createNetworkInterface({ subnetId: w.subnetId, description: "someone else", tags: { "node.k8s.amazonaws.com/instance_id": "i-gone", "node.k8s.amazonaws.com/createdAt": old } });
    h = manager(w, up());
    await h.pm.start();
    expect(await h.pm.cleanLeakedEnis()).toBe(1);
    expect(w.model.state.enis[leaked.id]).toBeUndefined();
    expect(w.model.state.enis[young.id]).toBeDefined();
    expect(w.model.state.enis[foreign.id]).toBeDefined();
  });

  test("slow attachment: the ENI is published only once IMDS shows it and net-config set it up", async () => {
    h = manager(await simWorld({ faults: { attachDelayMs: 400, imdsDelayMs: 300 } }), up({ warmEniTarget: 2 }));
    await h.pm.start();
    await settle(h, 3);
    const snap = h.pm.model.snapshot();
    expect(snap.enis).toHaveLength(2);
    expect(snap.enis.every((e) => e.usable && e.subnetCidr === "10.0.1.0/24")).toBe(true);
  });

  test("a burst of throttling on assignment is retried; the pool still reaches its target", async () => {
    h = manager(await simWorld({ faults: { errors: { AssignPrivateIpAddresses: { rate: 0.5, code: "RequestLimitExceeded" }, CreateNetworkInterface: { rate: 0.3, code: "InternalError" } }, seed: 11 } }), up({ warmIpTarget: 14 }));
    await h.pm.start();
    await settle(h);
    expect(ec2Enis(h).reduce((n, e) => n + e.secondaryIps.length, 0)).toBe(14);
  });
});
