// DEL while addr-broker is down, through the compiled shim, against the real net-config in a
// node namespace (root): the shim tears the pod's wiring down from prevResult through
// net-config, as upstream's plugin does when ipamd is unreachable, and records the DEL; the
// address is released when addr-broker is back. With net-config down too, the record alone
// gets the address released, and net-config's reconcile then removes the orphaned wiring.
import { afterAll, expect } from "bun:test";
import { join } from "node:path";
import { NAMESPACES, requires } from "../support/prerequisites.ts";
import { CniHarness } from "./harness.ts";

const gate = requires(...NAMESPACES, "iptables");
const started: CniHarness[] = [];
afterAll(async () => {
  for (const h of started) await h.stop();
});

async function wiredPod(h: CniHarness, id: string) {
  const netns = h.netns();
  const env = { CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: "eth0", CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${id}` };
  const add = await h.exec({ ...env, CNI_COMMAND: "ADD" }, h.conf("1.0.0"));
  expect(add.code).toBe(0);
  const address: string = add.json.ips[0].address.split("/")[0];
  const hostVeth: string = add.json.interfaces[0].name;
  return { env, netns, add, address, hostVeth };
}

/** What the node namespace holds for the pod: its host veth, its /32 route, its rules. */
function kernel(h: CniHarness, address: string, hostVeth: string) {
  const node = h.node!.name;
  const ip = (...a: string[]) => Bun.spawnSync(["ip", "-n", node, ...a]).stdout.toString();
  return {
    veth: ip("-o", "link", "show").split("\n").some((l) => l.includes(` ${hostVeth}@`)),
    route: ip("route", "show", "table", "main").split("\n").some((l) => l.startsWith(`${address} dev `)),
    rules: ip("rule").split("\n").filter((l) => l.includes(` ${address} `) || l.endsWith(` ${address}`) || l.includes(`${address} lookup`)).length,
  };
}

const assigned = async (h: CniHarness, id: string) => (await h.readCheckpoint()).allocations.filter((a) => a.containerID === id).map((a) => a.ipv4);

gate.test("addr-broker down: DEL removes the pod's veth, route and rules; the address is freed when addr-broker returns", async () => {
  const h = new CniHarness({ netConfig: "real" });
  started.push(h);
  await h.start();
  const id = `dbd${process.pid}a`;
  const pod = await wiredPod(h, id);
  expect(kernel(h, pod.address, pod.hostVeth)).toEqual({ veth: true, route: true, rules: 1 });
  expect(await assigned(h, id)).toEqual([pod.address]);

  await h.killBroker("SIGKILL");
  const del = await h.exec({ ...pod.env, CNI_COMMAND: "DEL" }, h.conf("1.0.0", { prevResult: pod.add.json }));
  expect(del.code).toBe(0);
  expect(del.stderr).toContain(`net-config removed the wiring of ${pod.address}`);
  expect(kernel(h, pod.address, pod.hostVeth)).toEqual({ veth: false, route: false, rules: 0 });
  expect(h.pendingDels()).toBe(1);

  await h.startBroker();
  expect(await assigned(h, id)).toEqual([]);
  expect(h.pendingDels()).toBe(0);
}, 60_000);

gate.test("addr-broker and net-config down: the recorded DEL frees the address; net-config's reconcile removes the wiring", async () => {
  const h = new CniHarness({ netConfig: "real" });
  started.push(h);
  await h.start();
  const id = `dbd${process.pid}b`;
  const pod = await wiredPod(h, id);
  // A second pod, DEL'd while both are down and ADDed again once they are back: its new address stays.
  const kept = await wiredPod(h, `dbd${process.pid}c`);
  await h.killBroker("SIGKILL");
  await h.killNetConfig();
  const del = await h.exec({ ...pod.env, CNI_COMMAND: "DEL" }, h.conf("1.0.0", { prevResult: pod.add.json }));
  expect(del.code).toBe(0);
  expect(del.stderr).toContain("net-config unreachable too");
  expect(kernel(h, pod.address, pod.hostVeth).veth).toBe(true);
  const keptDel = await h.exec({ ...kept.env, CNI_COMMAND: "DEL" }, h.conf("1.0.0"));
  expect(keptDel.code).toBe(0);
  await h.restartNetConfig();
  await h.startBroker();
  // The runtime ADDs it again once addr-broker is back: a new assignment, not released by the old record.
  const again = await h.exec({ ...kept.env, CNI_COMMAND: "ADD" }, h.conf("1.0.0"));
  expect(again.code).toBe(0);
  // The veth is still there, so only the record can have released the address.
  expect(await assigned(h, id)).toEqual([]);
  expect(h.pendingDels()).toBe(0);
  expect((await assigned(h, `dbd${process.pid}c`)).length).toBe(1);
  const r = await fetch("http://localhost/v1/reconcile", { method: "POST", unix: join(h.runDir, "net-config.sock"), headers: { "content-type": "application/json" }, body: "{}" });
  expect(r.ok).toBe(true);
  expect(kernel(h, pod.address, pod.hostVeth)).toEqual({ veth: false, route: false, rules: 0 });
}, 60_000);
