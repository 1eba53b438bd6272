// After a corrupt checkpoint addr-broker holds the live pods as reservations (address, host
// veth, route table, rebuilt from the kernel). net-config's reconcile never removes their
// wiring, and re-creates what of it went missing. Real namespaces (tests/cni/harness.ts,
// "real"): a node with a primary ENI (main table) and a secondary ENI (table 2), two pods,
// one on each. Before addr-broker restarts, the secondary pod loses its from-pod rule (1536),
// so its reservation's route table can only come from the capacity; after, the primary pod
// loses its host route and its to-pod rule (512). One reconcile round puts all three back
// and the node reaches both pods again.
import { expect } from "bun:test";
import { join } from "node:path";
import type { CapacitySnapshot } from "../../shared/contracts/capacity.ts";
import { testCapacity } from "../../services/addr-broker/test-support/fakes.ts";
import { kernelView } from "../support/kernel-view.ts";
import { NAMESPACES, requires } from "../support/prerequisites.ts";
import { CniHarness } from "./harness.ts";

const CAPACITY: CapacitySnapshot = (() => {
  const c = testCapacity({ addresses: 1 });
  const primary = c.enis[0]!;
  const cidrs = [{ cidr: "10.0.2.1/32", kind: "address" as const, draining: false }];
  return { ...c, enis: [primary, { ...primary, id: "eni-0b", deviceNumber: 1, routeTable: 2, mac: "02:00:00:00:00:02", primaryIp: "10.0.0.11", primary: false, cidrs }] };
})();

const gate = requires(...NAMESPACES, "iptables", "ping");
let h: CniHarness | undefined;
gate.afterAll(() => h?.stop());

const answers = (node: string, address: string) => Bun.spawnSync(["ip", "netns", "exec", node, "ping", "-c", "1", "-W", "1", address], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
const ipIn = (node: string, ...argv: string[]) => {
  const r = Bun.spawnSync(["ip", "-n", node, ...argv], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`ip ${argv.join(" ")}: ${r.stderr.toString()}`);
};

gate.test("a reserved pod's missing host route and rules are re-created by reconcile", async () => {
  h = new CniHarness({ netConfig: "real", capacity: CAPACITY });
  await h.start();
  const node = h.node!.name;
  const pods: { address: string; veth: string }[] = [];
  for (let i = 0; i < 2; i++) {
    const id = `rr${process.pid}n${i}`;
    const r = await h.exec({ CNI_COMMAND: "ADD", CNI_CONTAINERID: id, CNI_NETNS: h.netns(), CNI_IFNAME: "eth0", CNI_ARGS: `K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-${id}` }, h.conf("1.0.0"));
    expect(r.code).toBe(0);
    pods.push({ address: r.json.ips[0].address.split("/")[0], veth: r.json.interfaces[0].name });
  }
  const [onPrimary, onSecondary] = pods as [(typeof pods)[0], (typeof pods)[0]];
  expect(onSecondary.address).toBe("10.0.2.1");
  const before = kernelView(node);
  expect(before.rules1536).toEqual(["10.0.2.1 → 2"]);

  await h.killBroker();
  await Bun.write(h.checkpoint, '{"version":"vpc-cni-ipam/1","allocations":[{"networkName"');
  ipIn(node, "rule", "del", "priority", "1536", "from", `${onSecondary.address}/32`, "table", "2");
  await h.startBroker();
  const debug = (await (await h.get("addr-broker", "/debug")).json()) as { checkpoint: { source: string } };
  expect(debug.checkpoint.source).toBe("rebuilt-from-kernel");
  ipIn(node, "route", "del", `${onPrimary.address}/32`, "dev", onPrimary.veth);
  ipIn(node, "rule", "del", "priority", "512", "to", `${onPrimary.address}/32`, "table", "main");
  const broken = kernelView(node);
  expect(broken.hostRoutes[onPrimary.address]).toBeUndefined();
  expect(broken.rules512).not.toContain(onPrimary.address);
  expect(broken.rules1536).toEqual([]);
  expect(answers(node, onPrimary.address)).toBe(false);

  const r = await fetch("http://localhost/v1/reconcile", { method: "POST", unix: join(h.runDir, "net-config.sock"), headers: { "content-type": "application/json" }, body: "{}" });
  expect(r.ok).toBe(true);
  const after = kernelView(node);
  expect(after.hostRoutes).toEqual(before.hostRoutes);
  expect(after.rules512).toEqual(before.rules512);
  expect(after.rules1536).toEqual(before.rules1536);
  expect(after.veths).toEqual(before.veths);
  for (const p of pods) expect(answers(node, p.address)).toBe(true);
}, 60_000);
