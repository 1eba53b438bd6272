// The fake EC2 through the Ec2Port, on a fake clock. Assumptions: m5.large (3 ENIs × 10 IPv4
// addresses per ENI), subnet 10.0.1.0/24 unless a test says otherwise, attach 300 ms, IMDS lag
// 200 ms, DeleteNetworkInterface "in use" for 2 s after a detach.
import { describe, expect, test } from "bun:test";
import { Ec2Guard } from "../../src/adapters/ec2-guard.ts";
import { Ec2CallError } from "../../src/core/ports.ts";
import { FakeClock } from "../fake-clock.ts";
import { FakeEc2 } from "./fake-ec2.ts";

function world(o: { subnetCidr?: string; instanceType?: string } = {}) {
  const clock = new FakeClock();
  const ec2 = new FakeEc2(clock);
  const subnet = ec2.addSubnet({ cidr: o.subnetCidr ?? "10.0.1.0/24", ipv6Cidr: "2600:1f14:aaa:100::/64" });
  const sg = ec2.defaultSecurityGroup(subnet.vpcId);
  const inst = ec2.launchInstance({ instanceType: o.instanceType ?? "m5.large", subnetId: subnet.id });
  const create = (count = 0, subnetId = subnet.id) => ec2.createEni({ subnetId, description: "aws-K8S-test", securityGroups: [sg], family: "ipv4", cidrKind: "address", count, tags: { team: "net" } });
  return { clock, ec2, subnet, sg, inst, create };
}

/** The EC2 code a call is refused with, and its HTTP status. */
async function refusal(p: Promise<unknown>): Promise<{ code: string; status?: number } | "accepted"> {
  try {
    await p;
    return "accepted";
  } catch (e) {
    if (!(e instanceof Ec2CallError)) throw e;
    return { code: e.code, status: e.status };
  }
}

describe("an ENI's life", () => {
  test("created with its addresses and tags; attaching, then attached after the delay; IMDS shows it after its lag", async () => {
    const { clock, ec2, inst, create } = world();
    const eni = await create(3);
    expect(eni).toMatchObject({ status: "available", description: "aws-K8S-test", tags: { team: "net" } });
    expect(eni.secondaryIps).toHaveLength(3);
    expect(ec2.subnetView(eni.subnetId)!.availableIps).toBe(251 - 1 - 4); // the instance's primary, this ENI's 4
    const imds = ec2.imdsOf(inst.id);
    await ec2.attachEni(eni.id, inst.id, 1);
    expect(ec2.eniState(eni.id)!.attachment!.status).toBe("attaching");
    await clock.advance(300);
    expect(ec2.eniState(eni.id)).toMatchObject({ status: "in-use", attachment: { status: "attached", deviceIndex: 1 } });
    expect((await imds.interfaces()).map((i) => i.interfaceId)).toEqual([inst.primaryEniId]);
    await clock.advance(200);
    const shown = (await imds.interfaces()).find((i) => i.interfaceId === eni.id)!;
    expect(shown).toMatchObject({ deviceNumber: 1, subnetCidr: "10.0.1.0/24", vpcCidrs: ["10.0.0.0/16"], localIpv4s: [eni.primaryIp, ...eni.secondaryIps] });
  });

  test("assign and unassign, addresses and /28 prefixes, shown by IMDS after its lag", async () => {
    const { clock, ec2, inst } = world();
    const imds = ec2.imdsOf(inst.id);
    const primary = inst.primaryEniId;
    const addrs = await ec2.assign(primary, "ipv4", "address", 2);
    const [prefix] = await ec2.assign(primary, "ipv4", "prefix", 1);
    expect(addrs.every((c) => c.endsWith("/32"))).toBe(true);
    expect(prefix).toMatch(/\/28$/);
    await ec2.unassign(primary, "ipv4", "address", [addrs[0]!]);
    expect(ec2.eniState(primary)).toMatchObject({ secondaryIps: [addrs[1]!.replace("/32", "")], ipv4Prefixes: [prefix] });
    expect((await imds.interfaces())[0]!.ipv4Prefixes).toEqual([]);
    await clock.advance(200);
    expect((await imds.interfaces())[0]).toMatchObject({ ipv4Prefixes: [prefix], localIpv4s: [inst.privateIp, addrs[1]!.replace("/32", "")] });
  });

  test("detach, then delete: 'in use' until the delay after the detach; the addresses go back to the subnet", async () => {
    const { clock, ec2, inst, create, subnet } = world();
    const eni = await create(5);
    const attachment = await ec2.attachEni(eni.id, inst.id, 1);
    await clock.advance(300);
    expect(await refusal(ec2.deleteEni(eni.id))).toEqual({ code: "InvalidParameterValue", status: 400 });
    await ec2.detachEni(attachment);
    expect(await refusal(ec2.deleteEni(eni.id))).toEqual({ code: "InvalidParameterValue", status: 400 });
    await clock.advance(2_000);
    await ec2.deleteEni(eni.id);
    expect(ec2.eniState(eni.id)).toBeUndefined();
    expect(ec2.subnetView(subnet.id)!.availableIps).toBe(251 - 1);
    expect(await refusal(ec2.deleteEni(eni.id))).toEqual({ code: "InvalidNetworkInterfaceID.NotFound", status: 400 });
  });
});

