// egress-cni through the compiled shim installed under that name, against addr-broker and
// the real net-config (tests/cni/harness.ts, "real"). The node namespace's eth0 (10.0.0.10,
// and 2001:db8::5 for IPv6 egress) leads to an "outside" namespace (10.0.99.9, 2001:db8::9)
// that has no route back to the egress ranges: what arrives there shows whether the pod's
// egress traffic was SNATed to the node's address. The chain is driven as a runtime drives
// it: aws-cni's result is egress-cni's prevResult.
import { expect, test } from "bun:test";
import { linkSync } from "node:fs";
import { join } from "node:path";
import { egressChainName } from "../../shared/egress.ts";
import { Namespaces, run } from "../../services/net-config/test-support/namespaces.ts";
import { sourceSeenFarEnd } from "../../services/net-config/test-support/far-end.ts";
import { NAMESPACES, requires } from "../support/prerequisites.ts";
import { CniHarness } from "./harness.ts";

const gate = requires(...NAMESPACES, "iptables", "nsenter");
const nss = new Namespaces();
let h: CniHarness;
let egressBin: string;
let outside: { name: string; path: string };
let n = 0;

gate.beforeAll(async () => {
  h = new CniHarness({ netConfig: "real" });
  await h.start();
  // As the image installs it: the same binary under the plugin's name.
  egressBin = join(h.dir, "bin", "egress-cni");
  linkSync(h.shim, egressBin);
  outside = nss.add("o");
  const node = h.node!.name;
  nss.ip(node, ["link", "set", "vpc0", "netns", outside.name]);
  nss.ip(outside.name, ["addr", "add", "10.0.99.9/16", "dev", "vpc0"]);
  nss.ip(outside.name, ["addr", "add", "2001:db8::9/64", "dev", "vpc0", "nodad"]);
  nss.ip(outside.name, ["link", "set", "vpc0", "up"]);
  nss.ip(node, ["addr", "add", "2001:db8::5/64", "dev", "eth0", "nodad"]);
  nss.exec(node, ["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
}, 120_000);
gate.afterAll(async () => {
  await h?.stop();
  nss.cleanup();
});

const env = (command: string, netns: string | undefined, id: string) => ({ CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: "eth0", CNI_ARGS: `K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-${id}` });

function egressConf(family: 4 | 6, prevResult: unknown, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    cniVersion: "1.0.0",
    name: "aws-cni",
    type: "egress-cni",
    runDir: h.runDir,
    mtu: "9001",
    enabled: "true",
    randomizeSNAT: "prng",
    nodeIP: family === 6 ? "2001:db8::5" : "10.0.0.10",
    ipam: { type: "host-local", ranges: [[{ subnet: family === 6 ? "fd00::ac:00/118" : "169.254.172.0/22" }]], routes: [{ dst: family === 6 ? "::/0" : "0.0.0.0/0" }], dataDir: "/run/cni/unused" },
    pluginLogFile: join(h.dir, "egress-plugin.log"),
    pluginLogLevel: "DEBUG",
    prevResult,
    ...extra,
  });
}

/** ADD through the chain: aws-cni, then egress-cni with aws-cni's result. */
async function addChain(family: 4 | 6) {
  const id = `e${process.pid}n${++n}`;
  const netns = h.netns();
  const first = await h.exec(env("ADD", netns, id), h.conf("1.0.0"));
  expect(first.code).toBe(0);
  const egress = await h.exec(env("ADD", netns, id), egressConf(family, first.json), egressBin);
  return { id, netns, ns: h.netnsName(netns), first: first.json, egress };
}

const nodeNat = (family: 4 | 6) => run(["ip", "netns", "exec", h.node!.name, family === 4 ? "iptables-save" : "ip6tables-save", "-t", "nat"]).out;
const addrsOf = (ns: string, dev: string) => run(["ip", "-n", ns, "-o", "addr", "show", "dev", dev], true).out;

