/**
 * Security groups for pods end to end on a local deployment (`up --pod-eni`, processes mode, two
 * m5.large nodes, the kubelets running busybox pods with podman), both enforcing modes. A
 * SecurityGroupPolicy selects `app=db`; its group lets in TCP 8080 from the VPC and lets out
 * only TCP 8080 to the VPC. Pods: db (selected) and client (not) on node 0, far (not) on node 1.
 * Probes are TCP exchanges from inside pods and from the node's own namespace.
 *  - strict (DISABLE_TCP_EARLY_DEMUX=true, as upstream asks for the node's TCP to such pods):
 *    db has its branch ENI's address (EC2: the branch ENI with the group, its trunk
 *    association and VLAN; the node: vlan.eth.<id> with the branch MAC, the two iif rules at
 *    priority 10); its group is enforced both ways for every peer, the same node's pod and the
 *    node itself included; a pod the controller annotates late starts without a sandbox
 *    failure; the node's services restarted keep the pods working; deleting db removes its
 *    wiring and, after the cooldown (ConfigMap branch-eni-cooldown, floor lowered by the
 *    controller's test hook), its branch ENI.
 *  - standard: same-node traffic is not enforced, traffic to the other node is; traffic to the
 *    outside leaves through the node's primary ENI with SNAT (AWS_VPC_K8S_CNI_EXTERNALSNAT
 *    false, the default), so the branch group does not apply to it.
 * The unselected pods behave as before throughout (node ENI addresses, reachable on both ports).
 */
import { expect } from "bun:test";
import { DescribeNetworkInterfacesCommand, DescribeTrunkInterfaceAssociationsCommand, EC2Client } from "@aws-sdk/client-ec2";
import { join } from "node:path";
import { UnixClient } from "../../shared/ipc/client.ts";
import { getCapacity } from "../../shared/contracts/capacity.ts";
import { LOCAL_DEPLOYMENT, requires } from "../support/prerequisites.ts";
import { apply, getJson, kubectl } from "./kubelet/kube.ts";
import { eventually } from "./podman/node-state.ts";
import { sgp, usingSgDeployment, type PodJson } from "./sg-pods-harness.ts";

const gate = requires(...LOCAL_DEPLOYMENT, "podman", "runc", "conmon", "nsenter", "kubectl");
const VPC = "10.0.0.0/16";
const tcp = (port: number, cidr: string) => ({ protocol: "tcp" as const, fromPort: port, toPort: port, peer: { cidr } });
const LATE_MS = 3000;

type Sg = ReturnType<typeof usingSgDeployment>;

/** The group, the policy, a 1 s cooldown; every node's trunk attached before any pod. */
async function setUp(d: Sg): Promise<string> {
  const group = d.securityGroup("db-pods", [tcp(8080, VPC)], [tcp(8080, VPC)]);
  await apply(d.stack(), sgp("db", { app: "db" }, [group]));
  await apply(d.stack(), { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "amazon-vpc-cni", namespace: "kube-system" }, data: { "branch-eni-cooldown": "1" } });
  // every node's trunk attached (EC2) and known to its pool-manager (capacity), before any pod
  for (const [i, node] of d.stack().nodes.entries()) {
    const pool = new UnixClient(join(d.dep().layouts[i]!.runDir, "pool-manager.sock"), { timeoutMs: 5000 });
    await eventually(`${node.name}'s trunk ENI in its capacity`, 30_000, async () => ((await pool.call(getCapacity, { since: -1, waitMs: 0 })).enis.some((e) => e.trunk) ? true : undefined));
  }
  await d.startPods([["db", 0, { app: "db" }], ["client", 0, { app: "client" }], ["far", 1, { app: "client" }]]);
  return group;
}

function ec2(d: Sg): EC2Client {
  return new EC2Client({ region: "us-west-2", endpoint: d.stack().ec2.endpoint, credentials: { accessKeyId: "local", secretAccessKey: "local" } });
}

