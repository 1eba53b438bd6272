import { expect, test } from "bun:test";
import { join } from "node:path";
import { nodeSettings } from "./deployment.ts";
import { REPO_ROOT } from "./node-services.ts";

test("--pod-eni turns pod ENIs on and sets the enforcing mode on every node; the operator's --env still wins; absent, nothing", () => {
  expect(nodeSettings({ podEni: "standard" })).toEqual({ ENABLE_POD_ENI: "true", POD_SECURITY_GROUP_ENFORCING_MODE: "standard" });
  expect(nodeSettings({ podEni: "strict", env: { POD_SECURITY_GROUP_ENFORCING_MODE: "standard" } })).toEqual({ ENABLE_POD_ENI: "true", POD_SECURITY_GROUP_ENFORCING_MODE: "standard" });
  expect(nodeSettings({})).toEqual({});
});

async function up(args: string[]): Promise<{ code: number; stderr: string }> {
  const p = Bun.spawn([process.execPath, "run", join(REPO_ROOT, "deploy/local/main.ts"), "up", "--dir", "/nonexistent-sge2e", ...args], { stdout: "pipe", stderr: "pipe" });
  const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  return { code, stderr };
}

test("main.ts up --pod-eni: an unknown mode, --cloud-only, --ipv6 or daemonset mode exits 2 naming the option", async () => {
  const [bad, cloudOnly, v6, ds] = await Promise.all([up(["--pod-eni", "loose"]), up(["--pod-eni", "strict", "--cloud-only"]), up(["--pod-eni", "strict", "--ipv6"]), up(["--pod-eni", "strict", "--mode", "daemonset"])]);
  expect(ds.code).toBe(2);
  expect(ds.stderr).toStartWith("error LOCAL_BAD_ARGS: --pod-eni: processes mode only");
  expect(bad.code).toBe(2);
  expect(bad.stderr).toStartWith("error LOCAL_BAD_ARGS: --pod-eni: expected strict or standard");
  expect(cloudOnly.code).toBe(2);
  expect(cloudOnly.stderr).toStartWith("error LOCAL_BAD_ARGS: --pod-eni: branch-ENI pods are wired by the nodes' services");
  expect(v6.code).toBe(2);
  expect(v6.stderr).toStartWith("error LOCAL_BAD_ARGS: --pod-eni: IPv4 nodes only");
}, 60_000);
