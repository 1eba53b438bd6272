import { expect, test } from "bun:test";
import { renderConflist } from "./conflist.ts";

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
