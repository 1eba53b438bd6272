// The network configuration through the compiled shim, addr-broker and the real net-config in
// real namespaces (tests/cni/harness.ts, "real"; the node's AWS_VPC_K8S_CNI_VETHPREFIX is the
// default eni): a key of the wrong type is CNI error 7 naming it with nothing assigned or
// wired, and a conflist vethPrefix other than the node's names the host veth.
import { expect } from "bun:test";
import { existsSync } from "node:fs";
import { hostVethName } from "../../shared/naming.ts";
import { kernelView, podView } from "../support/kernel-view.ts";
import { NAMESPACES, requires } from "../support/prerequisites.ts";
import { CniHarness } from "./harness.ts";

const gate = requires(...NAMESPACES, "iptables", "nsenter");
let h: CniHarness;
let n = 0;

gate.beforeAll(async () => {
  h = new CniHarness({ netConfig: "real" });
  await h.start();
}, 120_000);
gate.afterAll(() => h?.stop());

function env(command: string, netns: string) {
  const id = `nc${process.pid}n${n++}`;
  return { CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: "eth0", CNI_ARGS: `K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-${id}` };
}

function mtuOf(netns: string, dev: string): number | undefined {
  const r = Bun.spawnSync(["ip", "-n", netns, "-j", "link", "show", "dev", dev], { stdout: "pipe", stderr: "pipe" });
  return r.exitCode === 0 ? (JSON.parse(r.stdout.toString()) as Array<{ mtu: number }>)[0]?.mtu : undefined;
}

async function allocations(): Promise<number> {
  return existsSync(h.checkpoint) ? (await h.readCheckpoint()).allocations.length : 0;
}

gate.test("bad keys: CNI error 7 naming the key; no address in the checkpoint, no veth on the node, nothing in the pod", async () => {
  const node = h.node!.name;
  const rows: Array<[Record<string, unknown>, string]> = [
    [{ vethPrefix: {} }, "vethPrefix"],
    [{ mtu: "x" }, "mtu"],
    [{ pluginLogLevel: 3 }, "pluginLogLevel"],
    [{ brokerSocket: true }, "brokerSocket"], // refused by the shim itself: it cannot know where addr-broker is
  ];
  const before = { veths: kernelView(node).veths, allocations: await allocations() };
  for (const [extra, key] of rows) {
    const netns = h.netns();
    const r = await h.exec(env("ADD", netns), h.conf("1.0.0", extra));
    expect(r.code).toBe(1);
    expect(r.json.code).toBe(7);
    expect(r.json.msg.startsWith(`${key}: `)).toBe(true);
    expect(podView(h.netnsName(netns)).addresses).toEqual([]);
  }
  expect(kernelView(node).veths).toEqual(before.veths);
  expect(await allocations()).toBe(before.allocations);
}, 60_000);

gate.test("the conflist's vethPrefix names the host veth and its mtu sets the pair's MTU, not the node's settings; DEL removes it", async () => {
  const node = h.node!.name;
  const netns = h.netns();
  const e = env("ADD", netns);
  const conf = h.conf("1.0.0", { vethPrefix: "cfg", mtu: "1500" }); // the node: eni, POD_MTU 9001
  const r = await h.exec(e, conf);
  expect(r.code).toBe(0);
  const address = r.json.ips[0].address.split("/")[0];
  const veth = hostVethName("cfg", { namespace: "default", name: `pod-${e.CNI_CONTAINERID}`, containerId: e.CNI_CONTAINERID, ifName: "eth0" });
  const k = kernelView(node, "cfg");
  expect(k.veths).toEqual([veth]);
  expect(k.hostRoutes[address]).toBe(veth);
  expect(kernelView(node, "eni").veths).toEqual([]);
  expect(podView(h.netnsName(netns)).addresses).toEqual([`${address}/32`]);
  expect([mtuOf(node, veth), mtuOf(h.netnsName(netns), "eth0")]).toEqual([1500, 1500]);
  // CHECK agrees the kernel matches (net-config looks for the cfg veth).
  expect((await h.exec({ ...e, CNI_COMMAND: "CHECK" }, h.conf("1.0.0", { vethPrefix: "cfg", mtu: "1500", prevResult: r.json }))).code).toBe(0);
  // addr-broker restarted: its start-up sweep must find the cfg veth and keep the pod's address.
  await h.killBroker();
  await h.startBroker();
  expect((await h.readCheckpoint()).allocations.filter((a) => a.containerID === e.CNI_CONTAINERID).map((a) => a.ipv4)).toEqual([address]);
  expect(kernelView(node, "cfg").hostRoutes[address]).toBe(veth);
  expect((await h.exec({ ...e, CNI_COMMAND: "DEL" }, conf)).code).toBe(0);
  expect(kernelView(node, "cfg").hostRoutes[address]).toBeUndefined();
}, 60_000);
