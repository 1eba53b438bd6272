// The simulated VPC resource controller against the simulated API server (with its scheduler)
// and the served simulated EC2 through the AWS SDK: the webhook's request on matching pods, the
// trunk and capacity of a managed node, branch ENIs with the lowest VLAN and the annotation,
// cooldown then disassociation and deletion, capacity, unsupported types, restart recovery.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import * as E from "@aws-sdk/client-ec2";
import { join } from "node:path";
import { nodeObject } from "../../node-identity.ts";
import { sdkError, servedWorld } from "../../sim-ec2/sdk-harness.ts";
import type { Instance } from "../../sim-ec2/types.ts";
import { RESOURCES } from "../../sim-kube/resources.ts";
import type { KubeObject } from "../../sim-kube/validate.ts";
import { CONFIGMAPS, EVENTS, NODES, PODS } from "../cluster.ts";
import { createTestCluster, until } from "../test-support.ts";
import { VpcResourceController } from "./controller.ts";
import { CNINODES } from "./nodes.ts";
import { podEniAdmission, POD_ENI } from "./sgp.ts";
import type { EniDetails } from "./trunk.ts";

const CRD_FILE = join(import.meta.dir, "../../../k8s/securitygrouppolicy-crd.yaml");
const CRDS = RESOURCES.find((d) => d.kind === "CustomResourceDefinition")!;

let ec2w: Awaited<ReturnType<typeof servedWorld>>;
let kube: ReturnType<typeof createTestCluster>;
let rcs: VpcResourceController[] = [];
const clock = { t: 1_000_000 };
let podSg: string;
let sgpDef: ReturnType<typeof kube.cluster.registry.find>;

beforeEach(async () => {
  ec2w = await servedWorld({ faults: { throttling: { enabled: false } } });
  kube = createTestCluster();
  kube.store.addCreateAdmission(podEniAdmission);
  kube.cluster.create(CRDS, undefined, (Bun.YAML.parse(await Bun.file(CRD_FILE).text()) as KubeObject));
  sgpDef = kube.cluster.registry.find("vpcresources.k8s.aws", "v1beta1", "securitygrouppolicies");
  podSg = ec2w.model.createSecurityGroup({ vpcId: ec2w.vpc.id, name: "db-pods" }).id;
  kube.cluster.create(sgpDef!, "default", { apiVersion: "vpcresources.k8s.aws/v1beta1", kind: "SecurityGroupPolicy", metadata: { name: "db" }, spec: { podSelector: { matchLabels: { app: "db" } }, securityGroups: { groupIds: [podSg] } } });
});

afterEach(async () => {
  for (const rc of rcs) rc.stop();
  rcs = [];
  kube.stop();
  await ec2w.close();
});

function startRc(hooks: Pick<ConstructorParameters<typeof VpcResourceController>[1], "minCooldownMs" | "annotationDelayMs"> = {}): VpcResourceController {
  const rc = new VpcResourceController(kube.cluster, { ec2: ec2w.ec2, clusterName: "sim", now: () => clock.t, ...hooks });
  rcs.push(rc);
  rc.start();
  return rc;
}

/** A node for `inst`, with the CNINode feature SecurityGroupsForPods as ipamd adds it. */
function addManagedNode(name: string, inst: Instance): void {
  kube.cluster.create(NODES, undefined, nodeObject(inst, name, "us-west-2") as KubeObject);
  kube.cluster.create(CNINODES, undefined, { apiVersion: "vpcresources.k8s.aws/v1alpha1", kind: "CNINode", metadata: { name }, spec: { features: [{ name: "SecurityGroupsForPods" }] } });
}

const pod = (name: string, labels: Record<string, string> = { app: "db" }, spec: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: "v1", kind: "Pod", metadata: { name, labels }, spec: { containers: [{ name: "c", image: "busybox:1" }, { name: "side", image: "busybox:1" }], ...spec },
});
const getPod = (name: string) => kube.cluster.get(PODS, "default", name);
const annotation = (name: string): EniDetails[] | undefined => {
  const raw = getPod(name)?.metadata.annotations?.[POD_ENI];
  return raw === undefined ? undefined : (JSON.parse(raw) as EniDetails[]);
};
const eni = async (id: string) => (await ec2w.ec2.send(new E.DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [id] }))).NetworkInterfaces?.[0];
const associations = async (trunk: string) =>
  (await ec2w.ec2.send(new E.DescribeTrunkInterfaceAssociationsCommand({ Filters: [{ Name: "trunk-interface-association.trunk-interface-id", Values: [trunk] }] }))).InterfaceAssociations ?? [];
