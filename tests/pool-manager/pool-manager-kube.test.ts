// The pool-manager with its Kubernetes adapter: the simulated EC2 (real SDK) and the
// simulated Kubernetes API (over HTTP, shared/kube-rest.ts), wired as main.ts wires them.
// Assumptions: m5.large (3 ENIs × 10 IPv4 → 9 secondary slots each), primary subnet
// 10.0.1.0/24, a second subnet 10.0.8.0/24 in the same AZ for custom networking.
import { afterEach, describe, expect, test } from "bun:test";
import type { GuardOptions } from "../../services/pool-manager/src/adapters/ec2-guard.ts";
import type { KubeAdapter } from "../../services/pool-manager/src/adapters/kube.ts";
import type { PoolManager } from "../../services/pool-manager/src/app/pool-manager.ts";
import { UPSTREAM_DEFAULTS, type PoolSettings } from "../../services/pool-manager/src/core/settings.ts";
import { kubeWorld, until, type KubeWorld } from "./kube-world.ts";
import { manager, simWorld, type SimWorld } from "./sim-world.ts";

const NODE = "ip-10-0-1-10.us-west-2.compute.internal";
const LABEL = "k8s.amazonaws.com/eniConfig";

let w: SimWorld | undefined;
let k: KubeWorld | undefined;
let pm: PoolManager | undefined;
afterEach(async () => {
  pm?.stop();
  await k?.stop();
  await w?.stop();
  pm = undefined;
  k = undefined;
  w = undefined;
});

const up = (o: Partial<PoolSettings> = {}): PoolSettings => ({ ...UPSTREAM_DEFAULTS, ...o });

async function boot(settings: PoolSettings, o: { guard?: GuardOptions; kube?: boolean; podEni?: boolean } = {}): Promise<{ pm: PoolManager; kube: KubeAdapter | undefined; sim: SimWorld; kw: KubeWorld }> {
  let kube: KubeAdapter | undefined;
  w = await simWorld({ guard: { ...o.guard, onError: (e) => e.code === "UnauthorizedOperation" && void kube?.ec2Unauthorized(e.api, e.message) } });
  k = await kubeWorld();
  if (o.kube !== false) kube = k.adapter(NODE, { watchPods: settings.demandAware, onChange: () => pm?.onKubeChange() });
  pm = manager(w, settings, { disableLeakedEniCleanup: true }, kube ? { kube } : {}).pm;
  return { pm, kube, sim: w, kw: k };
}

async function settle(p: PoolManager, n = 6): Promise<void> {
  for (let i = 0; i < n; i++) await p.cycle();
}

const attached = (s: SimWorld) => Object.values(s.model.state.enis).filter((e) => e.attachment?.instanceId === s.instanceId);

describe("custom networking", () => {
  test("ENIs in the ENIConfig's subnet with its security groups; the primary ENI serves no pod", async () => {
    const { pm, kube, sim, kw } = await boot(up({ customNetwork: true }));
    const podSubnet = sim.model.createSubnet({ vpcId: sim.vpcId, az: "us-west-2a", cidr: "10.0.8.0/24" });
    const podSg = sim.model.createSecurityGroup({ vpcId: sim.vpcId, name: "pods" });
    kw.eniConfig("us-west-2a-pods", podSubnet.id, [podSg.id]);
    kw.node(NODE, { labels: { [LABEL]: "us-west-2a-pods" } });
    kube!.start();
    await pm.start();
    await settle(pm);
    const enis = attached(sim);
    const secondary = enis.filter((e) => e.attachment!.deviceIndex > 0);
    expect(secondary.length).toBeGreaterThan(0);
    for (const e of secondary) {
      expect(e.subnetId).toBe(podSubnet.id);
      expect(e.groups).toEqual([podSg.id]);
      expect(e.secondaryIps.length).toBe(9);
    }
    const primary = enis.find((e) => e.attachment!.deviceIndex === 0)!;
    expect(primary.secondaryIps).toEqual([]);
    const snap = pm.model.snapshot();
    expect(snap.shortage).toBeUndefined();
    expect(snap.enis.find((e) => e.primary)?.usable).toBe(false);
    const usable = snap.enis.filter((e) => e.usable);
    expect(usable.length).toBe(secondary.length);
    expect(usable.every((e) => e.subnetCidr === "10.0.8.0/24" && e.cidrs.length === 9)).toBe(true);
  });

  test("no ENIConfig for the node → no pod addresses and the shortage names it", async () => {
    const { pm, kube, sim, kw } = await boot(up({ customNetwork: true }));
    kw.node(NODE, { labels: { [LABEL]: "nope" } });
    kube!.start();
    await pm.start();
    await settle(pm);
    expect(attached(sim)).toHaveLength(1);
    expect(attached(sim).flatMap((e) => e.secondaryIps)).toEqual([]);
    const snap = pm.model.snapshot();
    expect(snap.enis.filter((e) => e.usable)).toEqual([]);
    expect(snap.shortage).toEndWith(`cannot grow: no ENIConfig named nope for node ${NODE} (from label ${LABEL})`);
  });

  test("API unreachable at start-up → shortage says so, debug says why; when it is back the pool grows", async () => {
    const { pm, kube, sim, kw } = await boot(up({ customNetwork: true }));
    const podSubnet = sim.model.createSubnet({ vpcId: sim.vpcId, az: "us-west-2a", cidr: "10.0.8.0/24" });
    kw.eniConfig("default", podSubnet.id, []);
    kw.node(NODE);
    kw.served.setUnreachable("refuse");
    kube!.start();
    await pm.start();
    await settle(pm, 2);
    const snap = pm.model.snapshot();
    expect(snap.shortage).toContain(`cannot grow: custom networking: Kubernetes API unreachable at ${kw.served.url}: `);
    expect(attached(sim).flatMap((e) => e.secondaryIps)).toEqual([]);
    await until(() => String((pm.debug().kubernetes as { status: string }).status).startsWith("kubernetes: unreachable"), "debug reason");
    expect((pm.debug().kubernetes as { status: string }).status).toMatch(new RegExp(`^kubernetes: unreachable at ${kw.served.url}: .+, retrying in \\d+ s$`));

    kw.served.setUnreachable(false); // the adapter reconnects and pokes the pool-manager
    await until(() => attached(sim).some((e) => e.subnetId === podSubnet.id), "ENI created in the ENIConfig subnet after recovery", 400);
    await settle(pm, 2);
    expect(pm.model.snapshot().shortage).toBeUndefined();
  });
});

