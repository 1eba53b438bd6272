// ENABLE_MULTI_NIC=true, a multi-homed pod through the compiled shim, addr-broker and the real
// net-config in a node namespace (tests/cni/harness.ts, "real").
// Assumptions: card 0's primary ENI (eth0, 10.0.0.10) has 10.0.1.1-8; card 1 has one ENI
// (device 0, link c1eth0, primary 10.1.0.4/16, gateway 10.1.0.1, route table 10100) with
// 10.1.0.5-6, set up through net-config as pool-manager would. A "peer" namespace holds the
// other end of c1eth0 as 10.1.0.1: the peer the pod reaches over its card-1 interface.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { hostVethName } from "../../shared/naming.ts";
import { multiCardCapacity } from "../../services/addr-broker/test-support/fakes.ts";
import { Namespaces } from "../../services/net-config/test-support/namespaces.ts";
import { NAMESPACES, requires } from "../support/prerequisites.ts";
import { CniHarness } from "./harness.ts";

const gate = requires(...NAMESPACES);
const nss = new Namespaces();
let h: CniHarness;
let peer: { name: string; path: string };

const CARD1_ENI = multiCardCapacity().enis[1]!;

gate.beforeAll(async () => {
  h = new CniHarness({ netConfig: "real", capacity: multiCardCapacity(), brokerEnv: { ENABLE_MULTI_NIC: "true" } });
  await h.start();
  const node = h.node!.name;
  // As pool-manager does once IMDS shows the ENI: its link, address, table 10100 and rule.
  const setup = await fetch("http://localhost/v1/enis/setup", {
    method: "POST",
    unix: join(h.runDir, "net-config.sock"),
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ eniId: CARD1_ENI.id, mac: CARD1_ENI.mac, deviceNumber: 0, primaryIp: CARD1_ENI.primaryIp, subnetCidr: CARD1_ENI.subnetCidr, gateway: CARD1_ENI.gateway, routeTable: CARD1_ENI.routeTable }),
  });
  expect(setup.status).toBe(200);
  // The peer behind card 1's ENI; the node answers ARP for its pods there, as the VPC fabric routes to the ENI.
  peer = nss.add("q");
  nss.ip(node, ["link", "set", "vpc1x0", "netns", peer.name]);
  nss.ip(peer.name, ["addr", "add", "10.1.0.1/16", "dev", "vpc1x0"]);
  nss.ip(peer.name, ["link", "set", "vpc1x0", "up"]);
  nss.exec(node, ["sysctl", "-qw", "net.ipv4.conf.c1eth0.proxy_arp=1"]);
}, 120_000);
gate.afterAll(async () => {
  await h?.stop();
  nss.cleanup();
});

const ANNOTATED = { runtimeConfig: { "io.kubernetes.cri.pod-annotations": { "k8s.amazonaws.com/nicConfig": "multi-nic-attachment" } } };
const env = (command: string, netns: string, id: string) => ({ CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: "eth0", CNI_ARGS: `K8S_POD_NAMESPACE=ml;K8S_POD_NAME=${id}` });
const lines = (text: string) => text.split("\n").map((l) => l.trim()).filter(Boolean);

