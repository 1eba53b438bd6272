// Tags on every ENI the node manages, and subnet choice by tags, as upstream v1.23.
// Assumptions: m5.large (3 ENIs × 9 secondaries), WARM_ENI_TARGET=3 unless said; an ENI
// attached before the pool-manager starts stands for one a previous aws-node created
// without today's ADDITIONAL_ENI_TAGS, or one an operator attached.
import { afterEach, describe, expect, test } from "bun:test";
import { UPSTREAM_DEFAULTS, type PoolSettings } from "../core/settings.ts";
import { fakeWorld, manager, type FakeWorld, type Harness } from "../../test-support/harness.ts";

let h: Harness | undefined;
afterEach(() => {
  h?.pm.stop();
  h = undefined;
});

const up = (o: Partial<PoolSettings> = {}): PoolSettings => ({ ...UPSTREAM_DEFAULTS, ...o });
const OWNER = "eks:eni:owner";
/** The errors the pool's recent decisions recorded (what /debug shows an operator). */
const errorsOf = (x: Harness) => x.pm.decisions.flatMap((d) => d.errors ?? []);

/** Attaches a detached ENI to the instance at `device`, as someone did before the node's aws-node started. */
async function preAttach(w: FakeWorld, device: number, tags: Record<string, string> = {}, interfaceType?: string): Promise<string> {
  const eni = w.ec2.addEni({ subnetId: w.subnetId, tags, ...(interfaceType ? { interfaceType } : {}) });
  await w.clock.run(w.ec2.attachEni(eni.id, w.instanceId, device));
  await w.clock.run(w.clock.sleep(1_000));
  return eni.id;
}

describe("owner tags and ADDITIONAL_ENI_TAGS on every managed ENI", () => {
  test("adopted ENIs (the primary too) get the missing tags; created ones carry them from the start", async () => {
    const w = fakeWorld();
    const old = await preAttach(w, 1, { "node.k8s.amazonaws.com/instance_id": w.instanceId, team: "old" });
    h = manager(w, up({ warmEniTarget: 3 }), { clusterName: "demo", additionalTags: { team: "net", "k8s.amazonaws.com/x": "reserved" } });
    await h.start();
    await h.cycles();
    const want = { "node.k8s.amazonaws.com/instance_id": w.instanceId, "cluster.k8s.amazonaws.com/name": "demo", [OWNER]: "amazon-vpc-cni", team: "net" };
    const enis = h.enis();
    expect(enis).toHaveLength(3);
    for (const e of enis) {
      expect(e.tags).toMatchObject(want);
      expect(e.tags["k8s.amazonaws.com/x"]).toBeUndefined();
    }
    // ADDITIONAL_ENI_TAGS overrides a value the ENI had (upstream tags what differs).
    expect(w.ec2.eniState(old)!.tags.team).toBe("net");
    // Only the created one has a creation time (the leaked-ENI clean-up reads it).
    expect(enis.filter((e) => e.tags["node.k8s.amazonaws.com/createdAt"] !== undefined)).toHaveLength(1);
  });

  test("without CLUSTER_NAME neither the cluster nor the owner tag is set; trunk and no_manage ENIs are left alone", async () => {
    const w = fakeWorld();
    const trunk = await preAttach(w, 1, {}, "trunk");
    const unmanaged = await preAttach(w, 2, { "node.k8s.amazonaws.com/no_manage": "true" });
    h = manager(w, up({ warmEniTarget: 1 }), { additionalTags: { team: "net" } });
    await h.start();
    await h.cycles(2);
    const primary = h.enis().find((e) => e.attachment!.deviceIndex === 0)!;
    expect(primary.tags).toEqual({ "node.k8s.amazonaws.com/instance_id": w.instanceId, team: "net" });
    expect(w.ec2.eniState(trunk)!.tags).toEqual({});
    expect(w.ec2.eniState(unmanaged)!.tags).toEqual({ "node.k8s.amazonaws.com/no_manage": "true" });
  });
});

describe("subnet discovery by kubernetes.io/role/cni", () => {
  const ROLE = "kubernetes.io/role/cni";

  test("any non-empty value but 0 opts a subnet in; a subnet tagged for another cluster is not used", async () => {
    const w = fakeWorld();
    const yes = w.ec2.addSubnet({ vpcId: w.vpcId, cidr: "10.0.8.0/24", tags: { [ROLE]: "yes" } });
    // Bigger (so first by free addresses) but another cluster's.
    const other = w.ec2.addSubnet({ vpcId: w.vpcId, cidr: "10.0.16.0/20", tags: { [ROLE]: "1", "cni.networking.k8s.aws/cluster/other": "1" } });
    h = manager(w, up({ warmEniTarget: 3 }), { subnetDiscovery: true, clusterName: "demo" });
    await h.start();
    await h.cycles();
    const subnets = h.enis().filter((e) => e.attachment!.deviceIndex > 0).map((e) => e.subnetId);
    // The node's own (untagged) subnet is eligible too; the other cluster's never.
    expect(subnets).toHaveLength(2);
    expect(subnets).toContain(yes.id);
    expect(subnets).not.toContain(other.id);
  });

  test("the node's subnet tagged 0: its ENI gives pods nothing (its idle addresses go back), new ENIs go to a tagged subnet", async () => {
    const w = fakeWorld({ subnetTags: { [ROLE]: "0" } });
    const yes = w.ec2.addSubnet({ vpcId: w.vpcId, cidr: "10.0.8.0/24", tags: { [ROLE]: "1" } });
    // Addresses the primary ENI held before its subnet was tagged out.
    await w.clock.run(w.ec2.assign(w.ec2.enisOf(w.instanceId)[0]!.id, "ipv4", "address", 3));
    h = manager(w, up({ warmEniTarget: 1 }), { subnetDiscovery: true });
    await h.start();
    await h.cycles();
    const enis = h.enis();
    const primary = enis.find((e) => e.attachment!.deviceIndex === 0)!;
    expect(primary.secondaryIps).toHaveLength(0);
    expect(enis.filter((e) => e.attachment!.deviceIndex > 0).map((e) => e.subnetId)).toEqual([yes.id]);
    expect(h.pm.model.snapshot().enis.find((e) => e.id === primary.id)!.usable).toBe(false);
  });

  test("the node's subnet tagged 0 and no other: refused, no ENI created, the error says why", async () => {
    const w = fakeWorld({ subnetTags: { [ROLE]: "0" } });
    h = manager(w, up({ warmEniTarget: 1 }), { subnetDiscovery: true });
    await h.start();
    await h.cycles(3);
    expect(h.created()).toHaveLength(0);
    expect(w.ec2.calls.CreateNetworkInterface).toBeUndefined();
    expect(errorsOf(h).join("\n")).toContain("no subnet may take a new ENI");
  });

  test("discovery off and the node's subnet tagged 0: refused as upstream refuses it", async () => {
    const w = fakeWorld({ subnetTags: { [ROLE]: "0" } });
    h = manager(w, up({ warmEniTarget: 3 }), { subnetDiscovery: false });
    await h.start();
    await h.cycles(3);
    // Discovery off: the primary ENI is not marked excluded (upstream marks only with discovery), so it fills;
    // no second ENI is created in the tagged-out subnet.
    expect(h.enis()).toHaveLength(1);
    expect(w.ec2.calls.CreateNetworkInterface).toBeUndefined();
    expect(errorsOf(h).join("\n")).toContain("ENABLE_SUBNET_DISCOVERY=false");
  });
});
