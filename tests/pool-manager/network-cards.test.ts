// The pool-manager on an instance with several network cards, through the real SDK against
// the simulated EC2. Without ENABLE_MULTI_NIC upstream manages only network card 0: ENIs on
// other cards are never adopted, given addresses, deleted or counted.
// Assumptions: c6in.32xlarge (2 network cards × 8 ENIs, 50 IPv4 per ENI → 49 secondary
// slots); subnet 10.0.0.0/20 (room for 8 full ENIs); an ENI someone else attached on card 1
// at device index 1 with 5 secondary addresses, before the pool-manager starts. EFA: an
// efa-only ENI (no address) and an efa ENI (3 secondary addresses) on card 0.
import { afterEach, describe, expect, test } from "bun:test";
import type { PoolManager } from "../../services/pool-manager/src/app/pool-manager.ts";
import { UPSTREAM_DEFAULTS, type PoolSettings } from "../../services/pool-manager/src/core/settings.ts";
import type { FakeNetConfig } from "../../services/pool-manager/test-support/fakes.ts";
import { enisOnCard, manager, settleCycles, simWorld, type SimWorld } from "./sim-world.ts";

let w: SimWorld | undefined;
const managers: PoolManager[] = [];
afterEach(async () => {
  for (const pm of managers.splice(0)) pm.stop();
  await w?.stop();
  w = undefined;
});

const up = (o: Partial<PoolSettings> = {}): PoolSettings => ({ ...UPSTREAM_DEFAULTS, ...o });

/** A c6in.32xlarge with an ENI on network card 1 (device index 1, 5 secondary addresses). */
async function multiCardWorld(): Promise<{ sim: SimWorld; card1EniId: string }> {
  const sim = await simWorld({ instanceType: "c6in.32xlarge", subnetCidr: "10.0.0.0/20" });
  w = sim;
  const eni = sim.model.createNetworkInterface({ subnetId: sim.subnetId, description: "another agent's ENI", secondaryCount: 5, tags: { owner: "someone-else" } });
  sim.model.attachNetworkInterface({ eniId: eni.id, instanceId: sim.instanceId, deviceIndex: 1, networkCardIndex: 1 });
  await Bun.sleep(60); // the attachment and IMDS delays (20 ms, 10 ms)
  sim.model.settleDue();
  return { sim, card1EniId: eni.id };
}

function start(sim: SimWorld, settings: PoolSettings, maxPods?: number): { pm: PoolManager; net: FakeNetConfig } {
  const h = manager(sim, settings, { disableLeakedEniCleanup: true, ...(maxPods ? { maxPods } : {}) });
  managers.push(h.pm);
  return { pm: h.pm, net: h.net };
}

const settle = settleCycles;
const onCard = enisOnCard;