describe("what EC2 refuses", () => {
  test("attach: a device index taken, beyond the type's ENIs, an attached ENI, the primary's detach", async () => {
    const { ec2, inst, create } = world();
    const a = await create();
    const b = await create();
    expect(await refusal(ec2.attachEni(a.id, inst.id, 0))).toEqual({ code: "InvalidParameterValue", status: 400 });
    expect(await refusal(ec2.attachEni(a.id, inst.id, 3))).toEqual({ code: "AttachmentLimitExceeded", status: 400 });
    await ec2.attachEni(a.id, inst.id, 1);
    expect(await refusal(ec2.attachEni(a.id, inst.id, 2))).toEqual({ code: "InvalidNetworkInterface.InUse", status: 400 });
    await ec2.attachEni(b.id, inst.id, 2);
    const c = await create();
    expect(await refusal(ec2.attachEni(c.id, inst.id, 2))).toMatchObject({ code: "AttachmentLimitExceeded" });
    const primaryAttachment = ec2.eniState(inst.primaryEniId)!.attachment!.id;
    expect(await refusal(ec2.detachEni(primaryAttachment))).toMatchObject({ code: "OperationNotPermitted" });
    expect(await refusal(ec2.detachEni("eni-attach-nope"))).toMatchObject({ code: "InvalidAttachmentID.NotFound" });
  });

  test("addresses: the type's per-ENI limit (the primary counts), a full subnet, a subnet without a free /28", async () => {
    const { ec2, inst } = world({ subnetCidr: "10.0.1.0/27" }); // 27 hosts; no /28 fully free of reserved addresses
    expect(await refusal(ec2.assign(inst.primaryEniId, "ipv4", "address", 10))).toEqual({ code: "PrivateIpAddressLimitExceeded", status: 400 });
    expect(await refusal(ec2.assign(inst.primaryEniId, "ipv4", "prefix", 1))).toEqual({ code: "InsufficientCidrBlocks", status: 400 });
    await ec2.assign(inst.primaryEniId, "ipv4", "address", 9);
    const other = ec2.addEni({ subnetId: ec2.eniState(inst.primaryEniId)!.subnetId });
    expect(await refusal(ec2.assign(other.id, "ipv4", "address", 20))).toEqual({ code: "InsufficientFreeAddressesInSubnet", status: 400 });
    expect(ec2.eniState(other.id)!.secondaryIps).toEqual([]); // nothing taken by the refused call
  });

  test("an unattached ENI holds at most 50 addresses; attaching checks the type's limit", async () => {
    const { ec2, inst, create } = world();
    expect(await refusal(create(50))).toMatchObject({ code: "PrivateIpAddressLimitExceeded" });
    const big = await create(12);
    expect(await refusal(ec2.attachEni(big.id, inst.id, 1))).toMatchObject({ code: "PrivateIpAddressLimitExceeded" });
    expect(ec2.eniState(big.id)!.attachment).toBeUndefined();
  });

  test("unknown ids, addresses not on the ENI, a wrong attachment id, a security group of another VPC", async () => {
    const { ec2, inst, create, subnet } = world();
    expect(await refusal(ec2.assign("eni-nope", "ipv4", "address", 1))).toMatchObject({ code: "InvalidNetworkInterfaceID.NotFound" });
    expect(await refusal(ec2.usedDeviceIndexes("i-nope"))).toMatchObject({ code: "InvalidInstanceID.NotFound" });
    expect(await refusal(ec2.instanceLimits("x9.huge"))).toMatchObject({ code: "InvalidInstanceType" });
    expect(await refusal(ec2.unassign(inst.primaryEniId, "ipv4", "address", ["10.0.1.77/32"]))).toMatchObject({ code: "InvalidParameterValue" });
    const eni = await create();
    expect(await refusal(ec2.setDeleteOnTermination(eni.id, "eni-attach-nope"))).toMatchObject({ code: "InvalidAttachmentID.NotFound" });
    const otherVpc = ec2.addVpc("10.9.0.0/16");
    const foreign = ec2.addSecurityGroup(otherVpc);
    expect(await refusal(ec2.createEni({ subnetId: subnet.id, description: "", securityGroups: [foreign], family: "ipv4", cidrKind: "address", count: 0, tags: {} }))).toMatchObject({ code: "InvalidGroup.NotFound" });
    expect(await refusal(ec2.createEni({ subnetId: "subnet-nope", description: "", securityGroups: [], family: "ipv4", cidrKind: "address", count: 0, tags: {} }))).toMatchObject({ code: "InvalidSubnetID.NotFound" });
  });
});

