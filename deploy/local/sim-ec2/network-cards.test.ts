// Instance types with several network cards: each card has its own ENI limit and numbers its
// own device indexes; NetworkCardIndex beyond the type's cards is refused; IMDS shows
// network-card only on such types; DescribeInstanceTypes lists every card.
// Assumptions: c6in.32xlarge = 2 cards × 8 ENIs (16 in total), m5.large = 1 card × 3.
import { describe, expect, test } from "bun:test";
import { INSTANCE_TYPES } from "./instance-types.ts";
import { instanceTypeXml } from "./render.ts";
import { codeOf, testWorld } from "./test-world.ts";

describe("network cards", () => {
  test("per-card limits: 7 more ENIs on card 0 and 8 on card 1, then both refuse; device indexes are per card", () => {
    const { model, subnet, instance } = testWorld({ instanceType: "c6in.32xlarge", subnetCidr: "10.0.0.0/20" });
    const attach = (card: number, deviceIndex: number) => {
      const eni = model.createNetworkInterface({ subnetId: subnet.id });
      return { eni, code: codeOf(() => model.attachNetworkInterface({ eniId: eni.id, instanceId: instance.id, deviceIndex, networkCardIndex: card })) };
    };
    for (let d = 1; d < 8; d++) expect(attach(0, d).code).toBe("none");
    // Device index 1 is taken on card 0, free on card 1.
    for (let d = 0; d < 8; d++) expect(attach(1, d).code).toBe("none");
    expect(attach(0, 8).code).toBe("AttachmentLimitExceeded");
    expect(attach(1, 8).code).toBe("AttachmentLimitExceeded");
    const attached = Object.values(model.state.enis).filter((e) => e.attachment?.instanceId === instance.id);
    expect(attached.filter((e) => e.attachment!.networkCardIndex === 0)).toHaveLength(8);
    expect(attached.filter((e) => e.attachment!.networkCardIndex === 1)).toHaveLength(8);
  });

  test("the same device index twice on one card is refused; a card the type lacks is refused and changes nothing", () => {
    const { model, subnet, instance } = testWorld({ instanceType: "c6in.32xlarge" });
    const a = model.createNetworkInterface({ subnetId: subnet.id });
    const b = model.createNetworkInterface({ subnetId: subnet.id });
    model.attachNetworkInterface({ eniId: a.id, instanceId: instance.id, deviceIndex: 1, networkCardIndex: 1 });
    expect(codeOf(() => model.attachNetworkInterface({ eniId: b.id, instanceId: instance.id, deviceIndex: 1, networkCardIndex: 1 }))).toBe("InvalidParameterValue");
    expect(codeOf(() => model.attachNetworkInterface({ eniId: b.id, instanceId: instance.id, deviceIndex: 1, networkCardIndex: 2 }))).toBe("InvalidParameterValue");
    expect(model.state.enis[b.id]!.attachment).toBeNull();
    const single = testWorld();
    const c = single.model.createNetworkInterface({ subnetId: single.subnet.id });
    expect(codeOf(() => single.model.attachNetworkInterface({ eniId: c.id, instanceId: single.instance.id, deviceIndex: 1, networkCardIndex: 1 }))).toBe("InvalidParameterValue");
  });

  test("IMDS shows network-card on a multi-card type only", () => {
    const multi = testWorld({ instanceType: "c6in.32xlarge" });
    const eni = multi.model.createNetworkInterface({ subnetId: multi.subnet.id });
    multi.model.attachNetworkInterface({ eniId: eni.id, instanceId: multi.instance.id, deviceIndex: 1, networkCardIndex: 1 });
    multi.advance(1);
    expect(multi.model.imdsView(multi.instance.id)!.map((i) => [i.interfaceId, i.networkCard, i.deviceNumber])).toEqual([
      [multi.instance.primaryEniId, 0, 0],
      [eni.id, 1, 1],
    ]);
    const single = testWorld();
    expect(single.model.imdsView(single.instance.id)!.map((i) => i.networkCard)).toEqual([undefined]);
  });

  test("DescribeInstanceTypes: the total and each card's own limit", () => {
    expect(instanceTypeXml(INSTANCE_TYPES["c6in.32xlarge"]!)).toMatchObject({
      networkInfo: {
        maximumNetworkInterfaces: 16,
        maximumNetworkCards: 2,
        defaultNetworkCardIndex: 0,
        networkCards: [
          { networkCardIndex: 0, maximumNetworkInterfaces: 8 },
          { networkCardIndex: 1, maximumNetworkInterfaces: 8 },
        ],
        ipv4AddressesPerInterface: 50,
        efaSupported: true,
      },
    });
    const p5 = instanceTypeXml(INSTANCE_TYPES["p5.48xlarge"]!) as { networkInfo: { networkCards: Array<{ maximumNetworkInterfaces: number }> } };
    expect(p5.networkInfo.networkCards).toHaveLength(32);
    expect(p5.networkInfo.networkCards.every((c) => c.maximumNetworkInterfaces === 2)).toBe(true);
  });
});

describe("EFA interfaces", () => {
  test("efa-only has no address and refuses any; efa has addresses; both refused on a type without EFA, nothing changed", () => {
    const { model, subnet, instance } = testWorld({ instanceType: "c6in.32xlarge" });
    const efaOnly = model.createNetworkInterface({ subnetId: subnet.id, interfaceType: "efa-only" });
    expect(efaOnly.primaryIp).toBe("");
    expect(codeOf(() => model.createNetworkInterface({ subnetId: subnet.id, interfaceType: "efa-only", secondaryCount: 1 }))).toBe("InvalidParameterCombination");
    expect(codeOf(() => model.assignPrivateIpAddresses({ eniId: efaOnly.id, count: 1 }))).toBe("InvalidParameterCombination");
    expect(codeOf(() => model.createNetworkInterface({ subnetId: subnet.id, interfaceType: "gateway" }))).toBe("InvalidParameterValue");
    const efa = model.createNetworkInterface({ subnetId: subnet.id, interfaceType: "efa", secondaryCount: 2 });
    expect(efa.secondaryIps).toHaveLength(2);
    model.attachNetworkInterface({ eniId: efaOnly.id, instanceId: instance.id, deviceIndex: 1 });
    model.attachNetworkInterface({ eniId: efa.id, instanceId: instance.id, deviceIndex: 2 });
    model.settle();
    const view = model.imdsView(instance.id)!;
    expect(view.find((i) => i.interfaceId === efaOnly.id)?.localIpv4s).toEqual([]);
    expect(view.find((i) => i.interfaceId === efa.id)?.localIpv4s).toHaveLength(3);

    const single = testWorld();
    const e = single.model.createNetworkInterface({ subnetId: single.subnet.id, interfaceType: "efa" });
    expect(codeOf(() => single.model.attachNetworkInterface({ eniId: e.id, instanceId: single.instance.id, deviceIndex: 1 }))).toBe("UnsupportedOperation");
    expect(single.model.state.enis[e.id]!.attachment).toBeNull();
  });
});
