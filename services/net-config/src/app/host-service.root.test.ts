/**
 * ENI set-up, host rules and SNAT in real namespaces (root). A veth stands in for the ENI;
 * an "outside" namespace behind the node's primary interface sees where traffic comes from.
 */
import { expect, test } from "bun:test";
import type { IptablesBackend } from "../adapters/iptables.ts";
import { DEFAULT_SETTINGS, type NetConfigSettings } from "../core/settings.ts";
import { upstreamArgv } from "./upstream-snat-argv.test-support.ts";
import { run } from "../../test-support/namespaces.ts";
import { nodeFixture, PRIMARY_MAC } from "../../test-support/node-fixture.ts";
import { NAMESPACES, requires } from "../../../../tests/support/prerequisites.ts";

const gate = requires(...NAMESPACES, "iptables", "nsenter", "ping");
const { nss, nodeNs, services } = nodeFixture();

/** The chains and rules iptables-save shows for nat and mangle, without counters or headers. */
function saved(ns: string, backend: IptablesBackend): string[] {
  return run(["ip", "netns", "exec", ns, `iptables-${backend}-save`]).out.split("\n").filter((l) => l.startsWith("-A") || l.startsWith(":AWS") || l.startsWith("*"));
}

const eni = { eniId: "eni-0abc", mac: "02:00:00:00:01:06", deviceNumber: 2, primaryIp: "10.0.4.20", subnetCidr: "10.0.4.0/24", gateway: "10.0.4.1", routeTable: 3 };

gate.describe("ENI set-up (root)", () => {
  test("a veth standing in for the ENI gets MTU, address, table, rule; the main subnet route goes; idempotent; teardown", async () => {
    const node = nodeNs();
    nss.ip(node.name, ["link", "add", "ens6", "address", eni.mac, "type", "veth", "peer", "name", "ens6peer"]);
    nss.ip(node.name, ["addr", "add", "10.0.9.9/24", "dev", "ens6"]); // a stray global address: flushed
    const { host } = services(node, { ...DEFAULT_SETTINGS, eniMtu: 9001 });
    const first = await host.setupEni(eni);
    expect(first.ifName).toBe("ens6");
    const link = nss.ip(node.name, ["link", "show", "ens6"]);
    expect(link).toContain("mtu 9001");
    expect(link).toMatch(/<[^>]*\bUP\b/);
    const addrs = nss.ip(node.name, ["-o", "-4", "addr", "show", "dev", "ens6"]);
    expect(addrs).toContain("inet 10.0.4.20/24");
    expect(addrs).not.toContain("10.0.9.9");
    const table = nss.ip(node.name, ["route", "show", "table", "3"]);
    expect(table).toContain("default via 10.0.4.1 dev ens6");
    expect(table).toContain("10.0.4.1 dev ens6 scope link");
    expect(nss.ip(node.name, ["route", "show", "table", "main"])).not.toContain("10.0.4.0/24");
    expect(nss.ip(node.name, ["rule"])).toContain("32765:\tfrom 10.0.4.20 lookup 3");
    expect((await host.setupEni(eni)).changed).toEqual([]);
    // Drift: the table's default route removed by hand comes back.
    nss.ip(node.name, ["route", "del", "default", "table", "3"]);
    expect((await host.setupEni(eni)).changed.length).toBe(1);
    await host.teardownEni(eni);
    expect(nss.ip(node.name, ["rule"])).not.toContain("32765:\tfrom 10.0.4.20");
    expect(nss.ip(node.name, ["route", "show", "table", "3"]).trim()).toBe("");
  });

  test("a MAC that never appears is LINK_NOT_FOUND naming the field", async () => {
    const node = nodeNs();
    const { host } = services(node, DEFAULT_SETTINGS);
    const err = await host.setupEni({ ...eni, mac: "02:00:00:00:0f:0f" }).catch((e) => e);
    expect(err.code).toBe("LINK_NOT_FOUND");
    expect(err.field).toBe("mac");
  });
});

const combos: Array<[string, Partial<NetConfigSettings>]> = [
  ["defaults (prng)", {}],
  ["hashrandom", { randomizeSnat: "hashrandom" }],
  ["none", { randomizeSnat: "none" }],
  ["exclusions", { excludeSnatCidrs: ["192.168.0.0/16", "172.16.0.0/12"] }],
  ["exclusion of everything, and one that is a VPC CIDR too", { excludeSnatCidrs: ["0.0.0.0/0", "10.0.0.0/16"] }],
  ["no node-port support", { nodePortSupport: false }],
  ["external SNAT", { externalSnat: true }],
  ["external SNAT without node ports", { externalSnat: true, nodePortSupport: false }],
  ["connmark 0x4000", { connmark: 0x4000 }],
];
const VPC = ["10.0.0.0/16", "100.64.0.0/16"];