const trunkOf = (inst: Instance) => Object.values(ec2w.model.state.enis).find((e) => e.interfaceType === "trunk" && e.attachment?.instanceId === inst.id);
const deletePod = (name: string) => kube.cluster.delete(PODS, getPod(name)!, { gracePeriodSeconds: 0 });
async function advance(rc: VpcResourceController, ms: number): Promise<void> {
  clock.t += ms;
  rc.trigger();
  await rc.idle();
}

describe("webhook", () => {
  test("a matching pod gets pod-eni on containers[0]; unmatched and hostNetwork pods are untouched", () => {
    kube.cluster.create(PODS, "default", pod("db-1"));
    kube.cluster.create(PODS, "default", pod("web-1", { app: "web" }));
    kube.cluster.create(PODS, "default", pod("db-host", { app: "db" }, { hostNetwork: true }));
    const containers = (name: string) => (getPod(name)?.spec as { containers: Array<{ resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }> }).containers;
    expect(containers("db-1")[0]?.resources).toEqual({ limits: { [POD_ENI]: "1" }, requests: { [POD_ENI]: "1" } });
    expect(containers("db-1")[1]?.resources).toEqual({});
    expect(containers("web-1")[0]?.resources).toEqual({});
    expect(containers("db-host")[0]?.resources).toEqual({});
  });
});