describe("several network cards, ENABLE_MULTI_NIC unset: only card 0 is managed", () => {
  test("the pool grows to card 0's own limit (8), the card-1 ENI is untouched and not counted", async () => {
    const { sim, card1EniId } = await multiCardWorld();
    const before = structuredClone(sim.model.state.enis[card1EniId]!);
    // WARM_ENI_TARGET=8 asks for more than the instance can give: the pool stops at the limit
    // (max pods 500, so that upstream's stop at max pods does not come first).
    const { pm, net } = start(sim, up({ warmEniTarget: 8 }), 500);
    await pm.start();
    expect(pm.limits?.maxEnis).toBe(8);
    await settle(pm, 60, () => pm.model.snapshot().enis.length === 8 && pm.model.snapshot().enis.every((e) => e.cidrs.length === 49));
    await settle(pm, 2);

    const card0 = onCard(sim, 0);
    expect(card0).toHaveLength(8);
    expect(card0.map((e) => e.attachment!.deviceIndex).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(card0.filter((e) => e.attachment!.deviceIndex > 0).every((e) => e.secondaryIps.length === 49)).toBe(true);
    // The ENI on card 1: same addresses, tags, attachment; nothing else attached there.
    expect(sim.model.state.enis[card1EniId]).toEqual(before);
    expect(onCard(sim, 1).map((e) => e.id)).toEqual([card1EniId]);
    // Not in the capacity, not set up by net-config, not counted as unmanaged.
    const snap = pm.model.snapshot();
    expect(snap.enis.map((e) => e.id)).not.toContain(card1EniId);
    expect(snap.enis).toHaveLength(8);
    expect(snap.enis.every((e) => e.networkCard === 0)).toBe(true);
    expect(net.enis.has(card1EniId)).toBe(false);
    expect(pm.model.unmanaged).toBe(0);
    expect([...pm.model.otherCardEnis]).toEqual([card1EniId]);
    // It never tried a ninth ENI (the simulated EC2 refuses a ninth on card 0).
    expect(sim.server.service.calls.AttachNetworkInterface).toMatchObject({ ok: 7, error: 0 });
  });

  test("a restart and a reconcile against EC2 adopt nothing from card 1 and change nothing in EC2", async () => {
    const { sim, card1EniId } = await multiCardWorld();
    const before = structuredClone(sim.model.state.enis[card1EniId]!);
    const first = start(sim, up({ warmEniTarget: 2 }));
    await first.pm.start();
    await settle(first.pm, 4);
    expect(onCard(sim, 0)).toHaveLength(2); // the primary (filled first) and one more
    first.pm.stop();

    const calls = sim.mutatingCalls();
    const second = start(sim, up({ warmEniTarget: 2 }));
    await second.pm.start();
    await settle(second.pm, 3);
    // The reconcile against EC2 (IMDS lists 3 interfaces; the pool knows 2) adopts nothing either.
    await second.pm.reconcile(true);
    expect(sim.mutatingCalls()).toBe(calls);
    expect(second.pm.model.snapshot().enis.map((e) => e.id)).not.toContain(card1EniId);
    expect(second.pm.model.enis.size).toBe(2);
    expect(sim.model.state.enis[card1EniId]).toEqual(before);
  });

  test("the card-0 ENI it creates takes device index 1 although card 1 uses device index 1 too", async () => {
    const { sim } = await multiCardWorld();
    const { pm } = start(sim, up({ warmEniTarget: 2 }));
    await pm.start();
    await settle(pm, 3);
    expect(onCard(sim, 0).map((e) => e.attachment!.deviceIndex).sort()).toEqual([0, 1]);
    expect(onCard(sim, 1).map((e) => e.attachment!.deviceIndex)).toEqual([1]);
  });
});

describe("EFA ENIs, as upstream handles them", () => {
  test("an efa-only ENI on card 0 is left alone but takes a slot; an efa ENI is managed, filled and serves pods", async () => {
    const { sim, card1EniId } = await multiCardWorld();
    const efaOnly = sim.model.createNetworkInterface({ subnetId: sim.subnetId, interfaceType: "efa-only" });
    const efa = sim.model.createNetworkInterface({ subnetId: sim.subnetId, interfaceType: "efa", secondaryCount: 3 });
    sim.model.attachNetworkInterface({ eniId: efaOnly.id, instanceId: sim.instanceId, deviceIndex: 1, networkCardIndex: 0 });
    sim.model.attachNetworkInterface({ eniId: efa.id, instanceId: sim.instanceId, deviceIndex: 2, networkCardIndex: 0 });
    await Bun.sleep(60);
    sim.model.settleDue();
    const efaOnlyBefore = structuredClone(sim.model.state.enis[efaOnly.id]!);
    const { pm, net } = start(sim, up({ warmEniTarget: 8 }), 500);
    await pm.start();
    // Card 0's 8 slots: the efa-only ENI takes one, so the pool holds 7 (primary, efa, 5 created).
    await settle(pm, 60, () => pm.model.snapshot().enis.length === 7 && pm.model.snapshot().enis.every((e) => e.cidrs.length === 49));
    await settle(pm, 2);
    expect(pm.model.unmanaged).toBe(1);
    const snap = pm.model.snapshot();
    expect(snap.enis).toHaveLength(7);
    expect(snap.enis.map((e) => e.id)).not.toContain(efaOnly.id);
    expect(snap.enis.find((e) => e.id === efa.id)).toMatchObject({ usable: true, deviceNumber: 2 });
    expect(snap.enis.find((e) => e.id === efa.id)!.cidrs).toHaveLength(49);
    expect(net.enis.has(efa.id)).toBe(true);
    expect(net.enis.has(efaOnly.id)).toBe(false);
    expect(onCard(sim, 0)).toHaveLength(8);
    expect(sim.model.state.enis[efa.id]!.secondaryIps).toHaveLength(49);
    expect(sim.model.state.enis[efaOnly.id]).toEqual(efaOnlyBefore);
    expect(sim.model.state.enis[card1EniId]!.attachment?.networkCardIndex).toBe(1);
    expect(sim.server.service.calls.AttachNetworkInterface).toMatchObject({ ok: 5, error: 0 });
    // The reconcile against EC2 recounts: still one unmanaged, nothing adopted or changed.
    const calls = sim.mutatingCalls();
    await pm.reconcile(true);
    await settle(pm, 2);
    expect(pm.model.unmanaged).toBe(1);
    expect(pm.model.snapshot().enis).toHaveLength(7);
    expect(sim.mutatingCalls()).toBe(calls);
  });
});
