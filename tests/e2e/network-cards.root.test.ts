// A node of a type with several network cards in the local deployment, through the real CNI
// path: an ENI someone else attached on network card 1 is left alone by the whole product
// (the local VPC gives it a link, as EC2 gives the instance an interface).
// Assumptions: one c6in.32xlarge node (2 cards × 8 ENIs, 50 IPv4 per ENI), processes mode
// without kubelets (the test runs the CNI ADD/DEL as a runtime does); the card-1 ENI (4
// secondary addresses) is attached after start-up, then pool-manager is killed so that the
// restarted one finds it among the instance's ENIs.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDeployment, type RunningDeployment } from "../../deploy/local/deployment.ts";
import { getJson, poll, serviceSocket } from "../../deploy/local/demo/observe.ts";
import { PodRunner } from "../../deploy/local/demo/pods.ts";
import { SERVICE_ORDER } from "../../deploy/local/node-services.ts";
import { runCommand } from "../../deploy/local/vpc/command.ts";
import { LOCAL_DEPLOYMENT, requires } from "../support/prerequisites.ts";
import { leftovers } from "../local/up-process.ts";

interface PoolDebug {
  ready?: boolean;
  otherNetworkCardEnis?: string[];
  unmanagedEnis?: number;
  enis?: Array<{ id: string; cidrs: Array<{ cidr: string }> }>;
}

requires(...LOCAL_DEPLOYMENT).describe("several network cards in the local deployment (root)", () => {
  let dir = "";
  let dep: RunningDeployment | undefined;
  let pods: PodRunner | undefined;
  const pids: number[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `e2e-cards-${process.pid}-`));
    dep = await startDeployment({ dir, nodes: 1, instanceType: "c6in.32xlarge", kubelets: false, env: { WARM_IP_TARGET: "3", MINIMUM_IP_TARGET: "3" } });
    for (const n of dep.nodes) for (const s of SERVICE_ORDER) pids.push(n.services.pid(s) ?? 0);
    pods = new PodRunner(dep);
  }, 90_000);

  afterAll(async () => {
    try {
      await pods?.close();
    } finally {
      await dep?.stop();
    }
    if (!dir) return;
    const left = await leftovers(dir, pids.filter((p) => p > 0));
    rmSync(dir, { recursive: true, force: true });
    expect(left).toEqual([]);
  }, 60_000);

  test("the card-1 ENI is never adopted, addressed, set up or counted; pods get card-0 addresses", async () => {
    const d = dep!;
    const node = d.cloud.stack.nodes[0]!;
    const runDir = d.nodes[0]!.layout.runDir;
    const model = d.cloud.model;
    const eni = model.createNetworkInterface({ subnetId: node.subnetId, description: "another agent's ENI", secondaryCount: 4 });
    model.attachNetworkInterface({ eniId: eni.id, instanceId: node.instanceId, deviceIndex: 1, networkCardIndex: 1 });
    const attached = await poll(
      async () => {
        model.settleDue();
        return model.state.enis[eni.id]?.attachment?.status;
      },
      (s) => s === "attached",
      10_000,
      100,
    );
    expect(attached.met).toBe(true);
    const before = structuredClone(model.state.enis[eni.id]!);

    // A new pool-manager reads the instance's ENIs from EC2, the card-1 ENI among them.
    const oldPid = d.nodes[0]!.services.pid("pool-manager")!;
    process.kill(oldPid, "SIGKILL");
    const restarted = await poll(
      async () => {
        const pid = d.nodes[0]!.services.pid("pool-manager");
        if (!pid || pid === oldPid) return undefined;
        pids.push(pid);
        return (await getJson(serviceSocket(runDir, "pool-manager"), "/debug").catch(() => undefined)) as { pool?: PoolDebug } | undefined;
      },
      (dbg) => dbg?.pool?.ready === true,
      30_000,
    );
    expect(restarted.met).toBe(true);
    const pool = restarted.value!.pool!;
    expect(pool.otherNetworkCardEnis).toEqual([eni.id]);
    expect(pool.unmanagedEnis).toBe(0);
    expect(pool.enis!.map((e) => e.id)).not.toContain(eni.id);

    // A pod's address is on a card-0 ENI of the pool; none of the card-1 ENI's addresses.
    const pod = await pods!.addRetrying(0, "cards-a");
    const card1Addresses = [before.primaryIp, ...before.secondaryIps];
    expect(card1Addresses).not.toContain(pod.address);
    const owner = Object.values(model.state.enis).find((e) => e.secondaryIps.includes(pod.address));
    expect(owner?.attachment).toMatchObject({ instanceId: node.instanceId, networkCardIndex: 0 });

    // The node's kernel: no rule or route names the card-1 ENI's addresses.
    const rules = await runCommand(["ip", "-n", node.netns, "rule", "show"]);
    const routes = await runCommand(["ip", "-n", node.netns, "route", "show", "table", "all"]);
    for (const ip of card1Addresses) {
      expect(rules.stdout).not.toContain(ip);
      expect(routes.stdout).not.toContain(ip);
    }
    // The local VPC gives the card-1 ENI a link of its own (c1eth1, its MAC); left alone: down, no address.
    const link = await runCommand(["ip", "-n", node.netns, "-o", "link", "show", "c1eth1"]);
    expect(link.stdout).toContain(before.mac);
    expect(link.stdout).not.toContain(",UP");
    const addrs = await runCommand(["ip", "-n", node.netns, "-o", "addr", "show", "dev", "c1eth1"]);
    expect(addrs.stdout).not.toContain("inet ");
    await pods!.del(pod);

    // Another reconcile round later, EC2 still holds the card-1 ENI exactly as it was.
    const dbgAfter = (await getJson(serviceSocket(runDir, "pool-manager"), "/debug")) as { pool?: PoolDebug };
    expect(dbgAfter.pool?.otherNetworkCardEnis).toEqual([eni.id]);
    expect(model.state.enis[eni.id]).toEqual(before);
  }, 90_000);
});
