// The pool-manager with what Kubernetes tells it through its port (a stateful fake of the
// cluster as the node sees it), against the fake EC2 on a fake clock.
// Assumptions: m5.large (3 ENIs × 10 IPv4 → 9 secondary slots each, trunking), primary
// subnet 10.0.1.0/24, a pod subnet 10.0.8.0/24 in the same AZ for custom networking.
// (The real adapter against the simulated API: tests/pool-manager/pool-manager-kube.test.ts.)
import { afterEach, describe, expect, test } from "bun:test";
import { FakeKube } from "../../test-support/fakes.ts";
import { fakeWorld, manager, type Harness } from "../../test-support/harness.ts";
import { UPSTREAM_DEFAULTS, type PoolSettings } from "../core/settings.ts";

let h: Harness | undefined;
afterEach(() => {
  h?.pm.stop();
  h = undefined;
});

const up = (o: Partial<PoolSettings> = {}): PoolSettings => ({ ...UPSTREAM_DEFAULTS, ...o });

/** A pool-manager whose Kubernetes port is `kube` (none when undefined); the port's changes poke it, as the adapter's watch does. */
function boot(settings: PoolSettings, kube: FakeKube | undefined, o: { instanceType?: string; world?: ReturnType<typeof fakeWorld> } = {}): Harness {
  const x = manager(o.world ?? fakeWorld(o), settings, {}, kube ? { kube } : {});
  if (kube) kube.onChange = () => x.pm.onKubeChange();
  return x;
}

const secondaryIps = (x: Harness) => x.enis().flatMap((e) => e.secondaryIps);

/** A pod subnet with its own security group, and an ENIConfig `name` naming both. */
function podSubnet(x: Harness, kube: FakeKube, name: string) {
  const subnet = x.w.ec2.addSubnet({ vpcId: x.w.vpcId, cidr: "10.0.8.0/24" });
  const sg = x.w.ec2.addSecurityGroup(x.w.vpcId);
  kube.eniConfigs.set(name, { subnetId: subnet.id, securityGroups: [sg] });
  return { subnet, sg };
}

describe("custom networking", () => {
  test("ENIs in the ENIConfig's subnet with its security groups; the primary ENI serves no pod", async () => {
    const kube = new FakeKube();
    h = boot(up({ customNetwork: true }), kube);
    const { subnet, sg } = podSubnet(h, kube, "us-west-2a-pods");
    kube.selected = "us-west-2a-pods";
    await h.start();
    await h.cycles(6);
    const secondary = h.enis().filter((e) => e.attachment!.deviceIndex > 0);
    expect(secondary.length).toBeGreaterThan(0);
    for (const e of secondary) expect({ subnet: e.subnetId, groups: e.securityGroups, ips: e.secondaryIps.length }).toEqual({ subnet: subnet.id, groups: [sg], ips: 9 });
    expect(h.enis()[0]!.secondaryIps).toEqual([]);
    const snap = h.pm.model.snapshot();
    expect(snap.shortage).toBeUndefined();
    expect(snap.enis.find((e) => e.primary)?.usable).toBe(false);
    expect(snap.enis.filter((e) => e.usable).map((e) => [e.subnetCidr, e.cidrs.length])).toEqual(secondary.map(() => ["10.0.8.0/24", 9]));
  });

  test("no ENIConfig for the node: no pod addresses, and the shortage says why", async () => {
    const kube = new FakeKube();
    kube.selected = "nope";
    h = boot(up({ customNetwork: true }), kube);
    await h.start();
    await h.cycles(6);
    expect(h.enis()).toHaveLength(1);
    expect(secondaryIps(h)).toEqual([]);
    expect(h.pm.model.snapshot().enis.filter((e) => e.usable)).toEqual([]);
    expect(h.pm.model.snapshot().shortage).toEndWith("cannot grow: no ENIConfig named nope");
  });

  test("the API away at start-up: the shortage says so; when it is back the pool grows at once", async () => {
    const kube = new FakeKube();
    h = boot(up({ customNetwork: true }), kube);
    const x = h;
    const { subnet } = podSubnet(x, kube, "default");
    kube.reachable = false;
    await x.start();
    await x.cycles(2);
    expect(x.pm.model.snapshot().shortage).toContain("cannot grow: Kubernetes API unreachable");
    expect(secondaryIps(x)).toEqual([]);
    kube.change((k) => void (k.reachable = true)); // no cycle driven by the test: the port's change pokes the pool-manager
    await x.w.clock.runUntil(() => x.enis().some((e) => e.subnetId === subnet.id && e.secondaryIps.length > 0), "an ENI in the ENIConfig's subnet");
    await x.cycles(2);
    expect(x.pm.model.snapshot().shortage).toBeUndefined();
  });

  test("no Kubernetes API configured: nothing grows, and the shortage says why", async () => {
    h = boot(up({ customNetwork: true }), undefined);
    await h.start();
    await h.cycles(2);
    expect(secondaryIps(h)).toEqual([]);
    expect(h.pm.model.snapshot().shortage).toEndWith("cannot grow: custom networking is on but the Kubernetes API is not configured: no ENIConfig can be read");
  });
});

