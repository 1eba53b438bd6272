import { describe, expect, test } from "bun:test";
import { CniError } from "./cni-error.ts";
import { parseCniRequest } from "./cni-request.ts";
import { parsePluginConf, parseSocketKeys } from "./plugin-conf.ts";

const base = { cniVersion: "1.0.0", name: "aws-cni", type: "aws-cni" };
const addEnv = { CNI_COMMAND: "ADD", CNI_CONTAINERID: "abc123", CNI_NETNS: "/var/run/netns/cni-1", CNI_IFNAME: "eth0" };

function refusal(extra: Record<string, unknown>, command = "ADD"): { code: number; msg: string; details: string } | undefined {
  const env = command === "ADD" ? addEnv : { ...addEnv, CNI_COMMAND: command };
  try {
    parseCniRequest(env, JSON.stringify({ ...base, ...extra }));
  } catch (e) {
    if (e instanceof CniError) return { code: e.code, msg: e.message, details: e.details };
    throw e;
  }
  return undefined;
}

describe("a key of the wrong type or form is CNI error 7 naming it", () => {
  // [config keys, the key the message must start with]
  const rows: Array<[Record<string, unknown>, string]> = [
    [{ vethPrefix: {} }, "vethPrefix"],
    [{ vethPrefix: 3 }, "vethPrefix"],
    [{ vethPrefix: "toolong" }, "vethPrefix"], // upstream: at most 4 characters
    [{ vethPrefix: "" }, "vethPrefix"],
    [{ vethPrefix: "a/b" }, "vethPrefix"],
    [{ vethPrefix: "eth" }, "vethPrefix"], // reserved, as AWS_VPC_K8S_CNI_VETHPREFIX
    [{ mtu: "x" }, "mtu"],
    [{ mtu: 9001 }, "mtu"], // upstream's NetConf has mtu as a string: a number fails its json.Unmarshal
    [{ mtu: "100" }, "mtu"], // below the IPv4 minimum (upstream silently uses 9001)
    [{ mtu: "9002" }, "mtu"],
    [{ mtu: " 1500" }, "mtu"],
    [{ brokerSocket: true }, "brokerSocket"],
    [{ brokerSocket: "relative.sock" }, "brokerSocket"],
    [{ runDir: ["/run"] }, "runDir"],
    [{ runDir: "/var/run/../etc" }, "runDir"],
    [{ pluginLogLevel: 3 }, "pluginLogLevel"],
    [{ pluginLogFile: false }, "pluginLogFile"],
    [{ podSGEnforcingMode: 1 }, "podSGEnforcingMode"],
    [{ capabilities: ["portMappings"] }, "capabilities"],
    [{ capabilities: { portMappings: "yes" } }, "capabilities.portMappings"],
    [{ ipam: "host-local" }, "ipam"],
    [{ ipam: { type: 1 } }, "ipam.type"],
    [{ dns: { nameservers: "10.0.0.2" } }, "dns.nameservers"],
    [{ dns: { domain: ["a"] } }, "dns.domain"],
    [{ runtimeConfig: "x" }, "runtimeConfig"],
    [{ runtimeConfig: { "io.kubernetes.cri.pod-annotations": { a: 1 } } }, "runtimeConfig.io.kubernetes.cri.pod-annotations.a"],
    [{ prevResult: "none" }, "prevResult"],
    [{ "cni.dev/valid-attachments": {} }, "cni.dev/valid-attachments"],
    [{ "cni.dev/valid-attachments": [{ containerID: 7, ifname: "eth0" }] }, "cni.dev/valid-attachments.0.containerID"],
    // Go matches keys case-insensitively: upstream decodes these into its fields, and fails on the type.
    [{ MTU: 1500 }, "MTU"],
    [{ VethPrefix: true }, "VethPrefix"],
  ];
  for (const [extra, key] of rows) {
    test(`${JSON.stringify(extra)} → 7 naming ${key}`, () => {
      const r = refusal(extra);
      expect(r?.code).toBe(7);
      expect(r?.msg.startsWith(`${key}: `)).toBe(true);
      expect(r?.details).toContain(key);
    });
  }
  test("every command that reads the configuration refuses it (DEL, CHECK, GC, STATUS)", () => {
    for (const command of ["DEL", "CHECK", "GC", "STATUS"]) expect(refusal({ cniVersion: "1.1.0", vethPrefix: {} }, command)?.code).toBe(7);
  });
});

describe("what upstream's plugin accepts is accepted", () => {
  test("the conflist as upstream and this project write it", () => {
    const conf = parsePluginConf({
      ...base,
      vethPrefix: "eni",
      mtu: "9001",
      podSGEnforcingMode: "strict",
      pluginLogFile: "/var/log/aws-routed-eni/plugin.log",
      pluginLogLevel: "DEBUG",
      capabilities: { "io.kubernetes.cri.pod-annotations": true },
      runtimeConfig: { "io.kubernetes.cri.pod-annotations": { "k8s.amazonaws.com/nicConfig": "x" }, portMappings: [] },
      runDir: "/var/run/aws-node",
    });
    expect(conf).toEqual({
      vethPrefix: "eni",
      mtu: 9001,
      podSgEnforcingMode: "strict",
      pluginLogFile: "/var/log/aws-routed-eni/plugin.log",
      pluginLogLevel: "DEBUG",
      podAnnotations: { "k8s.amazonaws.com/nicConfig": "x" },
      runDir: "/var/run/aws-node",
    });
  });
  test("null is Go's 'leave the default'; unknown keys are ignored", () => {
    expect(parsePluginConf({ ...base, vethPrefix: null, mtu: null, dns: null, somethingElse: { any: [1] }, args: { cni: {} } })).toEqual({});
  });
  test("any podSGEnforcingMode and pluginLogLevel string, as upstream", () => {
    expect(parsePluginConf({ podSGEnforcingMode: "whatever", pluginLogLevel: "trace" })).toEqual({ podSgEnforcingMode: "whatever", pluginLogLevel: "trace" });
  });
  test("a differently cased key is the field (Go's decoding), the last one wins", () => {
    expect(parsePluginConf({ vethPrefix: "abc", VETHPREFIX: "xyz" }).vethPrefix).toBe("xyz");
    expect(parsePluginConf({ Mtu: "1500" }).mtu).toBe(1500);
  });
  test("DNS, IPAM and valid attachments of the right shapes", () => {
    expect(() => parsePluginConf({ ipam: { type: "x" }, dns: { nameservers: ["10.0.0.2"], domain: "d", search: [], options: ["ndots:5"] }, "cni.dev/valid-attachments": [{ containerID: "a", ifname: "eth0" }] })).not.toThrow();
  });
  test("the ADD request carries the typed plugin settings", () => {
    const req = parseCniRequest(addEnv, JSON.stringify({ ...base, vethPrefix: "abc", mtu: "1500" }));
    expect(req.command === "ADD" && req.conf.plugin).toEqual({ vethPrefix: "abc", mtu: 1500 });
  });
});

describe("the shim's socket keys", () => {
  test("absolute paths are taken; their project spelling only", () => {
    expect(parseSocketKeys({ runDir: "/tmp/x", brokerSocket: "/tmp/x/b.sock", BrokerSocket: 1 })).toEqual({ runDir: "/tmp/x", brokerSocket: "/tmp/x/b.sock" });
  });
});