describe("reads", () => {
  test("the instance's ENIs, its device indexes, the subnets of a VPC and AZ, leaked-ENI candidates", async () => {
    const { ec2, inst, create, subnet } = world();
    const eni = await create(1);
    await ec2.attachEni(eni.id, inst.id, 2);
    expect((await ec2.instanceEnis(inst.id)).map((e) => e.attachment?.deviceIndex)).toEqual([0, 2]);
    expect((await ec2.usedDeviceIndexes(inst.id)).sort()).toEqual([0, 2]);
    expect((await ec2.subnets(subnet.vpcId, "us-west-2a")).map((s) => s.id)).toEqual([subnet.id]);
    expect(await ec2.subnets(subnet.vpcId, "us-west-2b")).toEqual([]);
    const tagged = ec2.addEni({ subnetId: subnet.id, tags: { "node.k8s.amazonaws.com/instance_id": "i-gone", "cluster.k8s.amazonaws.com/name": "a" } });
    ec2.addEni({ subnetId: subnet.id, tags: { other: "x" } });
    expect((await ec2.leakedEniCandidates(subnet.vpcId)).map((e) => e.id)).toEqual([tagged.id]);
    expect(await ec2.leakedEniCandidates(subnet.vpcId, "b")).toEqual([]);
    expect(await ec2.eni("eni-nope")).toBeUndefined();
  });
});