describe("without custom networking", () => {
  test("the API away does not hold the pool back", async () => {
    const kube = new FakeKube();
    kube.reachable = false;
    h = boot(up({ warmIpTarget: 3 }), kube);
    await h.start();
    await h.cycles(2);
    expect(secondaryIps(h)).toHaveLength(3);
    expect(h.pm.model.snapshot().shortage).toBeUndefined();
  });

  test("no Kubernetes configured: debug says so, the pool is built", async () => {
    h = boot(up({ warmIpTarget: 2 }), undefined);
    await h.start();
    await h.cycles(2);
    expect(secondaryIps(h)).toHaveLength(2);
    expect((h.pm.debug().kubernetes as { status: string }).status).toStartWith("kubernetes: not configured");
  });

  test("an unschedulable-tainted node does not grow, unless AWS_MANAGE_ENIS_NON_SCHEDULABLE", async () => {
    for (const manage of [false, true]) {
      const kube = new FakeKube();
      kube.unschedulable = true;
      h = boot(up({ warmIpTarget: 4, manageNonSchedulable: manage }), kube);
      await h.start();
      await h.cycles(2);
      expect({ manage, ips: secondaryIps(h).length }).toEqual({ manage, ips: manage ? 4 : 0 });
      h.pm.stop();
    }
  });

  test("pods scheduled to the node without an address grow the pool at once (demand-aware)", async () => {
    const kube = new FakeKube();
    h = boot(up({ warmIpTarget: 2, demandAware: true }), kube);
    const x = h;
    await x.start();
    await x.cycles(2);
    expect(secondaryIps(x)).toHaveLength(2);
    kube.change((k) => void (k.pending = 7)); // no cycle driven by the test: the watch's change pokes the pool-manager
    await x.w.clock.runUntil(() => secondaryIps(x).length >= 7, "the pool grown to the scheduled pods");
  });

  test("the Node's capacity (the kubelet's --max-pods) caps the pool; without it, the targets alone", async () => {
    for (const capacityPods of [12, undefined]) {
      const kube = new FakeKube();
      kube.capacityPods = capacityPods;
      h = boot(up({ warmEniTarget: 3 }), kube);
      await h.start();
      await h.cycles(6);
      // 12 pods: 18 addresses (the primary's 9 and one ENI's) already reach it; else 3 full ENIs.
      expect({ capacityPods, enis: h.enis().length }).toEqual({ capacityPods, enis: capacityPods ? 2 : 3 });
      h.pm.stop();
    }
  });

  test("ENABLE_POD_ENI on a trunking instance: CNINode feature; one ENI slot kept for the trunk", async () => {
    const kube = new FakeKube();
    h = boot(up({ podEni: true, warmEniTarget: 3 }), kube);
    await h.start();
    await h.cycles(6);
    expect(kube.securityGroupsForPods).toBe(true);
    expect(h.enis()).toHaveLength(2); // m5.large has 3 slots; one is kept for the trunk ENI
  });

  test("ENABLE_POD_ENI on an instance without trunking: nothing announced, and no slot kept (upstream keeps one: #1203, #3094)", async () => {
    const kube = new FakeKube();
    h = boot(up({ podEni: true, warmEniTarget: 3 }), kube, { instanceType: "t3.medium" });
    await h.start();
    await h.cycles(6);
    expect(kube.securityGroupsForPods).toBe(false);
    expect(h.enis()).toHaveLength(3); // t3.medium: all 3 slots serve pods
  });

  test("ENABLE_POD_ENI with every ENI slot taken: the feature is not asked for (no slot for a trunk)", async () => {
    const kube = new FakeKube();
    h = boot(up({ warmEniTarget: 3 }), kube);
    await h.start();
    await h.cycles(6);
    expect(h.enis()).toHaveLength(3);
    h.pm.stop();
    h = boot(up({ podEni: true, warmEniTarget: 3 }), kube, { world: h.w });
    await h.start();
    await h.cycles(3);
    expect(kube.securityGroupsForPods).toBe(false);
  });
});