gate.test("multi-homed pod: ADD wires an interface per card (kernel state as upstream), each reaches its peer; CHECK sees a missing rule; DEL removes everything", async () => {
  const netns = h.netns();
  const pod = h.netnsName(netns);
  const node = h.node!.name;
  const add = await h.exec(env("ADD", netns, "trainer"), h.conf("1.0.0", ANNOTATED));
  expect(add.stderr).toBe("");
  expect(add.code).toBe(0);
  const host0 = hostVethName("eni", { namespace: "ml", name: "trainer", containerId: "trainer", ifName: "eth0" });
  const host1 = hostVethName("eni", { namespace: "ml", name: "trainer.1", containerId: "trainer", ifName: "mNicIf1" });
  expect(add.json.interfaces.map((i: { name: string }) => i.name)).toEqual([host0, "eth0", host1, "mNicIf1"]);
  expect(add.json.ips).toEqual([
    { address: "10.0.1.1/32", gateway: "169.254.1.1", interface: 1 },
    { address: "10.1.0.5/32", gateway: "169.254.1.2", interface: 3 },
  ]);

  // In the pod: eth0 routes through main, mNicIf1 through table 1 chosen by its source address.
  expect(nss.ip(pod, ["-4", "-o", "addr", "show", "dev", "mNicIf1"])).toContain("10.1.0.5/32");
  expect(lines(nss.ip(pod, ["-4", "route", "show", "table", "1"]))).toEqual(["default via 169.254.1.2 dev mNicIf1", "169.254.1.2 dev mNicIf1 scope link"]);
  expect(lines(nss.ip(pod, ["-4", "rule", "show", "pref", "1"]))).toEqual(["1:\tfrom 10.1.0.5 lookup 1"]);
  expect(lines(nss.ip(pod, ["-4", "route", "show"]))).toEqual(["default via 169.254.1.1 dev eth0", "169.254.1.1 dev eth0 scope link"]);
  // On the node: each address to its host veth, card 1's traffic out through the ENI's table 10100.
  expect(nss.ip(node, ["-4", "route", "show", "10.1.0.5"])).toContain(`dev ${host1} scope link`);
  const rules = nss.ip(node, ["-4", "rule", "show"]);
  expect(rules).toContain("512:\tfrom all to 10.1.0.5 lookup main");
  expect(rules).toContain("1536:\tfrom 10.1.0.5 lookup 10100");
  expect(rules).toContain("512:\tfrom all to 10.0.1.1 lookup main");

  // Traffic: over mNicIf1 to the peer behind card 1's ENI; over eth0 to the node's own address.
  // Counted on the host veths: the card-1 echo must cross host1, not host0.
  const rx = (dev: string): number => JSON.parse(nss.ip(node, ["-j", "-s", "link", "show", "dev", dev]))[0].stats64.rx.packets;
  const before = { host0: rx(host0), host1: rx(host1) };
  expect(nss.exec(pod, ["ping", "-c", "6", "-i", "0.05", "-W", "2", "-I", "10.1.0.5", "10.1.0.1"], true).code).toBe(0);
  // (a fresh link's own IPv6 chatter may cross either veth; six echoes cannot hide in it)
  expect(rx(host1) - before.host1).toBeGreaterThanOrEqual(6);
  expect(rx(host0) - before.host0).toBeLessThan(6);
  expect(nss.exec(pod, ["ping", "-c", "1", "-W", "2", "-I", "10.0.1.1", "10.0.0.10"], true).code).toBe(0);
  expect(rx(host0) - before.host0).toBeGreaterThanOrEqual(1);

  const check = await h.exec(env("CHECK", netns, "trainer"), h.conf("1.0.0", { ...ANNOTATED, prevResult: add.json }));
  expect(check.code).toBe(0);
  nss.ip(pod, ["rule", "del", "pref", "1", "from", "10.1.0.5", "lookup", "1"]);
  const broken = await h.exec(env("CHECK", netns, "trainer"), h.conf("1.0.0", { ...ANNOTATED, prevResult: add.json }));
  expect(broken.code).not.toBe(0);
  expect(broken.json.msg).toContain("pod rule priority 1 from 10.1.0.5/32 lookup 1 is missing");

  const del = await h.exec(env("DEL", netns, "trainer"), h.conf("1.0.0", { ...ANNOTATED, prevResult: add.json }));
  expect(del.code).toBe(0);
  const after = nss.ip(node, ["-4", "rule", "show"]);
  expect(after).not.toContain("10.1.0.5");
  expect(after).not.toContain("10.0.1.1");
  expect(nss.ip(node, ["-4", "route", "show", "10.1.0.5"])).toBe("");
  const links = nss.ip(node, ["-o", "link", "show"]);
  expect(links).not.toContain(host0);
  expect(links).not.toContain(host1);
  const card1 = JSON.parse(await Bun.file(join(h.dir, "ipam-nic-1.json")).text());
  expect(card1.allocations).toEqual([]);
  h.dropNetns(netns);
});

gate.test("an ordinary pod beside it gets one interface and nothing on card 1", async () => {
  const netns = h.netns();
  const add = await h.exec(env("ADD", netns, "web"), h.conf("1.0.0"));
  expect(add.code).toBe(0);
  expect(add.json.interfaces).toHaveLength(2);
  expect(nss.ip(h.netnsName(netns), ["-o", "link", "show"])).not.toContain("mNicIf1");
  expect((await h.exec(env("DEL", netns, "web"), h.conf("1.0.0"))).code).toBe(0);
  h.dropNetns(netns);
});

gate.test("DEL while addr-broker is down: the shim tears down every interface from prevResult; the restarted addr-broker releases both cards' addresses", async () => {
  const netns = h.netns();
  const node = h.node!.name;
  const add = await h.exec(env("ADD", netns, "offline"), h.conf("1.0.0", ANNOTATED));
  expect(add.code).toBe(0);
  const [card0, card1] = add.json.ips.map((x: { address: string }) => x.address.split("/")[0]);
  await h.killBroker("SIGKILL");
  const del = await h.exec(env("DEL", netns, "offline"), h.conf("1.0.0", { ...ANNOTATED, prevResult: add.json }));
  expect(del.code).toBe(0);
  const rules = nss.ip(node, ["-4", "rule", "show"]);
  expect(rules).not.toContain(card0);
  expect(rules).not.toContain(card1);
  expect(nss.ip(h.netnsName(netns), ["-o", "link", "show"])).not.toContain("mNicIf1");
  await h.startBroker();
  const card1File = JSON.parse(await Bun.file(join(h.dir, "ipam-nic-1.json")).text());
  expect(card1File.allocations).toEqual([]);
  expect((await h.readCheckpoint()).allocations.map((a) => a.ipv4)).not.toContain(card0);
  h.dropNetns(netns);
});