describe("managed node", () => {
  test("trunk at the highest free device index with its tags, capacity, branch ENI with VLAN 1 and the annotation", async () => {
    const rc = startRc();
    addManagedNode("node-a", ec2w.instance);
    await until("trunk", () => rc.trunks.has("node-a"));
    const trunk = trunkOf(ec2w.instance)!;
    expect(trunk.attachment).toMatchObject({ deviceIndex: 2, status: "attached", deleteOnTermination: true });
    expect(trunk.description).toBe("aws-k8s-trunk-eni");
    expect(trunk.tags).toEqual({ "node.k8s.amazonaws.com/instance_id": ec2w.instance.id, "eks:eni:owner": "eks-vpc-resource-controller", "kubernetes.io/cluster/sim": "owned" });
    expect(Object.values(ec2w.model.state.eniPermissions).some((p) => p.eniId === trunk.id)).toBe(true);
    expect((kube.cluster.get(NODES, undefined, "node-a")?.status as { capacity: Record<string, string> }).capacity[POD_ENI]).toBe("9");

    kube.cluster.create(PODS, "default", pod("db-1"));
    kube.cluster.create(PODS, "default", pod("web-1", { app: "web" }));
    await until("annotated", () => annotation("db-1") !== undefined);
    await rc.idle();
    const [details] = annotation("db-1")!;
    expect(Object.keys(details!)).toEqual(["eniId", "ifAddress", "privateIp", "ipv6Addr", "vlanId", "subnetCidr", "subnetV6Cidr", "associationID"]);
    const branch = await eni(details!.eniId);
    expect(details).toEqual({ eniId: branch!.NetworkInterfaceId!, ifAddress: branch!.MacAddress!, privateIp: branch!.PrivateIpAddress!, ipv6Addr: "", vlanId: 1, subnetCidr: "10.0.0.0/20", subnetV6Cidr: "2600:1f14:aaa:100::/64", associationID: expect.stringMatching(/^trunk-assoc-/) });
    expect(branch).toMatchObject({ InterfaceType: "branch", Status: "in-use", Description: "aws-k8s-branch-eni", Groups: [{ GroupId: podSg, GroupName: "db-pods" }] });
    expect(Object.fromEntries((branch!.TagSet ?? []).map((t) => [t.Key, t.Value]))).toMatchObject({ "vpcresources.k8s.aws/vlan-id": "1", "vpcresources.k8s.aws/trunk-eni-id": trunk.id, "eks:eni:owner": "eks-vpc-resource-controller" });
    expect(await associations(trunk.id)).toEqual([expect.objectContaining({ AssociationId: details!.associationID, BranchInterfaceId: details!.eniId, VlanId: 1 })]);
    expect(getPod("web-1")?.metadata.annotations?.[POD_ENI]).toBeUndefined();
    const events = kube.cluster.list(EVENTS, "default").filter((e) => (e.involvedObject as { name: string }).name === "db-1").map((e) => e.reason);
    expect(events).toContain("ResourceAllocated");
  });

  test("delete → cooldown (ConfigMap, at least 30 s) → disassociated and deleted; the VLAN is free, the ENI never reused", async () => {
    kube.cluster.create(CONFIGMAPS, "kube-system", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "amazon-vpc-cni" }, data: { "branch-eni-cooldown": "10" } });
    const rc = startRc();
    addManagedNode("node-a", ec2w.instance);
    kube.cluster.create(PODS, "default", pod("db-1"));
    kube.cluster.create(PODS, "default", pod("db-2"));
    await until("both annotated", () => annotation("db-1") !== undefined && annotation("db-2") !== undefined);
    expect([annotation("db-1")![0]!.vlanId, annotation("db-2")![0]!.vlanId]).toEqual([1, 2]);
    const first = annotation("db-1")![0]!;
    const trunk = trunkOf(ec2w.instance)!;
    deletePod("db-1");
    await until("pod gone", () => getPod("db-1") === undefined);
    await advance(rc, 29_000);
    expect((await eni(first.eniId))?.Status).toBe("in-use"); // cooling down (10 s asked, 30 s is the minimum)
    kube.cluster.create(PODS, "default", pod("db-3"));
    await until("db-3 annotated", () => annotation("db-3") !== undefined);
    expect(annotation("db-3")![0]!.vlanId).toBe(3); // VLAN 1 is still held by the cooling ENI
    await advance(rc, 2_000);
    expect((await sdkError(eni(first.eniId))).name).toBe("InvalidNetworkInterfaceID.NotFound");
    expect((await associations(trunk.id)).map((a) => a.VlanId).sort()).toEqual([2, 3]);
    kube.cluster.create(PODS, "default", pod("db-4"));
    await until("db-4 annotated", () => annotation("db-4") !== undefined);
    expect(annotation("db-4")![0]!.vlanId).toBe(1);
    expect(annotation("db-4")![0]!.eniId).not.toBe(first.eniId);
  });

  test("test hooks: a lower cooldown floor; a delayed pod is annotated only once its delay has passed", async () => {
    kube.cluster.create(CONFIGMAPS, "kube-system", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "amazon-vpc-cni" }, data: { "branch-eni-cooldown": "1" } });
    const rc = startRc({ minCooldownMs: 1000, annotationDelayMs: (p) => (p.metadata.name === "late" ? 5_000 : 0) });
    expect(rc.cooldownMs()).toBe(1000);
    addManagedNode("node-a", ec2w.instance);
    await until("trunk", () => rc.trunks.has("node-a"));
    kube.cluster.create(PODS, "default", pod("late"));
    kube.cluster.create(PODS, "default", pod("db-1"));
    await until("db-1 annotated", () => annotation("db-1") !== undefined);
    await advance(rc, 4_000);
    expect(annotation("late")).toBeUndefined();
    await advance(rc, 1_000);
    expect(annotation("late")?.[0]?.vlanId).toBe(2);
    const first = annotation("db-1")![0]!;
    deletePod("db-1");
    await until("pod gone", () => getPod("db-1") === undefined);
    await advance(rc, 1_000);
    expect((await sdkError(eni(first.eniId))).name).toBe("InvalidNetworkInterfaceID.NotFound");
  }, 20_000);

  test("capacity: ENIs cooling down count; the pod past the limit waits for one to be deleted", async () => {
    const rc = startRc();
    addManagedNode("node-a", ec2w.instance);
    for (let i = 1; i <= 10; i++) kube.cluster.create(PODS, "default", pod(`db-${i}`));
    await until("nine annotated", () => Array.from({ length: 10 }, (_, i) => annotation(`db-${i + 1}`)).filter(Boolean).length === 9);
    await rc.idle();
    const waiting = Array.from({ length: 10 }, (_, i) => `db-${i + 1}`).find((n) => annotation(n) === undefined)!;
    expect(await associations(trunkOf(ec2w.instance)!.id)).toHaveLength(9);
    const victim = waiting === "db-1" ? "db-2" : "db-1";
    deletePod(victim);
    await until("gone", () => getPod(victim) === undefined);
    await advance(rc, 30_000);
    expect(annotation(waiting)).toBeUndefined(); // the cooling ENI still counts
    await advance(rc, 31_000);
    await until("the waiting pod annotated", () => annotation(waiting) !== undefined);
    expect(await associations(trunkOf(ec2w.instance)!.id)).toHaveLength(9);
  });

  test("a deleted node's branch ENIs are disassociated and deleted a minute later", async () => {
    const rc = startRc();
    addManagedNode("node-a", ec2w.instance);
    kube.cluster.create(PODS, "default", pod("db-1"));
    await until("annotated", () => annotation("db-1") !== undefined);
    await rc.idle();
    const branch = annotation("db-1")![0]!.eniId;
    kube.cluster.delete(NODES, kube.cluster.get(NODES, undefined, "node-a")!);
    await advance(rc, 59_000);
    expect((await eni(branch))?.Status).toBe("in-use");
    await advance(rc, 2_000);
    expect((await sdkError(eni(branch))).name).toBe("InvalidNetworkInterfaceID.NotFound");
  });

  test("a type without trunking gets no trunk and a Warning event", async () => {
    const rc = startRc();
    const t3 = ec2w.model.launchInstance({ instanceType: "t3.medium", subnetId: ec2w.subnet.id, securityGroupIds: [ec2w.sg.id] });
    addManagedNode("node-t3", t3);
    await until("warning", () => kube.cluster.list(EVENTS, "default").some((e) => e.reason === "Unsupported"));
    await rc.idle();
    expect(trunkOf(t3)).toBeUndefined();
    expect((kube.cluster.get(NODES, undefined, "node-t3")?.status as { capacity: Record<string, string> }).capacity[POD_ENI]).toBeUndefined();
  });

  test("restart: ENIs rebuilt from annotations and tags; a dead pod's ENI keeps its VLAN until deleted", async () => {
    const rc1 = startRc();
    addManagedNode("node-a", ec2w.instance);
    kube.cluster.create(PODS, "default", pod("db-1"));
    kube.cluster.create(PODS, "default", pod("db-2"));
    await until("both annotated", () => annotation("db-1") !== undefined && annotation("db-2") !== undefined);
    await rc1.idle();
    rc1.stop();
    const orphan = annotation("db-2")![0]!;
    deletePod("db-2"); // while no controller runs
    await until("pod gone", () => getPod("db-2") === undefined);
    const trunkId = trunkOf(ec2w.instance)!.id;

    const rc2 = startRc();
    kube.cluster.create(PODS, "default", pod("db-3"));
    await until("db-3 annotated", () => annotation("db-3") !== undefined);
    expect(trunkOf(ec2w.instance)!.id).toBe(trunkId); // the trunk is reused
    expect(annotation("db-3")![0]!.vlanId).toBe(3); // 1 (db-1) and 2 (the orphan) are taken
    expect((await eni(orphan.eniId))?.Status).toBe("in-use");
    await advance(rc2, 61_000);
    expect((await sdkError(eni(orphan.eniId))).name).toBe("InvalidNetworkInterfaceID.NotFound");
    expect((await associations(trunkId)).map((a) => a.VlanId).sort()).toEqual([1, 3]);
    deletePod("db-1"); // db-1's ENIs were rebuilt from its annotation: they cool down and go too
    await until("pod gone", () => getPod("db-1") === undefined);
    await advance(rc2, 61_000);
    expect((await associations(trunkId)).map((a) => a.VlanId)).toEqual([3]);
  });
});

describe("control plane", () => {
  test("with vpcResources the control plane runs the webhook and the controller", async () => {
    kube.stop();
    kube = createTestCluster({ vpcResources: { ec2: ec2w.ec2, clusterName: "sim", now: () => clock.t } });
    kube.cluster.create(CRDS, undefined, Bun.YAML.parse(await Bun.file(CRD_FILE).text()) as KubeObject);
    kube.cluster.create(kube.cluster.registry.find("vpcresources.k8s.aws", "v1beta1", "securitygrouppolicies")!, "default", { apiVersion: "vpcresources.k8s.aws/v1beta1", kind: "SecurityGroupPolicy", metadata: { name: "all" }, spec: { podSelector: {}, securityGroups: { groupIds: [podSg] } } });
    addManagedNode("node-a", ec2w.instance);
    kube.cluster.create(PODS, "default", pod("any", { app: "any" }));
    await until("annotated", () => annotation("any") !== undefined, 10_000);
    expect(annotation("any")![0]!.vlanId).toBe(1);
    expect(trunkOf(ec2w.instance)?.attachment?.status).toBe("attached");
  });
});
