// ENABLE_MULTI_NIC=true end to end in the local deployment: every node manages network card 1
// too, and a multi-homed pod (k8s.amazonaws.com/nicConfig: multi-nic-attachment, passed as a
// runtime passes pod annotations to a plugin with that capability) gets an interface per card
// and reaches a peer over each: over eth0 an ordinary pod on the other node, over mNicIf1 the
// other node's multi-homed pod's card-1 address, through the card-1 ENIs and the VPC fabric.
// Assumptions: two c6in.32xlarge nodes (2 cards × 8 ENIs, 50 IPv4 per ENI), processes mode
// without kubelets (the test runs the CNI chain as a runtime does).
import { afterAll, expect, test } from "bun:test";
import { getJson, poll, serviceSocket } from "../../deploy/local/demo/observe.ts";
import { attachmentOf, type Pod, type PodRunner } from "../../deploy/local/demo/pods.ts";
import { DEFAULT_DEMO_OPTIONS } from "../../deploy/local/demo/steps.ts";
import { runCommand } from "../../deploy/local/vpc/command.ts";
import { LOCAL_DEPLOYMENT, requires } from "../support/prerequisites.ts";
import { demoDeployment } from "./demo-deployment.ts";

const ANNOTATIONS = { "io.kubernetes.cri.pod-annotations": { "k8s.amazonaws.com/nicConfig": "multi-nic-attachment" } };
const ENV = { ENABLE_MULTI_NIC: "true", WARM_IP_TARGET: "2", MINIMUM_IP_TARGET: "2" };

interface Multi {
  pod: Pod;
  ips: string[];
  ifNames: string[];
}

