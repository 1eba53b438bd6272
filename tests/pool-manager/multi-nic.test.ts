// ENABLE_MULTI_NIC on instances with several network cards, through the real SDK against the
// simulated EC2: each eligible card above 0 gets its own pool (an ENI attached on that card,
// WARM_IP_TARGET=1 and MINIMUM_IP_TARGET=1 as upstream fixes them there); card 0 is as without.
// Assumptions: c6in.32xlarge (2 cards × 8 ENIs, 50 IPv4 per ENI), p5.48xlarge (32 cards × 2
// ENIs); subnet 10.0.0.0/20. The option is passed to the pool-manager directly (as main.ts
// passes ENABLE_MULTI_NIC).
import { afterEach, describe, expect, test } from "bun:test";
import type { PoolManager } from "../../services/pool-manager/src/app/pool-manager.ts";
import { poolDebug } from "../../services/pool-manager/src/app/pool-debug.ts";
import { enisBody } from "../../services/pool-manager/src/app/introspection.ts";
import { UPSTREAM_DEFAULTS, type PoolSettings } from "../../services/pool-manager/src/core/settings.ts";
import { enisOnCard, manager, settleCycles, simWorld, type Harness, type SimWorld } from "./sim-world.ts";

let w: SimWorld | undefined;
const managers: PoolManager[] = [];
afterEach(async () => {
  for (const pm of managers.splice(0)) pm.stop();
  await w?.stop();
  w = undefined;
});

const up = (o: Partial<PoolSettings> = {}): PoolSettings => ({ ...UPSTREAM_DEFAULTS, ...o });

async function world(instanceType: string): Promise<SimWorld> {
  w = await simWorld({ instanceType, subnetCidr: "10.0.0.0/20" });
  return w;
}

function startH(sim: SimWorld, settings: PoolSettings, multiNic = true): Harness {
  const h = manager(sim, settings, { disableLeakedEniCleanup: true, multiNic, maxPods: 500 });
  managers.push(h.pm);
  return h;
}
const start = (sim: SimWorld, settings: PoolSettings, multiNic = true): PoolManager => startH(sim, settings, multiNic).pm;

const settle = settleCycles;
const onCard = enisOnCard;
const secondaries = (s: SimWorld, card: number) => onCard(s, card).flatMap((e) => e.secondaryIps);

async function attachOther(sim: SimWorld, card: number, device: number, o: { interfaceType?: "efa-only" | "efa"; secondaryCount?: number; tags?: Record<string, string> } = {}): Promise<string> {
  const eni = sim.model.createNetworkInterface({ subnetId: sim.subnetId, ...o });
  sim.model.attachNetworkInterface({ eniId: eni.id, instanceId: sim.instanceId, deviceIndex: device, networkCardIndex: card });
  return eni.id;
}