gate.describe("egress-cni through the compiled shim, against the real net-config", () => {
  test("IPv6 egress of an IPv4 pod: v6if0 from fd00::ac:00/118, SNATed to the node's IPv6 address; CHECK; restart keeps the book; DEL removes all", async () => {
    const a = await addChain(6);
    expect(a.egress.code).toBe(0);
    const r = a.egress.json;
    // The previous result passed through, the egress pair's two interfaces added.
    expect(r.ips).toEqual(a.first.ips);
    expect(r.interfaces.slice(0, a.first.interfaces.length)).toEqual(a.first.interfaces);
    const [hostIf, podIf] = r.interfaces.slice(-2);
    expect(hostIf.name).toMatch(/^veth[0-9a-f]{8}$/);
    expect(podIf).toMatchObject({ name: "v6if0", sandbox: a.netns });
    expect(addrsOf(a.ns, "v6if0")).toContain("inet6 fd00::ac:2/118");
    expect(run(["ip", "netns", "exec", a.ns, "sysctl", "-n", "net.ipv6.conf.eth0.disable_ipv6"]).out.trim()).toBe("1");
    expect(await sourceSeenFarEnd(nss, outside.name, "2001:db8::9", a.ns)).toBe("2001:db8::5");
    expect((await h.exec(env("CHECK", a.netns, a.id), egressConf(6, r), egressBin)).code).toBe(0);

    // addr-broker restarts: the book is read back, the next pod gets the next address and the first still checks.
    await h.killBroker();
    await h.startBroker();
    const b = await addChain(6);
    expect(b.egress.code).toBe(0);
    expect(addrsOf(b.ns, "v6if0")).toContain("inet6 fd00::ac:3/118");
    expect((await h.exec(env("CHECK", a.netns, a.id), egressConf(6, r), egressBin)).code).toBe(0);

    // DEL in the runtime's order (last plugin first): nothing of the egress side is left.
    for (const p of [a, b]) {
      const del = await h.exec(env("DEL", p.netns, p.id), egressConf(6, undefined), egressBin);
      expect(del.code).toBe(0);
      expect((await h.exec(env("DEL", p.netns, p.id), h.conf("1.0.0"))).code).toBe(0);
      expect(run(["ip", "-n", p.ns, "-o", "link"]).out).not.toContain("v6if0");
      expect(nodeNat(6)).not.toContain(egressChainName("aws-cni", p.id, 6));
    }
    expect(run(["ip", "-n", h.node!.name, "-6", "route"]).out).not.toContain("fd00::ac:");
    expect(run(["ip", "-n", h.node!.name, "-o", "link"]).out).not.toMatch(/ veth[0-9a-f]{8}@/);
    // DEL again: a success that finds nothing.
    expect((await h.exec(env("DEL", a.netns, a.id), egressConf(6, undefined), egressBin)).code).toBe(0);
    // CHECK of a pod without an egress address names the container.
    const gone = await h.exec(env("CHECK", a.netns, a.id), egressConf(6, r), egressBin);
    expect(gone.code).toBe(1);
    expect(gone.json.code).toBe(3);
  }, 60_000);

  test("IPv4 egress of an IPv6 pod: v4if0 from 169.254.172.0/22, SNATed to the node's IPv4 address; DEL removes all", async () => {
    const id = `e${process.pid}v4`;
    const netns = h.netns();
    const ns = h.netnsName(netns);
    // The pod's IPv6 result as aws-cni gives it in IPv6 mode (the egress plugin only passes it through).
    const prev = { cniVersion: "1.0.0", interfaces: [{ name: "eni0123456789a" }, { name: "eth0", sandbox: netns }], ips: [{ address: "2001:db8:1::7/128", interface: 1 }] };
    const add = await h.exec(env("ADD", netns, id), egressConf(4, prev), egressBin);
    expect(add.code).toBe(0);
    expect(add.json.ips).toEqual(prev.ips);
    expect(add.json.interfaces[3]).toMatchObject({ name: "v4if0", sandbox: netns });
    expect(addrsOf(ns, "v4if0")).toContain("inet 169.254.172.2/22");
    const routes = run(["ip", "-n", ns, "-4", "route"]).out;
    expect(routes).toContain("default via 169.254.172.1 dev v4if0");
    expect(routes).toContain("169.254.172.0/22 via 169.254.172.1 dev v4if0 src 169.254.172.2");
    expect(nodeNat(4)).toContain(`-j SNAT --to-source 10.0.0.10 --random-fully`);
    expect(await sourceSeenFarEnd(nss, outside.name, "10.0.99.9", ns)).toBe("10.0.0.10");
    expect((await h.exec(env("CHECK", netns, id), egressConf(4, add.json), egressBin)).code).toBe(0);
    expect((await h.exec(env("DEL", netns, id), egressConf(4, undefined), egressBin)).code).toBe(0);
    expect(run(["ip", "-n", ns, "-o", "link"]).out).not.toContain("v4if0");
    expect(run(["ip", "-n", h.node!.name, "-4", "route"]).out).not.toContain("169.254.172.2");
    expect(nodeNat(4)).not.toContain(egressChainName("aws-cni", id, 4));
  }, 60_000);

  test('"enabled": "false" passes the previous result through and makes nothing; a bad key is refused naming it', async () => {
    const id = `e${process.pid}off`;
    const netns = h.netns();
    const prev = { cniVersion: "1.0.0", interfaces: [{ name: "eth0", sandbox: netns }], ips: [{ address: "10.0.1.99/32", interface: 0 }] };
    const off = await h.exec(env("ADD", netns, id), egressConf(6, prev, { enabled: "false" }), egressBin);
    expect(off.code).toBe(0);
    expect(off.json).toEqual(prev);
    const bad = await h.exec(env("ADD", netns, id), egressConf(6, prev, { mtu: "big" }), egressBin);
    expect(bad.code).toBe(1);
    expect(bad.json.code).toBe(7);
    expect(bad.json.msg).toStartWith("mtu:");
    const unchained = await h.exec(env("ADD", netns, id), egressConf(6, undefined), egressBin);
    expect(unchained.json.msg).toContain("chained plugin");
    expect(run(["ip", "-n", h.netnsName(netns), "-o", "link"]).out).not.toContain("v6if0");
  }, 30_000);
});
