// The pool-manager against the fake EC2, on a fake clock.
// Assumptions: m5.large (3 ENIs × 10 IPv4 → 9 secondary slots each), one /24 subnet
// unless a test says otherwise, attach 300 ms, IMDS lag 200 ms, fakes for net-config and
// addr-broker that keep state (FakeBroker refuses to drain a CIDR in use).
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
const proj = (o: Partial<PoolSettings> = {}): PoolSettings => ({ ...PROJECT_DEFAULTS, ...o });


describe("start-up and pre-scale", () => {
  test("WARM_ENI_TARGET=3 → 3 ENIs with 9 secondaries each, each set up by net-config and tagged", async () => {
    h = manager(fakeWorld(), up({ warmEniTarget: 3 }), { clusterName: "demo", additionalTags: { team: "net", "k8s.amazonaws.com/x": "dropped" } });
    await h.start();
    await h.cycles();
    const enis = h.enis();
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
    h = manager(fakeWorld(), up({ warmIpTarget: 5, minimumIpTarget: 12 }));
    await h.start();
    await h.cycles();
    expect(h.enis().reduce((n, e) => n + e.secondaryIps.length, 0)).toBe(12);
  });

  test("prefix delegation, WARM_PREFIX_TARGET=1 → one /28 on the primary ENI", async () => {
    h = manager(fakeWorld(), up({ prefixDelegation: true, warmPrefixTarget: 1 }));
    await h.start();
    await h.cycles();
    expect(h.enis().flatMap((e) => e.ipv4Prefixes)).toHaveLength(1);
  });

  test("a restart with a correct pool makes zero mutating EC2 calls", async () => {
    const w = fakeWorld();
    h = manager(w, up({ warmEniTarget: 2 }), { clusterName: "demo" });
    await h.start();
    await h.cycles();
    const before = JSON.stringify(h.enis());
    h.pm.stop();
    w.ec2.resetCalls();
    h = manager(w, up({ warmEniTarget: 2 }), { clusterName: "demo" });
    await h.start();
    await h.cycles();
    await h.run(h.pm.reconcile(true));
    expect(w.ec2.mutatingCalls()).toBe(0);
    expect(JSON.stringify(h.enis())).toBe(before);
    expect(h.pm.model.snapshot().enis).toHaveLength(2);
  });

  test("DISABLE_NETWORK_RESOURCE_PROVISIONING: reads only, no EC2 mutation", async () => {
    h = manager(fakeWorld(), up({ warmEniTarget: 3 }), { disableProvisioning: true });
    await h.start();
    await h.cycles(3);
    expect(h.w.ec2.mutatingCalls()).toBe(0);
    expect(h.pm.model.snapshot().ready).toBe(true);
  });
});

describe("subnets", () => {
  test("a full subnet: InsufficientFreeAddressesInSubnet opens the 120 s window and a shortage reason", async () => {
    // /28: 16 − 5 reserved − the instance's primary = 10 free; WARM_ENI_TARGET=3 wants 27.
    h = manager(fakeWorld({ subnetCidr: "10.0.1.0/28" }), up({ warmEniTarget: 3 }));
    await h.start();
    await h.cycles(5);
    expect(h.pm.model.conditions.view().insufficientAddressesAtMs).toBeDefined();
    expect(h.pm.model.snapshot().shortage).toContain("InsufficientFreeAddressesInSubnet");
  });

  test("a fragmented subnet with PD: InsufficientCidrBlocks → /32s instead (project), nothing (upstream)", async () => {
    // A /26: its /28 blocks .0 (AWS's reserved addresses) and .48 (the last address) are never
    // prefixes; an unrelated ENI holds .20 and .36, so no aligned /28 is free, addresses are.
    for (const [settings, wantIps] of [[proj({ prefixDelegation: true, warmPrefixTarget: 1 }), true], [up({ prefixDelegation: true, warmPrefixTarget: 1 }), false]] as const) {
      const w = fakeWorld({ subnetCidr: "10.0.1.0/26" });
      w.ec2.addEni({ subnetId: w.subnetId, privateIps: ["10.0.1.20", "10.0.1.36"] });
      h = manager(w, settings);
      await h.start();
      await h.cycles(4);
      const primary = h.enis().find((e) => e.attachment!.deviceIndex === 0)!;
      expect(primary.ipv4Prefixes).toEqual([]);
      expect(primary.secondaryIps.length > 0).toBe(wantIps);
      if (!wantIps) expect(h.pm.model.snapshot().shortage).toContain("InsufficientCidrBlocks");
      h.pm.stop();
      h = undefined;
    }
  });

  test("subnet discovery: a subnet tagged cni=0 is never used; one tagged cni=1 gets the new ENIs", async () => {
    const w = fakeWorld();
    const tagged = w.ec2.addSubnet({ vpcId: w.vpcId, cidr: "10.0.8.0/22", tags: { "kubernetes.io/role/cni": "1" } });
    const excluded = w.ec2.addSubnet({ vpcId: w.vpcId, cidr: "10.0.16.0/20", tags: { "kubernetes.io/role/cni": "0" } });
    h = manager(w, up({ warmEniTarget: 3 }), { subnetDiscovery: true });
    await h.start();
    await h.cycles();
    const subnets = h.enis().filter((e) => e.attachment!.deviceIndex > 0).map((e) => e.subnetId);
    expect(subnets.length).toBe(2);
    expect(subnets).not.toContain(excluded.id);
    expect(subnets.every((s) => s === tagged.id)).toBe(true);
  });
});

