import { describe, expect, test } from "bun:test";
import { availableIpv4Count } from "./allocator.ts";
import type { Ec2Observer } from "./observer.ts";
import { codeOf, testWorld } from "./test-world.ts";

describe("subnet allocator", () => {
  test("reserves the first four addresses and the last one", () => {
    const { model, subnet } = testWorld({ subnetCidr: "10.0.1.0/28" });
    // /28 = 16 addresses, 5 reserved, the instance's primary took one: 10 left.
    expect(availableIpv4Count(model.state, subnet)).toBe(10);
    const eni = model.createNetworkInterface({ subnetId: subnet.id, secondaryCount: 9 });
    const all = [eni.primaryIp, ...eni.secondaryIps];
    for (const reserved of ["10.0.1.0", "10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.15"]) expect(all).not.toContain(reserved);
    expect(model.state.instances[Object.keys(model.state.instances)[0]!]!.privateIp).toBe("10.0.1.4");
    expect(codeOf(() => model.createNetworkInterface({ subnetId: subnet.id }))).toBe("InsufficientFreeAddressesInSubnet");
    expect(codeOf(() => model.createNetworkInterface({ subnetId: subnet.id, primaryIp: "10.0.1.15" }))).toBe("InvalidParameterValue");
  });

  test("prefixes are aligned /28s clear of reserved addresses", () => {
    const { model, subnet } = testWorld({ subnetCidr: "10.0.1.0/26" });
    const eni = model.createNetworkInterface({ subnetId: subnet.id });
    const r = model.assignPrivateIpAddresses({ eniId: eni.id, prefixCount: 2 });
    // 10.0.1.0/28 holds reserved addresses (and the primaries), 10.0.1.48/28 holds the last one.
    expect(r.prefixes).toEqual(["10.0.1.16/28", "10.0.1.32/28"]);
    expect(codeOf(() => model.assignPrivateIpAddresses({ eniId: eni.id, prefixCount: 1 }))).toBe("InsufficientCidrBlocks");
  });

  test("a fragmented subnet has free addresses but no free /28", () => {
    const { model, subnet } = testWorld({ subnetCidr: "10.0.1.0/26" });
    // Fill the subnet (59 usable, the instance has one), then free one address in each of
    // three /28 blocks: three single addresses free, no whole block.
    const a = model.createNetworkInterface({ subnetId: subnet.id, secondaryCount: 40 });
    const c = model.createNetworkInterface({ subnetId: subnet.id, secondaryCount: 16 });
    expect(availableIpv4Count(model.state, subnet)).toBe(0);
    model.unassignPrivateIpAddresses({ eniId: a.id, addresses: ["10.0.1.20", "10.0.1.36"] });
    model.unassignPrivateIpAddresses({ eniId: c.id, addresses: ["10.0.1.52"] });
    const b = model.createNetworkInterface({ subnetId: subnet.id });
    expect(b.primaryIp).toBe("10.0.1.20");
    expect(codeOf(() => model.assignPrivateIpAddresses({ eniId: b.id, prefixCount: 1 }))).toBe("InsufficientCidrBlocks");
    const r = model.assignPrivateIpAddresses({ eniId: b.id, count: 2 });
    expect(r.addresses).toEqual(["10.0.1.36", "10.0.1.52"]);
    expect(codeOf(() => model.assignPrivateIpAddresses({ eniId: b.id, count: 1 }))).toBe("InsufficientFreeAddressesInSubnet");
  });
});

