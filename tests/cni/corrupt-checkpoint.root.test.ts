// A corrupt checkpoint under running pods never unwires them. Real namespaces
// (tests/cni/harness.ts, "real"): a node namespace with a primary ENI (main table, 2
// addresses) and a secondary ENI (table 2), the compiled shim, addr-broker and the real
// net-config. Four pods (two per ENI) are added, the checkpoint is overwritten with garbage
// and addr-broker is killed and restarted: it rebuilds reservations from the kernel. Then
// net-config's reconcile runs every second (AWS_VPC_CNI_RECONCILE_INTERVAL_SECONDS=1, instead
// of 60 s) and the test waits for at least four rounds that saw addr-broker's assignments:
// every pod must keep its veth, host route and rules (512, and 1536 on the secondary ENI)
// and answer a ping from the node. The issue asked for 5 minutes of reconciles; four rounds
// at 1 s take the same code path as five at 60 s.
import { expect } from "bun:test";
import type { CapacitySnapshot } from "../../shared/contracts/capacity.ts";
import { hostVethName } from "../../shared/naming.ts";
import { testCapacity } from "../../services/addr-broker/test-support/fakes.ts";
import { kernelView, podView } from "../support/kernel-view.ts";
import { NAMESPACES, requires } from "../support/prerequisites.ts";
import { CniHarness } from "./harness.ts";

const CAPACITY: CapacitySnapshot = (() => {
  const c = testCapacity({ addresses: 2 });
  const primary = c.enis[0]!;
  const cidrs = Array.from({ length: 8 }, (_, i) => ({ cidr: `10.0.2.${i + 1}/32`, kind: "address" as const, draining: false }));
  return { ...c, enis: [primary, { ...primary, id: "eni-0b", deviceNumber: 1, routeTable: 2, mac: "02:00:00:00:00:02", primaryIp: "10.0.0.11", primary: false, cidrs }] };
})();

const gate = requires(...NAMESPACES, "iptables", "nsenter", "ping");
let h: CniHarness | undefined;
gate.afterAll(() => h?.stop());

interface Pod {
  id: string;
  netns: string;
  address: string;
  veth: string;
}

function nodeSide(node: string, p: Pod) {
  const k = kernelView(node);
  return { veth: k.veths.includes(p.veth), route: k.hostRoutes[p.address] ?? null, rule512: k.rules512.includes(p.address), rule1536: k.rules1536.filter((r) => r.startsWith(`${p.address} `)) };
}

function answers(node: string, address: string): boolean {
  return Bun.spawnSync(["ip", "netns", "exec", node, "ping", "-c", "1", "-W", "1", address], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}

interface Round {
  at: string;
  pods: string;
  repairs: number;
}

gate.test(
  "pods on the primary and a secondary ENI keep their wiring through reconcile rounds after a corrupt checkpoint",
  async () => {
    h = new CniHarness({ netConfig: "real", capacity: CAPACITY, netConfigEnv: { AWS_VPC_CNI_RECONCILE_INTERVAL_SECONDS: "1" } });
    await h.start();
    const node = h.node!.name;
    const pods: Pod[] = [];
    for (let i = 0; i < 4; i++) {
      const id = `cc${process.pid}n${i}`;
      const netns = h.netns();
      const r = await h.exec({ CNI_COMMAND: "ADD", CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: "eth0", CNI_ARGS: `K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-${id}` }, h.conf("1.0.0"));
      expect(r.code).toBe(0);
      pods.push({ id, netns, address: r.json.ips[0].address.split("/")[0], veth: hostVethName("eni", { namespace: "default", name: `pod-${id}`, containerId: id, ifName: "eth0" }) });
    }
    // Two on each ENI: the primary's two addresses go first.
    expect(pods.map((p) => p.address.startsWith("10.0.2.")).sort()).toEqual([false, false, true, true]);
    const before = pods.map((p) => ({ node: nodeSide(node, p), pod: podView(h!.netnsName(p.netns)) }));
    for (const p of pods) expect(answers(node, p.address)).toBe(true);
    for (const b of before.slice(2)) expect(b.node.rule1536.length).toBe(1);

    await h.killBroker();
    await Bun.write(h.checkpoint, '{"version":"vpc-cni-ipam/1","allocations":[{"networkName"');
    const restartedAt = new Date().toISOString();
    await h.startBroker();
    const debug = (await (await h.get("addr-broker", "/debug")).json()) as { checkpoint: { source: string }; reserved: Array<{ address: string }> };
    expect(debug.checkpoint.source).toBe("rebuilt-from-kernel");
    expect(debug.reserved.map((r) => r.address).sort()).toEqual(pods.map((p) => p.address).sort());

    // Wait for four reconcile rounds after the restart that acted on addr-broker's (rebuilt) state.
    let rounds: Round[] = [];
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const d = (await (await h.get("net-config", "/debug")).json()) as { reconcileRounds: Round[] };
      rounds = d.reconcileRounds.filter((r) => r.at > restartedAt && r.pods === "checked");
      if (rounds.length >= 4) break;
      await Bun.sleep(250);
    }
    expect(rounds.length).toBeGreaterThanOrEqual(4);

    const after = pods.map((p) => ({ node: nodeSide(node, p), pod: podView(h!.netnsName(p.netns)) }));
    expect(after).toEqual(before);
    for (const p of pods) expect(answers(node, p.address)).toBe(true);
  },
  60_000,
);