describe("without custom networking", () => {
  test("the API unreachable does not hold back the pool", async () => {
    const { pm, kube, sim, kw } = await boot(up({ warmIpTarget: 3 }));
    kw.served.setUnreachable("503");
    kube!.start();
    await pm.start();
    await settle(pm, 2);
    expect(attached(sim).flatMap((e) => e.secondaryIps)).toHaveLength(3);
    expect(pm.model.snapshot().shortage).toBeUndefined();
  });

  test("no Kubernetes configured: debug says so, the pool is built", async () => {
    const { pm, sim } = await boot(up({ warmIpTarget: 2 }), { kube: false });
    await pm.start();
    await settle(pm, 2);
    expect(attached(sim).flatMap((e) => e.secondaryIps)).toHaveLength(2);
    expect((pm.debug().kubernetes as { status: string }).status).toStartWith("kubernetes: not configured");
  });

  test("an unschedulable-tainted node does not grow, unless AWS_MANAGE_ENIS_NON_SCHEDULABLE", async () => {
    for (const manage of [false, true]) {
      const { pm, kube, sim, kw } = await boot(up({ warmIpTarget: 4, manageNonSchedulable: manage }));
      kw.node(NODE, { taints: [{ key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" }] });
      kube!.start();
      await pm.start();
      await settle(pm, 2);
      expect({ manage, ips: attached(sim).flatMap((e) => e.secondaryIps).length }).toEqual({ manage, ips: manage ? 4 : 0 });
      pm.stop();
      await k!.stop();
      await w!.stop();
      k = undefined;
      w = undefined;
    }
  });

  test("pods scheduled to the node without an address grow the pool at once (demand-aware)", async () => {
    const { pm, kube, sim, kw } = await boot(up({ warmIpTarget: 2, demandAware: true }));
    kw.node(NODE);
    kube!.start();
    await pm.start();
    await settle(pm, 2);
    expect(attached(sim).flatMap((e) => e.secondaryIps)).toHaveLength(2);
    for (let i = 0; i < 7; i++) kw.pod(`web-${i}`, NODE);
    kw.pod("elsewhere", "another-node");
    // No cycle is driven by the test: the watch event pokes the pool-manager.
    await until(() => attached(sim).flatMap((e) => e.secondaryIps).length >= 7, "pool grown to the scheduled pods", 400);
    expect((pm.debug().kubernetes as { pods: { needingAddress: number } }).pods.needingAddress).toBe(7);
  });

  test("UnauthorizedOperation from EC2 → a Warning event on the Node naming the action", async () => {
    const { pm, kube, sim, kw } = await boot(up({ warmIpTarget: 2 }));
    sim.server.service.setFaults({ unauthorized: ["AssignPrivateIpAddresses"] });
    kw.node(NODE);
    kube!.start();
    await pm.start();
    await settle(pm, 3);
    await until(async () => ((await kw.get("/api/v1/namespaces/default/events")).items ?? []).length > 0, "event sent");
    const events = (await kw.get("/api/v1/namespaces/default/events")).items as { reason: string; type: string; message: string; involvedObject: { kind: string; name: string } }[];
    expect(events).toHaveLength(1); // several refusals, one event
    expect(events[0]).toMatchObject({ reason: "MissingIAMPermissions", type: "Warning", involvedObject: { kind: "Node", name: NODE } });
    expect(events[0]!.message).toContain("ec2:AssignPrivateIpAddresses");
  });

  test("ENABLE_POD_ENI on a trunking instance: CNINode feature, no obsolete has-trunk-attached label; one ENI slot kept for the trunk", async () => {
    const { pm, kube, sim, kw } = await boot(up({ podEni: true, warmEniTarget: 3 }));
    kw.node(NODE);
    kube!.start();
    await pm.start();
    await settle(pm);
    const node = await kw.get(`/api/v1/nodes/${NODE}`);
    expect(Object.keys((node.metadata as { labels?: Record<string, string> }).labels ?? {})).not.toContain("vpc.amazonaws.com/has-trunk-attached");
    expect((await kw.get(`/apis/vpcresources.k8s.aws/v1alpha1/cninodes/${NODE}`)).spec).toEqual({ features: [{ name: "SecurityGroupsForPods" }] });
    expect(attached(sim)).toHaveLength(2); // m5.large has 3 slots; one is reserved for the trunk ENI
  });
});