gate.describe("security groups for pods on a local deployment, strict mode (root)", () => {
  // DISABLE_TCP_EARLY_DEMUX: what upstream's README asks of strict mode for the node's own TCP to branch pods (kubelet probes)
  const d = usingSgDeployment("strict", "strict", { env: { DISABLE_TCP_EARLY_DEMUX: "true" }, vpcResourceHooks: { minCooldownMs: 1000, annotationDelayMs: (p) => (p.metadata.name === "late" ? LATE_MS : 0) } });
  let group = "";

  gate.test("a selected pod has its branch ENI: address, EC2's branch ENI, trunk association and VLAN, the node's wiring", async () => {
    group = await setUp(d);
    const b = await d.branchOf("db");
    expect(d.ctx.ips.get("db")).toBe(b.privateIp);
    const db = (await getJson<PodJson>(d.stack(), "pod", "db"))!;
    expect(db.spec.containers[0]!.resources?.requests?.["vpc.amazonaws.com/pod-eni"]).toBe("1");
    const client = ec2(d);
    try {
      const [eni] = (await client.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [b.eniId] }))).NetworkInterfaces ?? [];
      expect(eni).toMatchObject({ InterfaceType: "branch", PrivateIpAddress: b.privateIp, MacAddress: b.ifAddress, Groups: [expect.objectContaining({ GroupId: group })] });
      const trunk = Object.values(d.model().state.enis).find((e) => e.interfaceType === "trunk" && e.attachment?.instanceId === d.stack().nodes[0]!.instanceId)!;
      const assoc = (await client.send(new DescribeTrunkInterfaceAssociationsCommand({ AssociationIds: [b.associationID] }))).InterfaceAssociations ?? [];
      expect(assoc).toEqual([expect.objectContaining({ BranchInterfaceId: b.eniId, TrunkInterfaceId: trunk.id, VlanId: b.vlanId })]);
    } finally {
      client.destroy();
    }
    const w = await d.wiring(0, b.vlanId);
    expect(w.link).toBe(b.ifAddress);
    expect(w.rules).toEqual([expect.stringMatching(new RegExp(`^10:\\s+from all iif vlan\\.eth\\.${b.vlanId} lookup ${100 + b.vlanId}`)), expect.stringMatching(new RegExp(`^10:\\s+from all iif vlan[0-9a-f]{11} lookup ${100 + b.vlanId}`))].sort());
    expect(w.routes).toContainEqual(expect.stringMatching(new RegExp(`^default via \\S+ dev vlan\\.eth\\.${b.vlanId}`)));
    // the unselected pods: no branch ENI, an address of their node's own ENIs
    for (const [name, node] of [["client", 0], ["far", 1]] as const) {
      const ip = d.ctx.ips.get(name)!;
      const holder = Object.values(d.model().state.enis).find((e) => e.primaryIp === ip || e.secondaryIps?.includes(ip));
      expect(holder?.attachment?.instanceId).toBe(d.stack().nodes[node]!.instanceId);
      expect((await getJson<PodJson>(d.stack(), "pod", name))!.metadata.annotations?.["vpc.amazonaws.com/pod-eni"]).toBeUndefined();
    }
  }, 120_000);

  gate.test("its group is enforced both ways: pods on both nodes, the node itself, the outside; unselected pods as before", async () => {
    await d.expectReach({
      "client→db:8080": true, "client→db:9090": false, // the same node's pod: enforced (strict)
      "node:0→db:8080": true, "node:0→db:9090": false, // the node itself
      "far→db:8080": true, "far→db:9090": false, // the other node
      "db→client:8080": true, "db→client:9090": false, // egress, same node
      "db→far:8080": true, "db→far:9090": false, // egress, other node
      "client→far:9090": true, "far→client:9090": true, // unselected pods as before
    });
    const echo = d.stack().outside.echo;
    expect(await d.reply("client", echo)).toStartWith("from ");
    expect(await d.reply("db", echo)).toBe(""); // the group lets out only TCP 8080 to the VPC
  }, 90_000);

  gate.test("a pod annotated late starts without a sandbox failure; branch and ordinary pods run side by side", async () => {
    const t0 = Date.now();
    await d.startPods([["late", 0, { app: "db" }]]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(LATE_MS);
    expect(d.ctx.ips.get("late")).toBe((await d.branchOf("late")).privateIp);
    const events = JSON.parse((await kubectl(d.stack(), ["get", "events", "-n", "default", "-o", "json"])).stdout) as { items: Array<{ reason?: string; involvedObject?: { name?: string } }> };
    expect(events.items.filter((e) => e.involvedObject?.name === "late" && e.reason === "FailedCreatePodSandBox")).toEqual([]);
    await d.expectReach({ "client→late:8080": true, "client→late:9090": false, "client→db:8080": true, "client→far:9090": true });
  }, 90_000);

  gate.test("the node's services restarted under running branch pods keep them wired and working", async () => {
    const b = await d.branchOf("db");
    const node = d.dep().nodes[0]!.services;
    await node.stop();
    await node.start();
    expect((await d.wiring(0, b.vlanId)).link).toBe(b.ifAddress);
    await d.expectReach({ "client→db:8080": true, "client→db:9090": false, "db→far:8080": true, "far→client:9090": true });
    // and a new branch pod after the restart
    await d.startPods([["db2", 0, { app: "db" }]]);
    expect(d.ctx.ips.get("db2")).toBe((await d.branchOf("db2")).privateIp);
  }, 90_000);

  gate.test("deleting the pod removes its wiring, and after the cooldown its branch ENI", async () => {
    const b = await d.branchOf("db");
    const r = await kubectl(d.stack(), ["delete", "pod", "db", "--wait=true", "--timeout=30s"]);
    expect(r.exitCode).toBe(0);
    expect(await d.wiring(0, b.vlanId)).toEqual({ rules: [], routes: [] });
    await eventually("the branch ENI deleted", 20_000, async () => (d.model().state.enis[b.eniId] === undefined ? true : undefined));
    expect(Object.values(d.model().state.trunkAssociations).filter((a) => a.branchEniId === b.eniId)).toEqual([]);
    await d.expectReach({ "client→far:9090": true, "far→client:8080": true });
  }, 60_000);
});

gate.describe("security groups for pods on a local deployment, standard mode (root)", () => {
  const d = usingSgDeployment("standard", "standard");

  gate.test("same-node traffic is not enforced, the other node's is; the outside goes out SNATed through the primary ENI", async () => {
    await setUp(d);
    const b = await d.branchOf("db");
    expect(d.ctx.ips.get("db")).toBe(b.privateIp);
    const w = await d.wiring(0, b.vlanId);
    expect(w.link).toBe(b.ifAddress);
    expect(w.rules.map((r) => r.split(":")[0])).toEqual(["1536"]);
    await d.expectReach({
      "client→db:9090": true, "node:0→db:9090": true, "db→client:9090": true, // the same node: not enforced
      "far→db:8080": true, "far→db:9090": false, "db→far:8080": true, "db→far:9090": false, // the VPC: enforced
      "client→far:9090": true,
    });
    // AWS_VPC_K8S_CNI_EXTERNALSNAT=false: the outside sees the node's primary address, the branch group does not apply
    expect(await d.reply("db", d.stack().outside.echo)).toStartWith(`from ${d.stack().nodes[0]!.primaryIp}:`);
  }, 120_000);
});