describe("release handshake and clean-up", () => {
  test("a CIDR with an assigned address is never unassigned; idle ones are, after the drain (cooling ones kept: AWS_VPC_CNI_HOLD_COOLING_IPS)", async () => {
    const broker = new FakeBroker();
    h = manager(fakeWorld(), up({ warmIpTarget: 2, holdCoolingIps: true }), {}, { broker });
    await h.start();
    await h.cycles();
    // Grow to 9, then mark one in use and drop the demand.
    const primary = () => h!.enis().find((e) => e.attachment!.deviceIndex === 0)!;
    h.pm.settings.warmIpTarget = 9;
    await h.cycles(2);
    expect(primary().secondaryIps).toHaveLength(9);
    const held = primary().secondaryIps[0]!;
    broker.use.set(`${held}/32`, { assigned: 1, cooling: 0 });
    const cooling = primary().secondaryIps[1]!;
    broker.use.set(`${cooling}/32`, { assigned: 0, cooling: 1 });
    await h.pm.refreshUsage();
    // A pod got this one after addr-broker's last report: the plan, made on that report,
    // releases it, and addr-broker refuses its drain.
    const late = primary().secondaryIps[2]!;
    broker.use.set(`${late}/32`, { assigned: 1, cooling: 0 });
    h.pm.settings.warmIpTarget = 0;
    h.pm.settings.minimumIpTarget = 1;
    await h.w.clock.advance(30_000); // the shrink interval since the last release
    await h.cycles(2);
    expect(primary().secondaryIps).toContain(held);
    expect(primary().secondaryIps).toContain(cooling);
    expect(primary().secondaryIps).toContain(late);
    expect([...broker.drained].filter((c) => [held, cooling, late].includes(c.replace("/32", "")))).toEqual([]);
    // MINIMUM_IP_TARGET=1: the 6 idle ones went (drained first), the three in use stayed.
    expect(primary().secondaryIps).toHaveLength(3);
  });

  test("an ENI with a pod is not deleted; empty and older than a minute, it is (drained, torn down, detached, deleted)", async () => {
    const broker = new FakeBroker();
    h = manager(fakeWorld(), up({ warmIpTarget: 12 }), {}, { broker });
    await h.start();
    await h.cycles();
    const secondary = h.enis().find((e) => e.attachment!.deviceIndex === 1)!;
    broker.use.set(`${secondary.secondaryIps[0]}/32`, { assigned: 1, cooling: 0 });
    await h.pm.refreshUsage();
    h.pm.settings.warmIpTarget = 1;
    await h.w.clock.advance(120_000);
    await h.cycles(4);
    expect(h.w.ec2.eniState(secondary.id)).toBeDefined();
    broker.use.clear();
    await h.pm.refreshUsage();
    await h.w.clock.advance(120_000);
    await h.cycles(6);
    expect(h.w.ec2.eniState(secondary.id)).toBeUndefined();
    expect(h.net.enis.has(secondary.id)).toBe(false);
  });

  test("leaked ENIs: tagged, detached, older than 5 min, aws-K8S- description → deleted; others kept", async () => {
    const w = fakeWorld();
    const old = new Date(w.clock.now() - 10 * 60_000).toISOString();
    const leaked = w.ec2.addEni({ subnetId: w.subnetId, description: "aws-K8S-i-gone", tags: { "node.k8s.amazonaws.com/instance_id": "i-gone", "node.k8s.amazonaws.com/createdAt": old } });
    const young = w.ec2.addEni({ subnetId: w.subnetId, description: "aws-K8S-i-gone", tags: { "node.k8s.amazonaws.com/instance_id": "i-gone", "node.k8s.amazonaws.com/createdAt": new Date(w.clock.now()).toISOString() } });
    const foreign = w.ec2.addEni({ subnetId: w.subnetId, description: "someone else", tags: { "node.k8s.amazonaws.com/instance_id": "i-gone", "node.k8s.amazonaws.com/createdAt": old } });
    h = manager(w, up());
    await h.start();
    expect(await h.run(h.pm.cleanLeakedEnis())).toBe(1);
    expect(w.ec2.eniState(leaked.id)).toBeUndefined();
    expect(w.ec2.eniState(young.id)).toBeDefined();
    expect(w.ec2.eniState(foreign.id)).toBeDefined();
  });

  test("slow attachment: the ENI is published only once IMDS shows it and net-config set it up", async () => {
    h = manager(fakeWorld({ timing: { attachDelayMs: 4_000, imdsDelayMs: 3_000 } }), up({ warmEniTarget: 2 }));
    const x = h;
    await x.start(); // the pre-scale fills the primary ENI; the next cycle creates one more
    const growing = x.pm.cycle();
    await x.w.clock.runUntil(() => x.created().some((e) => e.attachment?.status === "attached"), "the new ENI attached");
    expect(x.pm.model.snapshot().enis.map((e) => e.primary)).toEqual([true]);
    expect(x.net.enis.size).toBe(0);
    await x.run(growing);
    const snap = x.pm.model.snapshot();
    expect(snap.enis).toHaveLength(2);
    expect(snap.enis.every((e) => e.usable && e.subnetCidr === "10.0.1.0/24")).toBe(true);
    expect([...x.net.enis.keys()]).toEqual(x.created().map((e) => e.id));
  });

  test("a burst of throttling on assignment is retried; the pool still reaches its target", async () => {
    h = manager(fakeWorld(), up({ warmIpTarget: 14 }));
    h.w.ec2.faults.fail("AssignPrivateIpAddresses", "RequestLimitExceeded", { rate: 0.5 }).fail("CreateNetworkInterface", "InternalError", { rate: 0.3 });
    await h.start();
    await h.cycles();
    expect(h.enis().reduce((n, e) => n + e.secondaryIps.length, 0)).toBe(14);
  });
});