describe("ENABLE_MULTI_NIC: a pool per network card", () => {
  test("card 1 gets one ENI at device 0 with one address; it follows the warm/minimum target of 1 as pods take and free addresses", async () => {
    const sim = await world("c6in.32xlarge");
    const { pm, net, broker } = startH(sim, up());
    await pm.start();
    await settle(pm, 20, () => secondaries(sim, 1).length === 1 && secondaries(sim, 0).length === 49 && pm.cardPools!.capacityEnis().length === 1);
    const card1 = onCard(sim, 1);
    expect(card1).toHaveLength(1);
    expect(card1[0]!.attachment!.deviceIndex).toBe(0);
    expect(card1[0]!.secondaryIps).toHaveLength(1);
    expect(card1[0]!.subnetId).toBe(sim.subnetId);
    expect(card1[0]!.tags["node.k8s.amazonaws.com/instance_id"]).toBe(sim.instanceId);
    expect(card1[0]!.attachment!.deleteOnTermination).toBe(true);
    // Card 0 as without the option: the primary, filled (WARM_ENI_TARGET=1 is met by its 49 free addresses).
    expect(onCard(sim, 0)).toHaveLength(1);
    expect(secondaries(sim, 0)).toHaveLength(49);
    expect(pm.model.enis.has(card1[0]!.id)).toBe(false); // not in card 0's pool
    // Introspection by card: route table 10000 + 100 × card + device.
    const dbg = poolDebug(pm, undefined) as { networkCards: { cards: Record<string, { enis: { id: string; routeTable: number; addresses: string[] }[] }> }; otherNetworkCardEnis: string[] };
    expect(dbg.networkCards.cards["1"]!.enis).toMatchObject([{ id: card1[0]!.id, routeTable: 10100, addresses: card1[0]!.secondaryIps }]);
    expect(dbg.otherNetworkCardEnis).toEqual([]);
    // Set up by net-config in its own route table, published to addr-broker but for no ordinary pod.
    expect(net.enis.get(card1[0]!.id)).toBe(10100);
    const published = pm.model.snapshot().enis.find((e) => e.id === card1[0]!.id);
    expect(published).toMatchObject({ networkCard: 1, deviceNumber: 0, routeTable: 10100, usable: false, subnetCidr: "10.0.0.0/20", gateway: "10.0.0.1", cidrs: [{ cidr: `${card1[0]!.secondaryIps[0]}/32`, kind: "address" }] });

    // Introspection keyed by card, as upstream's /v1/enis: a multi-homed pod's two addresses, one per card.
    const first = card1[0]!.secondaryIps[0]!;
    const pod0 = secondaries(sim, 0)[0]!;
    const pod = { containerId: "c1", netns: "/run/netns/x", podNamespace: "ml", podName: "trainer", networkName: "aws-cni" };
    const body = enisBody(pm, [
      { ...pod, ifName: "eth0", address: pod0, routeTable: 254 },
      { ...pod, ifName: "mNicIf1", address: first, routeTable: 10100, index: 1 },
    ]) as Record<string, { TotalIPs: number; AssignedIPs: number; ENIs: Record<string, { RouteTableID: number; DeviceNumber: number; AvailableIPv4Cidrs: Record<string, { IPAddresses: Record<string, { IPAMMetadata: Record<string, unknown> }> }> }> }>;
    expect(Object.keys(body)).toEqual(["0", "1"]);
    const eni1 = body["1"]!.ENIs[card1[0]!.id]!;
    expect([eni1.RouteTableID, eni1.DeviceNumber, body["1"]!.TotalIPs, body["1"]!.AssignedIPs]).toEqual([10100, 0, 1, 1]);
    expect(eni1.AvailableIPv4Cidrs[`${first}/32`]!.IPAddresses[first]!.IPAMMetadata).toEqual({ k8sPodNamespace: "ml", k8sPodName: "trainer", interfacesCount: 2 });

    // addr-broker reports a pod on the address: one more is kept warm.
    broker.use.set(`${first}/32`, { assigned: 1, cooling: 0 });
    await pm.refreshUsage();
    await settle(pm, 3, () => secondaries(sim, 1).length === 2);
    expect(secondaries(sim, 1)).toHaveLength(2);
    expect(secondaries(sim, 1)).toContain(first);
    // Freed again: the pool goes back to one address, never the pod's while it is held.
    broker.use.delete(`${first}/32`);
    await pm.refreshUsage();
    await settle(pm, 3, () => secondaries(sim, 1).length === 1);
    expect(secondaries(sim, 1)).toHaveLength(1);
    expect(onCard(sim, 1)).toHaveLength(1);
  });

  test("a restart adopts the card-1 ENI and its address: no EC2 change", async () => {
    const sim = await world("c6in.32xlarge");
    const first = start(sim, up());
    await first.start();
    await settle(first, 20, () => secondaries(sim, 1).length === 1 && secondaries(sim, 0).length === 49);
    first.stop();
    await Bun.sleep(60); // the attachment settles
    sim.model.settleDue();
    const card1Before = structuredClone(onCard(sim, 1));
    const calls = sim.mutatingCalls();
    const second = start(sim, up());
    await second.start();
    await settle(second, 3);
    expect(sim.mutatingCalls()).toBe(calls);
    expect(onCard(sim, 1)).toEqual(card1Before);
    expect([...second.cardPools!.eniIds()]).toEqual([card1Before[0]!.id]);
  });

  test("eligible cards on a p5.48xlarge: efa-only alone is left alone, efa-only beside an ena ENI is managed through the ena ENI", async () => {
    const sim = await world("p5.48xlarge");
    const efaOnly2 = await attachOther(sim, 2, 0, { interfaceType: "efa-only" });
    const efaOnly3 = await attachOther(sim, 3, 0, { interfaceType: "efa-only" });
    const ena3 = await attachOther(sim, 3, 1, { secondaryCount: 0 });
    await Bun.sleep(60);
    sim.model.settleDue();
    const pm = start(sim, up());
    await pm.start();
    const managed = [1, ...Array.from({ length: 29 }, (_, i) => i + 3)];
    await settle(pm, 30, () => managed.every((c) => secondaries(sim, c).length === 1));
    expect(pm.cardPools!.unmanagedCards).toEqual([2]);
    // The capacity names the managed cards above 0: a multi-homed pod takes an address on each.
    expect(pm.model.snapshot().networkCards).toEqual(managed);
    expect(onCard(sim, 2).map((e) => e.id)).toEqual([efaOnly2]);
    // Card 3: no new ENI, its ena ENI got the one address, the efa-only ENI none.
    expect(onCard(sim, 3).map((e) => e.id).sort()).toEqual([efaOnly3, ena3].sort());
    expect(sim.model.state.enis[ena3]!.secondaryIps).toHaveLength(1);
    expect(sim.model.state.enis[efaOnly3]!.secondaryIps).toHaveLength(0);
    for (const c of managed.filter((c) => c !== 3)) {
      expect(onCard(sim, c).map((e) => [e.attachment!.deviceIndex, e.secondaryIps.length])).toEqual([[0, 1]]);
    }
  }, 30_000);

  test("without the option nothing is created on card 1 (card 0 only, as today)", async () => {
    const sim = await world("c6in.32xlarge");
    const pm = start(sim, up(), false);
    await pm.start();
    await settle(pm, 5, () => secondaries(sim, 0).length === 49);
    await settle(pm, 2);
    expect(onCard(sim, 1)).toHaveLength(0);
    expect(onCard(sim, 0)).toHaveLength(1);
    expect(secondaries(sim, 0)).toHaveLength(49);
    expect(pm.cardPools).toBeUndefined();
    expect(pm.model.snapshot().networkCards).toBeUndefined();
  });
});