describe("per-ENI and per-instance limits", () => {
  test("IPv4 per ENI counts the primary and a prefix as one slot (m5.large: 10)", () => {
    const { model, subnet, instance } = testWorld({ subnetCidr: "10.0.0.0/20" });
    const eni = model.createNetworkInterface({ subnetId: subnet.id, secondaryCount: 5 });
    model.attachNetworkInterface({ eniId: eni.id, instanceId: instance.id, deviceIndex: 1 });
    model.assignPrivateIpAddresses({ eniId: eni.id, prefixCount: 3 });
    expect(codeOf(() => model.assignPrivateIpAddresses({ eniId: eni.id, count: 2 }))).toBe("PrivateIpAddressLimitExceeded");
    model.assignPrivateIpAddresses({ eniId: eni.id, count: 1 });
    expect(1 + model.state.enis[eni.id]!.secondaryIps.length + model.state.enis[eni.id]!.ipv4Prefixes.length).toBe(10);
    // IPv6 per ENI = 10 as well.
    model.assignIpv6Addresses({ eniId: eni.id, count: 9 });
    model.assignIpv6Addresses({ eniId: eni.id, prefixCount: 1 });
    expect(codeOf(() => model.assignIpv6Addresses({ eniId: eni.id, count: 1 }))).toBe("PrivateIpAddressLimitExceeded");
  });

  test("attaching an ENI that carries more than the type allows is refused", () => {
    const { model, subnet, instance } = testWorld({ instanceType: "t3.small" });
    const eni = model.createNetworkInterface({ subnetId: subnet.id, secondaryCount: 4 });
    expect(codeOf(() => model.attachNetworkInterface({ eniId: eni.id, instanceId: instance.id, deviceIndex: 1 }))).toBe("PrivateIpAddressLimitExceeded");
    expect(model.state.enis[eni.id]!.attachment).toBeNull();
  });

  test("device index at or above the ENI limit, and in use", () => {
    const { model, subnet, instance } = testWorld();
    const e1 = model.createNetworkInterface({ subnetId: subnet.id });
    expect(codeOf(() => model.attachNetworkInterface({ eniId: e1.id, instanceId: instance.id, deviceIndex: 3 }))).toBe("AttachmentLimitExceeded");
    expect(codeOf(() => model.attachNetworkInterface({ eniId: e1.id, instanceId: instance.id, deviceIndex: 0 }))).toBe("InvalidParameterValue");
    model.attachNetworkInterface({ eniId: e1.id, instanceId: instance.id, deviceIndex: 2 });
    const e2 = model.createNetworkInterface({ subnetId: subnet.id });
    expect(codeOf(() => model.attachNetworkInterface({ eniId: e2.id, instanceId: instance.id, deviceIndex: 2 }))).toBe("InvalidParameterValue");
    expect(codeOf(() => model.attachNetworkInterface({ eniId: e1.id, instanceId: instance.id, deviceIndex: 1 }))).toBe("InvalidNetworkInterface.InUse");
    model.attachNetworkInterface({ eniId: e2.id, instanceId: instance.id, deviceIndex: 1 });
    expect(model.enisOf(instance.id).map((e) => e.attachment?.deviceIndex).sort()).toEqual([0, 1, 2]);
  });
});