requires(...LOCAL_DEPLOYMENT).describe("ENABLE_MULTI_NIC in the local deployment (root)", () => {
  const multis: Multi[] = [];
  // A safety net after a failure (the test DELs its pods itself): pods the runner does not track are DEL'd; the runner's close() drops their namespaces.
  afterAll(async () => {
    for (const m of multis) await d.ctx.pods.runtime(m.pod.nodeIndex).del({ ...attachmentOf(m.pod), capabilityArgs: ANNOTATIONS }).catch(() => {});
  });
  const d = demoDeployment("e2e-mnic", { nodes: 2, instanceType: "c6in.32xlarge", kubelets: false, env: ENV }, { ...DEFAULT_DEMO_OPTIONS, env: ENV });
  const runner = (): PodRunner => d.ctx.pods as PodRunner;

  /** A multi-homed pod on node `i`, its ADD retried while a card's pool is still filling (CNI 11). */
  async function addMulti(i: number, name: string): Promise<Multi> {
    const p = runner();
    for (let tries = 0; ; tries++) {
      const netns = await p.createNetns();
      const partial = { name, namespace: "ml", netns, containerId: `mnic${netns.replace(/[^A-Za-z0-9]/g, "")}` };
      try {
        const result = await p.runtime(i).add({ ...attachmentOf(partial), capabilityArgs: ANNOTATIONS });
        const pod: Pod = { ...partial, nodeIndex: i, node: p.node(i), address: "", result };
        const ips = (result.ips as Array<{ address: string }>).map((x) => x.address.split("/")[0]!);
        const ifs = result.interfaces as Array<{ name: string; sandbox?: string }>;
        const ifNames = (result.ips as Array<{ interface: number }>).map((x) => ifs[x.interface]!.name);
        const m = { pod: { ...pod, address: ips[0]! }, ips, ifNames };
        multis.push(m);
        return m;
      } catch (err) {
        await p.runtime(i).del({ ...attachmentOf(partial), capabilityArgs: ANNOTATIONS }).catch(() => {});
        await runCommand(["ip", "netns", "del", netns]);
        if (tries >= 20) throw err;
        await Bun.sleep(1000);
      }
    }
  }

  const ping = (netns: string, from: string, to: string) => runCommand(["ip", "netns", "exec", netns, "ping", "-c", "2", "-W", "2", "-I", from, to]);

  test("a multi-homed pod gets an interface per card and reaches a peer over each; DEL gives both addresses back", async () => {
    const dep = d.dep;
    const model = dep.cloud.model;
    // Each node's pool-manager gives card 1 an ENI, set up by net-config in table 10100.
    for (const [i, n] of dep.nodes.entries()) {
      const ready = await poll(
        async () => (await getJson(serviceSocket(n.layout.runDir, "pool-manager"), "/debug").catch(() => undefined)) as { pool?: { networkCards?: { cards?: Record<string, { enis: Array<{ ready: boolean; routeTable: number; addresses: string[] }> }> } } } | undefined,
        (dbg) => dbg?.pool?.networkCards?.cards?.["1"]?.enis.some((e) => e.ready && e.addresses.length > 0) === true,
        60_000,
      );
      expect({ node: i, met: ready.met }).toEqual({ node: i, met: true });
      expect(ready.value!.pool!.networkCards!.cards!["1"]!.enis[0]!.routeTable).toBe(10100);
    }

    const a = await addMulti(0, "trainer-a");
    const b = await addMulti(1, "trainer-b");
    const web = await runner().addRetrying(1, "web");
    for (const m of [a, b]) {
      expect(m.ifNames).toEqual(["eth0", "mNicIf1"]);
      // Each address is on an ENI of this node, on the card of its interface.
      const cards = m.ips.map((ip) => Object.values(model.state.enis).find((e) => e.secondaryIps.includes(ip))?.attachment);
      expect(cards.map((c) => [c?.instanceId, c?.networkCardIndex])).toEqual([
        [m.pod.node.instanceId, 0],
        [m.pod.node.instanceId, 1],
      ]);
    }

    // Over eth0 to an ordinary pod on the other node; over mNicIf1 to the other node's card-1 address.
    const overEth0 = await ping(a.pod.netns, a.ips[0]!, web.address);
    expect(overEth0.exitCode).toBe(0);
    const overCard1 = await ping(a.pod.netns, a.ips[1]!, b.ips[1]!);
    expect(overCard1.stderr + overCard1.stdout).toContain("2 received");
    // The card-1 echo left node 0 through its card-1 ENI's link (the fabric routes each address to its ENI only).
    const node0 = a.pod.node.netns;
    const stats = await runCommand(["ip", "-n", node0, "-j", "-s", "link", "show", "dev", "c1eth0"]);
    expect(JSON.parse(stats.stdout)[0].stats64.tx.packets).toBeGreaterThan(0);
    const rules = await runCommand(["ip", "-n", node0, "rule", "show"]);
    expect(rules.stdout).toContain(`from ${a.ips[1]} lookup 10100`);

    // Introspection by card: upstream's /v1/enis (in the node's namespace) and addr-broker's /debug.
    const enis = await runCommand(["ip", "netns", "exec", node0, "curl", "-sf", "http://127.0.0.1:61679/v1/enis"]);
    expect(enis.exitCode).toBe(0);
    const byCard = JSON.parse(enis.stdout) as Record<string, { ENIs: Record<string, { RouteTableID: number; AvailableIPv4Cidrs: Record<string, { IPAddresses: Record<string, { IPAMMetadata: Record<string, unknown> }> }> }> }>;
    expect(Object.keys(byCard)).toEqual(["0", "1"]);
    const card1Eni = Object.values(byCard["1"]!.ENIs)[0]!;
    expect(card1Eni.RouteTableID).toBe(10100);
    expect(card1Eni.AvailableIPv4Cidrs[`${a.ips[1]}/32`]!.IPAddresses[a.ips[1]!]!.IPAMMetadata).toMatchObject({ k8sPodName: "trainer-a", interfacesCount: 2 });
    const brokerDbg = (await getJson(serviceSocket(dep.nodes[0]!.layout.runDir, "addr-broker"), "/debug")) as { networkCards: { managed: number[]; cards: Record<string, { assignments: Array<{ address: string }> }> } };
    expect(brokerDbg.networkCards.managed).toEqual([1]);
    expect(brokerDbg.networkCards.cards["1"]!.assignments.map((x) => x.address)).toEqual([a.ips[1]!]);

    // DEL: both of a's interfaces and addresses go.
    await runner().runtime(0).del({ ...attachmentOf(a.pod), capabilityArgs: ANNOTATIONS });
    multis.splice(multis.indexOf(a), 1);
    const after = await runCommand(["ip", "-n", node0, "rule", "show"]);
    expect(after.stdout).not.toContain(a.ips[0]!);
    expect(after.stdout).not.toContain(a.ips[1]!);
    const brokerAfter = (await getJson(serviceSocket(dep.nodes[0]!.layout.runDir, "addr-broker"), "/debug")) as { networkCards: { cards: Record<string, { assignments: unknown[] }> } };
    expect(brokerAfter.networkCards.cards["1"]!.assignments).toEqual([]);
    await runCommand(["ip", "netns", "del", a.pod.netns]);
    await runner().runtime(1).del({ ...attachmentOf(b.pod), capabilityArgs: ANNOTATIONS });
    multis.splice(multis.indexOf(b), 1);
    await runner().del(web);
  }, 120_000);
});
