/**
 * The connmark rules in nftables (iptables in nf_tables mode), in real namespaces: the table
 * as upstream's, repaired after hand edits, gone under external SNAT, legacy iptables connmark
 * rules removed; and a pod on a secondary ENI whose traffic to the outside follows the mark out
 * of the primary ENI (without the table it leaves by the secondary ENI, where nothing answers).
 */
import { expect, test } from "bun:test";
import { Registry } from "../../../../shared/metrics/index.ts";
import { Nft } from "../adapters/nft.ts";
import { ConnmarkService, connmarkMetrics } from "./connmark-service.ts";
import { DEFAULT_SETTINGS } from "../core/settings.ts";
import { listedRules, parseNftTable } from "../core/nft-connmark.ts";
import { run } from "../../test-support/namespaces.ts";
import { nodeFixture, PRIMARY_MAC } from "../../test-support/node-fixture.ts";
import { NAMESPACES, requires } from "../../../../tests/support/prerequisites.ts";

const gate = requires(...NAMESPACES, "iptables", "nft", "nsenter", "ping");
const { nss, nodeNs, services } = nodeFixture();
const VPC = ["10.0.0.0/16", "100.64.0.0/16"];
const HOST = { vpcCidrs: VPC, primaryIp: "10.0.0.5", primaryMac: PRIMARY_MAC };

const nft = (ns: string, ...args: string[]) => nss.exec(ns, ["nft", ...args]);
const table = (ns: string) => {
  const r = nss.exec(ns, ["nft", "list", "table", "ip", "aws-cni"], true);
  return r.code === 0 ? parseNftTable(r.out) : undefined;
};
const natSave = (ns: string) => run(["ip", "netns", "exec", ns, "iptables-nft-save", "-t", "nat"]).out;

