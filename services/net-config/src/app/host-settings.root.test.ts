/**
 * Host settings upstream applies whatever the switches say, in real namespaces (root):
 * AWS_VPC_ENI_MTU on the primary ENI, rp_filter loose on the primary interface (the
 * deprecated AWS_VPC_K8S_CNI_CONFIGURE_RPFILTER changes nothing), and the iptables mode
 * detected as kube-proxy's iptables-wrapper does (ENABLE_NFTABLES is gone from the choice).
 */
import { expect, test } from "bun:test";
import { Iptables } from "../adapters/iptables.ts";
import { DEFAULT_SETTINGS, type NetConfigSettings } from "../core/settings.ts";
import { nodeFixture, PRIMARY_MAC } from "../../test-support/node-fixture.ts";
import { NAMESPACES, requires } from "../../../../tests/support/prerequisites.ts";

const gate = requires(...NAMESPACES, "iptables", "nft", "nsenter");
const fixture = nodeFixture();
const nss = fixture.nss;
const HOST = { vpcCidrs: ["10.0.0.0/16"], primaryIp: "10.0.0.5", primaryMac: PRIMARY_MAC };

/** The node with eth0 at MTU 1500 and a strict rp_filter, as a fresh host has them. */
function nodeNs(): { name: string; path: string } {
  const n = fixture.nodeNs(1500);
  nss.exec(n.name, ["sysctl", "-qw", "net.ipv4.conf.eth0.rp_filter=1"]);
  return n;
}

const host = (node: { path: string }, settings: NetConfigSettings) => fixture.services(node, settings);

const mtu = (ns: string) => /mtu (\d+)/.exec(nss.ip(ns, ["link", "show", "eth0"]))?.[1];
const rpFilter = (ns: string) => nss.exec(ns, ["sysctl", "-n", "net.ipv4.conf.eth0.rp_filter"]).out.trim();

gate.describe("host settings (root)", () => {
  test("AWS_VPC_ENI_MTU is set on the primary ENI, and follows a change", async () => {
    const node = nodeNs();
    const { host: h, s } = host(node, { ...DEFAULT_SETTINGS, eniMtu: 9001 });
    expect(mtu(node.name)).toBe("1500");
    expect((await h.setupHost(HOST)).changed).toContain("link eth0");
    expect(mtu(node.name)).toBe("9001");
    expect((await h.setupHost(HOST)).changed).toEqual([]);
    s.current = { ...s.current, eniMtu: 1400 };
    await h.setupHost(HOST);
    expect(mtu(node.name)).toBe("1400");
  });

  const rpCases: Array<[string, Partial<NetConfigSettings>]> = [
    ["defaults", {}],
    ["no node-port support and external SNAT", { nodePortSupport: false, externalSnat: true }],
    ["IPv6", { ipv6: true }],
  ];
  for (const [name, extra] of rpCases) {
    test(`rp_filter is loose on the primary interface: ${name}`, async () => {
      const node = nodeNs();
      const { host: h } = host(node, { ...DEFAULT_SETTINGS, ...extra });
      expect(rpFilter(node.name)).toBe("1");
      await h.setupHost(HOST);
      expect(rpFilter(node.name)).toBe("2");
    });
  }

  test("the iptables mode: kubelet's hint chain decides over rule counts; else the counts", async () => {
    const node = nss.add("d");
    const ns = { path: node.path };
    const ipt = (bin: string, ...a: string[]) => nss.exec(node.name, [bin, ...a]);
    expect(await Iptables.detect(ns)).toBe("nft");
    for (let i = 0; i < 3; i++) ipt("iptables-legacy", "-A", "INPUT", "-s", `10.9.0.${i}`, "-j", "ACCEPT");
    expect(await Iptables.detect(ns)).toBe("legacy");
    ipt("iptables-nft", "-t", "mangle", "-N", "KUBE-IPTABLES-HINT");
    expect(await Iptables.detect(ns)).toBe("nft");
    ipt("iptables-nft", "-t", "mangle", "-X", "KUBE-IPTABLES-HINT");
    for (let i = 0; i < 5; i++) ipt("iptables-nft", "-A", "INPUT", "-s", `10.8.0.${i}`, "-j", "ACCEPT");
    expect(await Iptables.detect(ns)).toBe("nft");
    ipt("iptables-legacy", "-t", "mangle", "-N", "KUBE-KUBELET-CANARY");
    expect(await Iptables.detect(ns)).toBe("legacy");
  });
});