describe("faults", () => {
  test("injected errors: the next N calls, with EC2's status; then the action works again", async () => {
    const { ec2, inst } = world();
    ec2.faults.fail("AssignPrivateIpAddresses", "InternalError", { times: 2 });
    expect(await refusal(ec2.assign(inst.primaryEniId, "ipv4", "address", 1))).toEqual({ code: "InternalError", status: 500 });
    expect(await refusal(ec2.assign(inst.primaryEniId, "ipv4", "address", 1))).toEqual({ code: "InternalError", status: 500 });
    expect(await ec2.assign(inst.primaryEniId, "ipv4", "address", 1)).toHaveLength(1);
    expect(ec2.calls.AssignPrivateIpAddresses).toEqual({ ok: 1, error: 2, throttled: 0 });
    expect(ec2.eniState(inst.primaryEniId)!.secondaryIps).toHaveLength(1);
  });

  test("a share of the calls, spread evenly: 0.5 fails every second call", async () => {
    const { ec2, subnet } = world();
    ec2.faults.fail("DescribeSubnets", "ServiceUnavailable", { rate: 0.5 });
    const out: string[] = [];
    for (let i = 0; i < 6; i++) out.push(await ec2.subnets(subnet.vpcId, "us-west-2a").then(() => "ok", (e: Ec2CallError) => `${e.code}/${e.status}`));
    expect(out).toEqual(["ok", "ServiceUnavailable/503", "ok", "ServiceUnavailable/503", "ok", "ServiceUnavailable/503"]);
    ec2.faults.heal("DescribeSubnets");
    expect(await ec2.subnets(subnet.vpcId, "us-west-2a")).toHaveLength(1);
  });

  test("latency takes fake time; UnauthorizedOperation is 403", async () => {
    const { clock, ec2, inst } = world();
    ec2.faults.latency("DescribeInstances", 1_500).unauthorized("CreateTags");
    const t0 = clock.now();
    await clock.run(ec2.usedDeviceIndexes(inst.id));
    expect(clock.now() - t0).toBe(1_500);
    expect(await refusal(ec2.createTags([inst.primaryEniId], { a: "b" }))).toEqual({ code: "UnauthorizedOperation", status: 403 });
  });

  test("the account's buckets: a burst beyond the bucket is throttled, the refill lets calls through again", async () => {
    const { clock, ec2, inst } = world();
    ec2.faults.throttle(0.05); // describe: 5 tokens, 1/s
    const answers = await Promise.all(Array.from({ length: 8 }, () => ec2.usedDeviceIndexes(inst.id).then(() => "ok", (e: Ec2CallError) => e.code)));
    expect(answers.filter((a) => a === "ok")).toHaveLength(5);
    expect(answers.filter((a) => a === "RequestLimitExceeded")).toHaveLength(3);
    expect(ec2.calls.DescribeInstances).toEqual({ ok: 5, error: 0, throttled: 3 });
    await clock.advance(1_000);
    expect(await ec2.usedDeviceIndexes(inst.id)).toEqual([0]);
  });

  test("with the pool-manager's guard in front, an injected 5xx is retried and the call goes through", async () => {
    const { clock, ec2, inst } = world();
    ec2.client = new Ec2Guard({ now: clock.now, sleep: clock.sleep, random: () => 0.5 });
    ec2.faults.fail("AssignPrivateIpAddresses", "InternalError", { times: 2 });
    expect(await clock.run(ec2.assign(inst.primaryEniId, "ipv4", "address", 2))).toHaveLength(2);
    expect(ec2.calls.AssignPrivateIpAddresses).toEqual({ ok: 1, error: 2, throttled: 0 });
    expect(ec2.mutatingCalls()).toBe(3);
  });
});

describe("the log of mutating calls", () => {
  test("each mutating call in order, ENIs by device index, refusals with their code; reads are not in it; resetCalls clears it", async () => {
    const { ec2, inst, create } = world();
    await ec2.instanceEnis(inst.id);
    await ec2.assign(inst.primaryEniId, "ipv4", "address", 3);
    const e = await create(2);
    const attachment = await ec2.attachEni(e.id, inst.id, 1);
    await ec2.setDeleteOnTermination(e.id, attachment);
    expect(await refusal(ec2.assign(e.id, "ipv4", "address", 20))).toMatchObject({ code: "PrivateIpAddressLimitExceeded" });
    await ec2.unassign(e.id, "ipv4", "address", [`${ec2.eniState(e.id)!.secondaryIps[0]}/32`]);
    await ec2.createTags([inst.primaryEniId], { a: "b" });
    await ec2.detachEni(attachment);
    expect(ec2.mutations()).toEqual([
      "AssignPrivateIpAddresses @0 +3 address",
      "CreateNetworkInterface +2 address",
      "AttachNetworkInterface @1",
      "ModifyNetworkInterfaceAttribute @1",
      "AssignPrivateIpAddresses @1 +20 address !PrivateIpAddressLimitExceeded",
      "UnassignPrivateIpAddresses @1 -1 address",
      "CreateTags @0",
      "DetachNetworkInterface @1",
    ]);
    ec2.resetCalls();
    expect(ec2.mutations()).toEqual([]);
  });
});