gate.describe("connmark in nftables (root)", () => {
  test("the table upstream writes, with its bytecode; no connmark rules in the nat table", async () => {
    const node = nodeNs();
    const settings = { ...DEFAULT_SETTINGS, excludeSnatCidrs: ["192.168.7.7/32"] };
    const { host } = services(node, settings);
    await host.setupHost(HOST);
    const want = listedRules({ vethPrefix: "eni", mark: 0x80, exemptCidrs: [...VPC, "192.168.7.7/32"] });
    const seen = table(node.name);
    expect(seen?.chains["nat-prerouting"]).toEqual({ header: "type nat hook prerouting priority dstnat + 10; policy accept;", rules: want.base });
    expect(seen?.chains["snat-mark"]).toEqual({ rules: want.mark });
    // Every CIDR match is upstream's: a 4-byte load of the destination, a mask, a compare.
    const bytecode = nss.exec(node.name, ["nft", "--debug=netlink", "list", "chain", "ip", "aws-cni", "snat-mark"]).out;
    expect(bytecode).toContain("[ bitwise reg 1 = ( reg 1 & 0x0000ffff ) ^ 0x00000000 ]");
    expect(bytecode).toContain("[ bitwise reg 1 = ( reg 1 & 0xffffffff ) ^ 0x00000000 ]");
    expect(bytecode).not.toContain("payload load 2b");
    const nat = natSave(node.name);
    expect(nat).toContain(":AWS-SNAT-CHAIN-0");
    expect(nat).not.toContain("AWS-CONNMARK-CHAIN-0");
    expect(nat).not.toContain("AWS, outbound connections");
    expect((await host.setupHost(HOST)).changed).toEqual([]);
  });

  test("hand edits are repaired: a rule deleted, a rogue rule, the base chain's priority, a CIDR gone", async () => {
    const node = nodeNs();
    const { host } = services(node, DEFAULT_SETTINGS);
    await host.setupHost(HOST);
    const want = table(node.name);
    const handles = nft(node.name, "-a", "list", "chain", "ip", "aws-cni", "snat-mark").out;
    const cidrHandle = /ip daddr 10\.0\.0\.0\/16 return # handle (\d+)/.exec(handles)?.[1];
    expect(cidrHandle).toBeDefined();
    nft(node.name, "delete", "rule", "ip", "aws-cni", "snat-mark", "handle", cidrHandle!);
    nft(node.name, "add", "rule", "ip", "aws-cni", "snat-mark", "ip", "daddr", "8.8.8.8", "return");
    nft(node.name, "flush", "chain", "ip", "aws-cni", "nat-prerouting");
    nft(node.name, "delete", "chain", "ip", "aws-cni", "nat-prerouting");
    nft(node.name, "add", "chain", "ip", "aws-cni", "nat-prerouting", "{ type nat hook prerouting priority -100; policy accept; }");
    expect(table(node.name)).not.toEqual(want);
    const repaired = await host.setupHost(HOST);
    expect(repaired.changed).toContain("nft chain snat-mark refilled");
    expect(repaired.changed.some((c) => c.startsWith("nft chain nat-prerouting re-created"))).toBe(true);
    expect(table(node.name)).toEqual(want);
    // snat-mark turned into a base chain by hand (deleted and re-added with a hook).
    nft(node.name, "flush", "chain", "ip", "aws-cni", "nat-prerouting");
    nft(node.name, "flush", "chain", "ip", "aws-cni", "snat-mark");
    nft(node.name, "delete", "chain", "ip", "aws-cni", "snat-mark");
    nft(node.name, "add", "chain", "ip", "aws-cni", "snat-mark", "{ type filter hook prerouting priority 0; policy accept; }");
    expect((await host.setupHost(HOST)).changed.some((c) => c.startsWith("nft chain snat-mark re-created"))).toBe(true);
    expect(table(node.name)).toEqual(want);
    // The whole table deleted by hand comes back too.
    nft(node.name, "delete", "table", "ip", "aws-cni");
    expect((await host.setupHost(HOST)).changed).toContain("nft table aws-cni created");
    expect(table(node.name)).toEqual(want);
  });

  test("a VPC CIDR added later is exempted; external SNAT removes the table; legacy iptables connmark rules go", async () => {
    const node = nodeNs();
    // What an iptables-backend run (or upstream before v1.23.1) left in the nat table.
    const ipt = (...a: string[]) => nss.exec(node.name, ["iptables-nft", "-t", "nat", ...a]);
    ipt("-N", "AWS-CONNMARK-CHAIN-0");
    ipt("-A", "PREROUTING", "-i", "eni+", "-m", "comment", "--comment", "AWS, outbound connections", "-j", "AWS-CONNMARK-CHAIN-0");
    ipt("-A", "PREROUTING", "-m", "comment", "--comment", "AWS, CONNMARK", "-j", "CONNMARK", "--restore-mark", "--mask", "0x80");
    const { host, s } = services(node, DEFAULT_SETTINGS);
    await host.setupHost(HOST);
    expect(natSave(node.name)).not.toContain("CONNMARK");
    await host.setupHost({ ...HOST, vpcCidrs: [...VPC, "10.9.0.0/16"] });
    expect(table(node.name)?.chains["snat-mark"]?.rules).toContain("counter ip daddr 10.9.0.0/16 return");
    s.current = { ...s.current, externalSnat: true };
    expect((await host.setupHost(HOST)).changed).toContain("nft table aws-cni removed");
    expect(table(node.name)).toBeUndefined();
  });

  test("a secondary-ENI pod reaches the outside through the primary ENI because of the mark, and loses it without", async () => {
    const node = nodeNs();
    const out1 = nss.add("o");
    const out2 = nss.add("q");
    nss.ip(node.name, ["link", "set", "ext0", "netns", out1.name]);
    nss.ip(out1.name, ["addr", "add", "10.0.0.1/24", "dev", "ext0"]);
    nss.ip(out1.name, ["addr", "add", "198.51.100.1/32", "dev", "lo"]);
    nss.ip(out1.name, ["link", "set", "ext0", "up"]);
    // The secondary ENI leads to a namespace that does not own the target: nothing answers there.
    const eni = { eniId: "eni-0abc", mac: "02:00:00:00:01:06", deviceNumber: 2, primaryIp: "10.0.4.20", subnetCidr: "10.0.4.0/24", gateway: "10.0.4.1", routeTable: 3 };
    nss.ip(node.name, ["link", "add", "ens6", "address", eni.mac, "type", "veth", "peer", "name", "ens6peer"]);
    nss.ip(node.name, ["link", "set", "ens6peer", "netns", out2.name]);
    nss.ip(out2.name, ["addr", "add", "10.0.4.1/24", "dev", "ens6peer"]);
    nss.ip(out2.name, ["link", "set", "ens6peer", "up"]);
    nss.ip(node.name, ["route", "add", "default", "via", "10.0.0.1"]);
    nss.exec(node.name, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    const { host, pods } = services(node, DEFAULT_SETTINGS);
    await host.setupEni(eni);
    await host.setupHost({ ...HOST, vpcCidrs: ["10.0.0.0/16"] });
    const p = nss.add("p");
    pods.wire({ containerId: "c1", ifName: "eth0", netns: p.path, podNamespace: "default", podName: "t", address: "10.0.4.50", routeTable: 3 });
    const ping = () => nss.exec(p.name, ["ping", "-c", "3", "-i", "0.2", "-W", "2", "198.51.100.1"], true);
    const marked = ping();
    expect(marked.out).toContain("3 received");
    // Each later packet of the connection carried the restored mark (all three answered),
    // and the chain's set-mark rule counted the connection's first packet.
    expect(nft(node.name, "list", "chain", "ip", "aws-cni", "snat-mark").out).toMatch(/counter packets [1-9]\d* bytes \d+ ct mark set/);
    nft(node.name, "delete", "table", "ip", "aws-cni");
    expect(ping().out).toContain(" 0 received");
    await host.setupHost({ ...HOST, vpcCidrs: ["10.0.0.0/16"] });
    expect(ping().out).toContain("3 received");
  }, 30_000);
});

gate.describe("connmark metrics (root)", () => {
  test("awscni_connmark_backend names the backend; awscni_connmark_reconcile_total counts each set-up by result", async () => {
    const node = nodeNs();
    const registry = new Registry();
    const service = new ConnmarkService("nftables", new Nft({ path: node.path }), connmarkMetrics(registry, "nftables"));
    const want = { vethPrefix: "eni", mark: 0x80, exemptCidrs: VPC };
    await service.setup(want);
    await service.setup(want);
    nss.remove(node.name); // the namespace is gone: the next set-up fails
    await expect(service.setup(want)).rejects.toThrow();
    const text = await registry.metrics();
    expect(text).toContain('awscni_connmark_backend{backend="nftables"} 1');
    expect(text).toContain('awscni_connmark_reconcile_total{result="success"} 2');
    expect(text).toContain('awscni_connmark_reconcile_total{result="error"} 1');
  });
});