describe("attach, detach, delete", () => {
  test("attachment is asynchronous; delete refused while attached and shortly after detach", () => {
    const { model, subnet, instance, advance } = testWorld({ timing: { attachDelayMs: 1000, deleteAfterDetachMs: 2000 } });
    const eni = model.createNetworkInterface({ subnetId: subnet.id });
    const att = model.attachNetworkInterface({ eniId: eni.id, instanceId: instance.id, deviceIndex: 1 });
    expect(model.state.enis[eni.id]!.attachment!.status).toBe("attaching");
    expect(model.state.enis[eni.id]!.status).toBe("attaching");
    expect(model.nextDueAt()).toBe(att.readyAt);
    advance(999);
    expect(model.state.enis[eni.id]!.attachment!.status).toBe("attaching");
    advance(1);
    expect(model.state.enis[eni.id]!.attachment!.status).toBe("attached");
    expect(model.state.enis[eni.id]!.status).toBe("in-use");
    expect(codeOf(() => model.deleteNetworkInterface(eni.id))).toBe("InvalidParameterValue");
    model.detachNetworkInterface({ attachmentId: att.id });
    expect(model.state.enis[eni.id]!.status).toBe("available");
    expect(codeOf(() => model.deleteNetworkInterface(eni.id))).toBe("InvalidParameterValue");
    advance(2000);
    model.deleteNetworkInterface(eni.id);
    expect(model.state.enis[eni.id]).toBeUndefined();
    expect(codeOf(() => model.deleteNetworkInterface(eni.id))).toBe("InvalidNetworkInterfaceID.NotFound");
    expect(codeOf(() => model.deleteNetworkInterface("eni-zz"))).toBe("InvalidNetworkInterfaceID.Malformed");
    expect(codeOf(() => model.detachNetworkInterface({ attachmentId: att.id }))).toBe("InvalidAttachmentID.NotFound");
  });

  test("observer sees attach with addresses, changes, and detach", () => {
    const { model, subnet, instance, advance } = testWorld({ timing: { attachDelayMs: 10 } });
    const seen: string[] = [];
    const o: Ec2Observer = {
      eniAttached: (e) => seen.push(`attached ${e.deviceIndex} ${e.primaryIp} ${e.subnetCidr}`),
      eniDetached: (e) => seen.push(`detached ${e.instanceId === instance.id}`),
      addressesAssigned: (e) => seen.push(`+ ${e.instanceId === null ? "-" : "i"} ${e.cidrs.join(",")}`),
      addressesUnassigned: (e) => seen.push(`- ${e.instanceId === null ? "-" : "i"} ${e.cidrs.join(",")}`),
    };
    model.addObserver(o);
    const eni = model.createNetworkInterface({ subnetId: subnet.id, secondaryCount: 1, ipv4PrefixCount: 1 });
    expect(seen).toEqual([]);
    const att = model.attachNetworkInterface({ eniId: eni.id, instanceId: instance.id, deviceIndex: 1 });
    expect(seen).toEqual([]);
    advance(10);
    model.assignPrivateIpAddresses({ eniId: eni.id, addresses: ["10.0.1.200"] });
    model.detachNetworkInterface({ attachmentId: att.id });
    model.unassignPrivateIpAddresses({ eniId: eni.id, addresses: ["10.0.1.200"] });
    const e = model.state.enis[eni.id]!;
    expect(seen).toEqual([
      `attached 1 ${e.primaryIp} 10.0.1.0/24`,
      `+ i ${e.secondaryIps[0]}/32,${e.ipv4Prefixes[0]}`,
      `+ i 10.0.1.200/32`,
      `- i ${e.secondaryIps[0]}/32,10.0.1.200/32,${e.ipv4Prefixes[0]}`,
      `detached true`,
      `- - 10.0.1.200/32`,
    ]);
  });

  test("IMDS shows a change only after the propagation delay", () => {
    const { model, subnet, instance, clock, advance } = testWorld({ timing: { attachDelayMs: 100, imdsDelayMs: 500 } });
    expect(model.imdsView(instance.id)!.map((i) => i.deviceNumber)).toEqual([0]);
    const eni = model.createNetworkInterface({ subnetId: subnet.id, secondaryCount: 2 });
    model.attachNetworkInterface({ eniId: eni.id, instanceId: instance.id, deviceIndex: 1 });
    advance(100);
    expect(model.imdsView(instance.id)!.length).toBe(1);
    expect(model.imdsView(instance.id, clock.t + 500)!.length).toBe(2);
    advance(500);
    const view = model.imdsView(instance.id)!;
    const second = view.find((i) => i.deviceNumber === 1)!;
    expect(second.localIpv4s).toEqual([eni.primaryIp, ...model.state.enis[eni.id]!.secondaryIps]);
    expect(second).toMatchObject({ mac: eni.mac, interfaceId: eni.id, subnetCidr: "10.0.1.0/24", vpcCidrs: ["10.0.0.0/16"] });
    model.assignPrivateIpAddresses({ eniId: eni.id, prefixCount: 1 });
    expect(model.imdsView(instance.id)!.find((i) => i.deviceNumber === 1)!.ipv4Prefixes).toEqual([]);
    advance(500);
    expect(model.imdsView(instance.id)!.find((i) => i.deviceNumber === 1)!.ipv4Prefixes.length).toBe(1);
    expect(model.imdsView("i-00000000000000999")).toBeUndefined();
  });

  test("Describe lag serves an old snapshot", () => {
    const { model, subnet, advance } = testWorld({ timing: { describeLagMs: 1000 } });
    const eni = model.createNetworkInterface({ subnetId: subnet.id });
    expect(model.describeView().enis[eni.id]).toBeUndefined();
    advance(1000);
    expect(model.describeView().enis[eni.id]).toBeDefined();
    model.setTiming({ describeLagMs: 0 });
    expect(model.describeView()).toBe(model.state);
  });

  test("a failed request changes nothing", () => {
    const { model, subnet } = testWorld({ subnetCidr: "10.0.1.0/28" });
    const before = JSON.stringify(model.state);
    expect(codeOf(() => model.createNetworkInterface({ subnetId: subnet.id, secondaryCount: 20 }))).toBe("InsufficientFreeAddressesInSubnet");
    expect(JSON.stringify(model.state)).toBe(before.replace(/"nextId":\d+/, `"nextId":${model.state.nextId}`));
  });
});
