// The cloud side of security groups for pods in the local deployment (cloud only, one m5.large
// node, no node services): once the node's CNINode has SecurityGroupsForPods, the simulated
// VPC resource controller gives it a trunk ENI that IMDS lists and the fabric mirrors into the
// node's namespace as a link with the trunk's MAC, and a pod a SecurityGroupPolicy selects gets
// a branch ENI and the annotation. The node side (VLAN links, pod wiring) is not exercised.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDeployment, type RunningDeployment } from "../../deploy/local/deployment.ts";
import { ClusterApi, NODES, PODS } from "../../deploy/local/controllers/cluster.ts";
import { CNINODES } from "../../deploy/local/controllers/vpc-rc/nodes.ts";
import { RESOURCES } from "../../deploy/local/sim-kube/resources.ts";
import type { KubeObject } from "../../deploy/local/sim-kube/validate.ts";
import { runCommand } from "../../deploy/local/vpc/command.ts";
import { LOCAL_DEPLOYMENT, requires } from "../support/prerequisites.ts";
import { leftovers } from "../local/up-process.ts";

const CRD_FILE = join(import.meta.dir, "../../deploy/k8s/securitygrouppolicy-crd.yaml");

async function until<T>(what: string, get: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

requires(...LOCAL_DEPLOYMENT).describe("security groups for pods, cloud side, in the local deployment (root)", () => {
  let dir = "";
  let dep: RunningDeployment | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `e2e-sgp-${process.pid}-`));
    dep = await startDeployment({ dir, nodes: 1, cloudOnly: true });
  }, 90_000);

  afterAll(async () => {
    await dep?.stop();
    if (!dir) return;
    const left = await leftovers(dir);
    rmSync(dir, { recursive: true, force: true });
    expect(left).toEqual([]);
  }, 60_000);

  test("CNINode feature → trunk in EC2, IMDS and the node's namespace; SGP pod → branch ENI and annotation", async () => {
    const d = dep!;
    const node = d.cloud.stack.nodes[0]!;
    const model = d.cloud.model;
    const cluster = new ClusterApi(d.cloud.faults.kube.store);
    cluster.create(CNINODES, undefined, { apiVersion: "vpcresources.k8s.aws/v1alpha1", kind: "CNINode", metadata: { name: node.name }, spec: { features: [{ name: "SecurityGroupsForPods" }] } });

    const trunk = await until("trunk attached", () => Object.values(model.state.enis).find((e) => e.interfaceType === "trunk" && e.attachment?.instanceId === node.instanceId && e.attachment.status === "attached"));
    expect(trunk.attachment?.deviceIndex).toBe(2);
    await until("IMDS lists the trunk", () => (model.imdsView(node.instanceId) ?? []).find((i) => i.mac === trunk.mac));
    const links = await runCommand(["ip", "-n", node.netns, "-o", "link", "show"]);
    expect(links.stdout).toContain(`link/ether ${trunk.mac}`);
    const capacity = await until("capacity", () => (cluster.get(NODES, undefined, node.name)?.status as { capacity?: Record<string, string> }).capacity?.["vpc.amazonaws.com/pod-eni"]);
    expect(capacity).toBe("9");

    cluster.create(RESOURCES.find((r) => r.kind === "CustomResourceDefinition")!, undefined, Bun.YAML.parse(await Bun.file(CRD_FILE).text()) as KubeObject);
    const sgp = cluster.registry.find("vpcresources.k8s.aws", "v1beta1", "securitygrouppolicies")!;
    const podSg = model.createSecurityGroup({ vpcId: Object.keys(model.state.vpcs)[0]!, name: "e2e-pods" });
    cluster.create(sgp, "default", { apiVersion: "vpcresources.k8s.aws/v1beta1", kind: "SecurityGroupPolicy", metadata: { name: "db" }, spec: { podSelector: { matchLabels: { app: "db" } }, securityGroups: { groupIds: [podSg.id] } } });
    cluster.create(PODS, "default", { apiVersion: "v1", kind: "Pod", metadata: { name: "db-0", labels: { app: "db" } }, spec: { nodeName: node.name, containers: [{ name: "c", image: "busybox:1" }] } });
    const raw = await until("annotation", () => cluster.get(PODS, "default", "db-0")?.metadata.annotations?.["vpc.amazonaws.com/pod-eni"]);
    const [details] = JSON.parse(raw) as Array<{ eniId: string; vlanId: number; privateIp: string }>;
    expect(details?.vlanId).toBe(1);
    const branch = model.state.enis[details!.eniId]!;
    expect(branch.groups).toEqual([podSg.id]);
    expect(branch.primaryIp).toBe(details!.privateIp);
    expect(Object.values(model.state.trunkAssociations)).toEqual([expect.objectContaining({ branchEniId: branch.id, trunkEniId: trunk.id, vlanId: 1 })]);
  }, 60_000);
});
