/**
 * Security groups for pods, strict enforcement, on the host (root, real namespaces): as
 * upstream's SetupHostNetwork, `lookup local` moves from priority 0 to 20 so the branch pods'
 * iif rules at 10 come first (IPv6: plus ICMPv6 from fe80:ec2::1 to the local table at 0);
 * standard changes nothing; leaving strict restores nothing (upstream does not either); a
 * second set-up changes nothing.
 */
import { expect, test } from "bun:test";
import { DEFAULT_SETTINGS } from "../core/settings.ts";
import { nodeFixture, PRIMARY_MAC } from "../../test-support/node-fixture.ts";
import { NAMESPACES, requires } from "../../../../tests/support/prerequisites.ts";

const gate = requires(...NAMESPACES, "iptables", "nft", "nsenter");
const fixture = nodeFixture();
const nss = fixture.nss;
const HOST = { vpcCidrs: ["10.0.0.0/16"], primaryIp: "10.0.0.5", primaryMac: PRIMARY_MAC };

/** The rules of the local table in the namespace, as ip(8) prints them. */
function localRules(ns: string, family: "-4" | "-6"): string[] {
  return nss
    .ip(ns, [family, "rule", "show"])
    .split("\n")
    .filter((l) => /lookup local/.test(l))
    .map((l) => l.replace(/\s+/g, " ").trim());
}

gate.describe("strict security groups for pods: the local table's rule (root)", () => {
  test("IPv4 strict: lookup local at 20, none at 0; idempotent; leaving strict restores nothing", async () => {
    const node = fixture.nodeNs(9001);
    const { host, s } = fixture.services(node, { ...DEFAULT_SETTINGS, podEni: true, podSgEnforcingMode: "strict" });
    expect(localRules(node.name, "-4")).toEqual(["0: from all lookup local"]);
    await host.setupHost(HOST);
    expect(localRules(node.name, "-4")).toEqual(["20: from all lookup local"]);
    expect((await host.setupHost(HOST)).changed.filter((c) => c.includes("local"))).toEqual([]);
    s.current = { ...s.current, podSgEnforcingMode: "standard" };
    await host.setupHost(HOST);
    expect(localRules(node.name, "-4")).toEqual(["20: from all lookup local"]);
  });

  test("standard, or ENABLE_POD_ENI off: the local rule stays at 0", async () => {
    for (const extra of [{ podEni: true, podSgEnforcingMode: "standard" as const }, { podEni: false }]) {
      const node = fixture.nodeNs(9001);
      const { host } = fixture.services(node, { ...DEFAULT_SETTINGS, ...extra });
      await host.setupHost(HOST);
      expect(localRules(node.name, "-4")).toEqual(["0: from all lookup local"]);
    }
  });

  test("IPv6 strict: the IPv6 local rule at 20 and ICMPv6 from fe80:ec2::1 to local at 0", async () => {
    const node = fixture.nodeNs(9001);
    const { host } = fixture.services(node, { ...DEFAULT_SETTINGS, ipv6: true, podEni: true, podSgEnforcingMode: "strict" });
    await host.setupHost({ vpcCidrs: ["2600:1f14::/56"], primaryIp: "2600:1f14::5", primaryMac: PRIMARY_MAC });
    expect(localRules(node.name, "-6")).toEqual(["0: from fe80:ec2::1 ipproto ipv6-icmp lookup local", "20: from all lookup local"]);
    expect(localRules(node.name, "-4")).toEqual(["0: from all lookup local"]);
  });
});
