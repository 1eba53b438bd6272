import { describe, expect, test } from "bun:test";
import { loadConfig } from "./config/index.ts";
import { egressChainName, egressComment } from "./egress.ts";
import { egressConflistFromConfig, renderConflist } from "./conflist.ts";

const base = { vethPrefix: "eni", mtu: 9001, podSgEnforcingMode: "strict", pluginLogFile: "/var/log/aws-routed-eni/plugin.log", pluginLogLevel: "DEBUG", bandwidth: false, disablePodV6: false };

test("default chain: aws-cni then portmap with snat", () => {
  const c = renderConflist(base) as { name: string; cniVersion: string; plugins: Array<Record<string, unknown>> };
  expect(c.name).toBe("aws-cni");
  expect(c.cniVersion).toBe("1.0.0");
  expect(c.plugins.map((p) => p.type)).toEqual(["aws-cni", "portmap"]);
  expect(c.plugins[0]).toMatchObject({ name: "aws-cni", vethPrefix: "eni", mtu: "9001" });
  expect(c.plugins[1]).toMatchObject({ snat: true, capabilities: { portMappings: true } });
});

test("bandwidth and tuning join the chain when their settings ask", () => {
  const c = renderConflist({ ...base, bandwidth: true, disablePodV6: true, runDir: "/run/x" }) as { plugins: Array<Record<string, unknown>> };
  expect(c.plugins.map((p) => p.type)).toEqual(["aws-cni", "portmap", "bandwidth", "tuning"]);
  expect(c.plugins[0]!.runDir).toBe("/run/x");
});

describe("egress-cni", () => {
  const egressOf = (env: Record<string, string>, ips: { ipv4?: string; ipv6?: string }) => egressConflistFromConfig(loadConfig(env).config, ips);
  const v6Mode = { ENABLE_IPv6: "true", ENABLE_IPv4: "false", ENABLE_PREFIX_DELEGATION: "true" };

  test("IPv6 mode: chained after aws-cni with upstream's keys, SNAT to the node's IPv4 address", () => {
    const r = egressOf({ ...v6Mode, AWS_VPC_K8S_PLUGIN_LOG_FILE: "/var/log/aws-routed-eni/plugin.log" }, { ipv4: "10.0.0.5" });
    expect(r.error).toBeUndefined();
    const c = renderConflist({ ...base, egress: r.egress! }) as { plugins: Array<Record<string, unknown>> };
    expect(c.plugins.map((p) => p.type)).toEqual(["aws-cni", "egress-cni", "portmap"]);
    expect(c.plugins[1]).toEqual({
      name: "egress-cni",
      type: "egress-cni",
      mtu: "9001",
      enabled: "true",
      randomizeSNAT: "prng",
      nodeIP: "10.0.0.5",
      ipam: { type: "host-local", ranges: [[{ subnet: "169.254.172.0/22" }]], routes: [{ dst: "0.0.0.0/0" }], dataDir: "/run/cni/v6pd/egress-v4-ipam" },
      pluginLogFile: "/var/log/aws-routed-eni/egress-v4-plugin.log",
      pluginLogLevel: "DEBUG",
    });
  });

  test("with bandwidth and tuning the order is aws-cni, egress-cni, portmap, bandwidth, tuning; runDir reaches the shim", () => {
    const r = egressOf(v6Mode, { ipv4: "10.0.0.5" });
    const c = renderConflist({ ...base, bandwidth: true, disablePodV6: true, runDir: "/run/n1", egress: r.egress! }) as { plugins: Array<Record<string, unknown>> };
    expect(c.plugins.map((p) => p.type)).toEqual(["aws-cni", "egress-cni", "portmap", "bandwidth", "tuning"]);
    expect(c.plugins[1]!.runDir).toBe("/run/n1");
  });

  test("ENABLE_V4_EGRESS=false, and IPv4 mode by default: left out", () => {
    expect(egressOf({ ...v6Mode, ENABLE_V4_EGRESS: "false" }, { ipv4: "10.0.0.5" })).toEqual({});
    expect(egressOf({}, { ipv4: "10.0.0.5", ipv6: "2600:1f14::5" })).toEqual({});
  });

  test("IPv4 mode, ENABLE_V6_EGRESS=true: the IPv6 range, SNAT to the node's IPv6 address", () => {
    const r = egressOf({ ENABLE_V6_EGRESS: "true", AWS_VPC_K8S_CNI_RANDOMIZESNAT: "hashrandom" }, { ipv4: "10.0.0.5", ipv6: "2600:1f14::5" });
    const entry = renderConflist({ ...base, egress: r.egress! }).plugins as Array<Record<string, unknown>>;
    expect(entry[1]).toMatchObject({ nodeIP: "2600:1f14::5", randomizeSNAT: "hashrandom", ipam: { ranges: [[{ subnet: "fd00::ac:00/118" }]], routes: [{ dst: "::/0" }], dataDir: "/run/cni/v4pd/egress-v6-ipam" } });
  });

  test("ENABLE_V6_EGRESS=true without a global IPv6 node address: left out, with an error naming the cause", () => {
    for (const ipv6 of [undefined, "fe80::1", "not-an-ip"]) {
      const r = egressOf({ ENABLE_V6_EGRESS: "true" }, { ipv4: "10.0.0.5", ...(ipv6 ? { ipv6 } : {}) });
      expect(r.egress).toBeUndefined();
      expect(r.error).toContain("ENABLE_V6_EGRESS=true");
      expect(r.error).toContain("IPv6 address");
    }
  });
});

test("egress SNAT chain and comment are named as the CNI plugins' utils name them", () => {
  // CNI-<prefix> + hex SHA-512 of network name + container id, cut at 28 characters.
  const hex = new Bun.CryptoHasher("sha512").update("aws-cniabc").digest("hex");
  expect(egressChainName("aws-cni", "abc", 4)).toBe(`CNI-E4-${hex.slice(0, 21)}`);
  expect(egressChainName("aws-cni", "abc", 6)).toHaveLength(28);
  expect(egressChainName("aws-cni", "abc", 6).startsWith("CNI-E6-")).toBe(true);
  expect(egressComment("aws-cni", "abc")).toBe('name: "aws-cni" id: "abc"');
});