gate.describe("SNAT and connmark rules as upstream's text (root)", () => {
  for (const backend of ["nft", "legacy"] as const) {
    for (const [name, extra] of combos) {
      test(`${backend}: ${name}`, async () => {
        const settings = { ...DEFAULT_SETTINGS, ...extra };
        const ours = nodeNs();
        const theirs = nodeNs();
        const { host } = services(ours, settings, backend);
        await host.setupHost({ vpcCidrs: VPC, primaryIp: "10.0.0.5", primaryMac: PRIMARY_MAC });
        for (const argv of upstreamArgv(settings, { vpcCidrs: VPC, primaryIp: "10.0.0.5", primaryIf: "eth0", randomFullySupported: true, connmarkBackend: backend === "nft" ? "nftables" : "iptables" })) {
          run(["ip", "netns", "exec", theirs.name, `iptables-${backend}`, ...argv]);
        }
        expect(saved(ours.name, backend)).toEqual(saved(theirs.name, backend));
        // What iptables-save reads back is what was planned: a second set-up changes nothing.
        expect((await host.setupHost({ vpcCidrs: VPC, primaryIp: "10.0.0.5", primaryMac: PRIMARY_MAC })).changed).toEqual([]);
        const rules = nss.ip(ours.name, ["rule"]);
        if (settings.nodePortSupport || !settings.externalSnat) expect(rules).toContain(`1024:\tfrom all fwmark ${"0x" + settings.connmark.toString(16)}/${"0x" + settings.connmark.toString(16)} lookup main`);
        else expect(rules).not.toContain("1024:");
      });
    }
  }

  test("others' rules are kept, re-applying changes nothing, switching EXTERNALSNAT on removes ours and stale chains", async () => {
    const node = nodeNs();
    const ns = node.name;
    run(["ip", "netns", "exec", ns, "iptables-nft", "-t", "nat", "-N", "KUBE-POSTROUTING"]);
    run(["ip", "netns", "exec", ns, "iptables-nft", "-t", "nat", "-A", "POSTROUTING", "-m", "comment", "--comment", "kubernetes postrouting rules", "-j", "KUBE-POSTROUTING"]);
    run(["ip", "netns", "exec", ns, "iptables-nft", "-t", "nat", "-N", "AWS-SNAT-CHAIN-1"]); // from an old upstream version
    const { host, s } = services(node, { ...DEFAULT_SETTINGS, externalServiceCidrs: ["172.20.0.0/16"] });
    const h = { vpcCidrs: VPC, primaryIp: "10.0.0.5", primaryMac: PRIMARY_MAC };
    const first = await host.setupHost(h);
    expect(first.changed).toContain("nat/AWS-SNAT-CHAIN-1 removed");
    expect(nss.ip(ns, ["rule"])).toContain("1535:\tfrom all to 172.20.0.0/16 lookup main");
    expect(nss.exec(ns, ["sysctl", "-n", "net.ipv4.conf.eth0.rp_filter"]).out.trim()).toBe("2");
    const before = saved(ns, "nft");
    expect(before).toContain(":AWS-SNAT-CHAIN-0 - [0:0]");
    expect(before).not.toContain(":AWS-SNAT-CHAIN-1 - [0:0]");
    expect(before).toContain('-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING');
    expect((await host.setupHost(h)).changed).toEqual([]);
    expect(saved(ns, "nft")).toEqual(before);
    s.current = { ...s.current, externalSnat: true, nodePortSupport: false, externalServiceCidrs: [] };
    await host.setupHost(h);
    const after = saved(ns, "nft");
    expect(after.filter((l) => l.includes("AWS"))).toEqual([]);
    expect(after).toContain('-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING');
    expect(nss.ip(ns, ["rule"])).not.toMatch(/^(1024|1535):/m);
  });
});

gate.describe("traffic to the outside (root)", () => {
  const cases: Array<[string, Partial<NetConfigSettings>, string, string]> = [
    ["SNAT to the node's primary IP", {}, "198.51.100.1", "10.0.0.5"],
    ["EXTERNALSNAT keeps the pod IP", { externalSnat: true }, "198.51.100.1", "10.0.1.20"],
    ["an excluded CIDR keeps the pod IP", { excludeSnatCidrs: ["198.51.100.0/24"] }, "198.51.100.1", "10.0.1.20"],
  ];
  for (const [name, extra, target, expectedSource] of cases) {
    test(name, async () => {
      const node = nodeNs();
      const out = nss.add("o");
      // The node's eth0 peer becomes the outside's interface.
      nss.ip(node.name, ["link", "set", "ext0", "netns", out.name]);
      nss.ip(out.name, ["addr", "add", "10.0.0.1/24", "dev", "ext0"]);
      nss.ip(out.name, ["addr", "add", "198.51.100.1/32", "dev", "lo"]);
      nss.ip(out.name, ["link", "set", "ext0", "up"]);
      nss.ip(out.name, ["route", "add", "10.0.1.0/24", "via", "10.0.0.5"]);
      nss.ip(node.name, ["route", "add", "default", "via", "10.0.0.1"]);
      nss.exec(node.name, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
      for (const src of ["10.0.0.5", "10.0.1.20"]) nss.exec(out.name, ["iptables-nft", "-A", "INPUT", "-p", "icmp", "-s", src, "-j", "ACCEPT"]);
      const { host, pods } = services(node, { ...DEFAULT_SETTINGS, ...extra });
      await host.setupHost({ vpcCidrs: ["10.0.0.0/16"], primaryIp: "10.0.0.5", primaryMac: PRIMARY_MAC });
      const p = nss.add("p");
      pods.wire({ containerId: "c1", ifName: "eth0", netns: p.path, podNamespace: "default", podName: "t", address: "10.0.1.20", routeTable: 254 });
      expect(nss.ping(p.name, target)).toBe(true);
      const counters = nss.exec(out.name, ["iptables-nft", "-nvxL", "INPUT"]).out;
      const hits = (src: string) => Number(counters.split("\n").find((l) => l.includes(` ${src} `))?.trim().split(/\s+/)[0] ?? -1);
      expect(hits(expectedSource)).toBeGreaterThan(0);
      expect(hits(expectedSource === "10.0.0.5" ? "10.0.1.20" : "10.0.0.5")).toBe(0);
    });
  }
});
