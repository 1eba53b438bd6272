// The EC2 adapter through the real @aws-sdk/client-ec2 against the simulated EC2.
// Assumptions: m5.large (3 ENIs × 10 IPv4), subnet 10.0.1.0/24 unless a test says otherwise.
import { afterEach, describe, expect, test } from "bun:test";
import { parseMaxPodsArgs, runMaxPods } from "../../services/pool-manager/src/app/max-pods-command.ts";
import { Ec2CallError } from "../../services/pool-manager/src/core/ports.ts";
import { simWorld, type SimWorld } from "./sim-world.ts";

let w: SimWorld | undefined;
afterEach(async () => {
  await w?.stop();
  w = undefined;
});

describe("SdkEc2 against the simulated EC2", () => {
  test("instance limits from DescribeInstanceTypes", async () => {
    w = await simWorld();
    expect(await w.ec2.instanceLimits("m5.large")).toMatchObject({ maxEnis: 3, ipv4PerEni: 10, trunking: true });
  });

  test("several network cards: the ENI limit is card 0's (8 of c6in.32xlarge's 16), device indexes only card 0's", async () => {
    w = await simWorld({ instanceType: "c6in.32xlarge" });
    expect(await w.ec2.instanceLimits("c6in.32xlarge")).toMatchObject({ maxEnis: 8, ipv4PerEni: 50, networkCards: 2 });
    const eni = w.model.createNetworkInterface({ subnetId: w.subnetId });
    w.model.attachNetworkInterface({ eniId: eni.id, instanceId: w.instanceId, deviceIndex: 3, networkCardIndex: 1 });
    expect(await w.ec2.usedDeviceIndexes(w.instanceId)).toEqual([0]);
    // ENABLE_MULTI_NIC reads each card's own limit and device indexes, and attaches on a given card.
    expect((await w.ec2.instanceLimits("c6in.32xlarge")).cardMaxEnis).toEqual([8, 8]);
    expect(await w.ec2.usedDeviceIndexes(w.instanceId, 1)).toEqual([3]);
    const other = w.model.createNetworkInterface({ subnetId: w.subnetId });
    await w.ec2.attachEni(other.id, w.instanceId, 0, 1);
    expect(w.model.state.enis[other.id]!.attachment).toMatchObject({ networkCardIndex: 1, deviceIndex: 0 });
    expect((await w.ec2.usedDeviceIndexes(w.instanceId, 1)).sort()).toEqual([0, 3]);
    // max pods as upstream's eni-max-pods.txt has it: c6in.32xlarge 394, p5.48xlarge 100.
    for (const [type, pods] of [["c6in.32xlarge", "394\n"], ["p5.48xlarge", "100\n"]] as const) {
      const args = parseMaxPodsArgs(["--instance-type", type]);
      if ("error" in args) throw new Error(args.error);
      expect(await runMaxPods(args, () => w!.ec2)).toEqual({ exitCode: 0, stdout: pods, stderr: "" });
    }
  });

  test("create with addresses and tags in one call, attach, assign, unassign", async () => {
    w = await simWorld();
    const eni = await w.ec2.createEni({ subnetId: w.subnetId, description: "aws-K8S-x", securityGroups: [w.sgId], family: "ipv4", cidrKind: "address", count: 3, tags: { a: "b" } });
    expect(eni.secondaryIps).toHaveLength(3);
    expect(eni.tags).toEqual({ a: "b" });
    const att = await w.ec2.attachEni(eni.id, w.instanceId, 1);
    expect(att).toMatch(/^eni-attach-/);
    const added = await w.ec2.assign(eni.id, "ipv4", "address", 2);
    expect(added).toHaveLength(2);
    await w.ec2.unassign(eni.id, "ipv4", "address", added);
    const enis = await w.ec2.instanceEnis(w.instanceId);
    expect(enis.map((e) => e.id)).toContain(eni.id);
    expect(enis.find((e) => e.id === eni.id)!.secondaryIps).toHaveLength(3);
    expect(w.model.state.enis[eni.id]!.secondaryIps).toHaveLength(3);
  });

  test("EC2 error codes come through: InsufficientFreeAddressesInSubnet is not retried", async () => {
    w = await simWorld({ subnetCidr: "10.0.1.0/28" });
    const err = await w.ec2
      .createEni({ subnetId: w.subnetId, description: "d", securityGroups: [], family: "ipv4", cidrKind: "address", count: 40, tags: {} })
      .catch((e) => e);
    expect(err).toBeInstanceOf(Ec2CallError);
    expect(["InsufficientFreeAddressesInSubnet", "PrivateIpAddressLimitExceeded"]).toContain(err.code);
    expect(w.guard.counts.CreateNetworkInterface!.calls).toBe(1);
  });

  test("injected 5xx is retried until it succeeds", async () => {
    w = await simWorld({ faults: { errors: { DescribeSubnets: { rate: 0.6, code: "InternalError" } }, seed: 7 } });
    const subnets = await w.ec2.subnets(w.vpcId, "us-west-2a");
    expect(subnets.map((s) => s.id)).toEqual([w.subnetId]);
    expect(w.server.service.calls.DescribeSubnets!.ok).toBe(1);
  });

  test("server throttling (RequestLimitExceeded) is retried with backoff", async () => {
    w = await simWorld({ faults: { errors: { DescribeInstances: { rate: 0.5, code: "RequestLimitExceeded" } }, seed: 3 } });
    for (let i = 0; i < 5; i++) expect(await w.ec2.usedDeviceIndexes(w.instanceId)).toEqual([0]);
    expect(w.server.service.calls.DescribeInstances!.throttled).toBeGreaterThan(0);
    expect(w.guard.counts.DescribeInstances!.throttled).toBe(w.server.service.calls.DescribeInstances!.throttled);
  });

  test("the client bucket keeps a burst from being throttled by the server's (smaller) bucket", async () => {
    // Server describe bucket scaled to 5 burst, 10/s; the client keeps under it (5 burst, 8/s).
    w = await simWorld({
      faults: { throttling: { enabled: true, capacityScale: 0.05, refillScale: 0.5 } },
      guard: { buckets: { describe: { capacity: 5, refillPerSec: 8 }, mutating: { capacity: 2, refillPerSec: 2 }, addressing: { capacity: 5, refillPerSec: 2 }, tags: { capacity: 5, refillPerSec: 5 } } },
    });
    await Promise.all(Array.from({ length: 12 }, () => w!.ec2.subnets(w!.vpcId, "us-west-2a")));
    expect(w.server.service.calls.DescribeSubnets!.ok).toBe(12);
    expect(w.server.service.calls.DescribeSubnets!.throttled).toBe(0);
    expect(w.guard.counts.DescribeSubnets!.waitMs).toBeGreaterThan(0);
  });
});
