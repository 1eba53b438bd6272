import { expect, test } from "bun:test";
import { join } from "node:path";
import { AWS_NODE_MANIFEST, ENFORCE_FLAG, loadManifest, localAwsNode } from "./aws-node-daemonset.ts";
import { nodeSettings } from "./deployment.ts";
import { REPO_ROOT } from "./node-services.ts";

test("--network-policy sets the enforcing mode on every node; the operator's --env still wins", () => {
  expect(nodeSettings({ networkPolicy: "strict" })).toEqual({ NETWORK_POLICY_ENFORCING_MODE: "strict" });
  expect(nodeSettings({ networkPolicy: "standard", env: { NETWORK_POLICY_ENFORCING_MODE: "strict" } })).toEqual({ NETWORK_POLICY_ENFORCING_MODE: "strict" });
  expect(nodeSettings({})).toEqual({});
});

test("daemonset mode: the policy-agent container's flag turns true only when enforcing", () => {
  const docs = loadManifest(AWS_NODE_MANIFEST);
  const agentArgs = (enforce: boolean) => {
    const ds = localAwsNode(docs, { image: "i", ec2Endpoint: "http://e", kubeEndpoint: "http://k", enforce }).find((d) => d.kind === "DaemonSet")!;
    return (ds.spec!.template.spec.containers as Array<{ name: string; args?: string[] }>).find((c) => c.name === "policy-agent")!.args!.filter((a) => a.startsWith("--enable-network-policy="));
  };
  expect(agentArgs(true)).toEqual([ENFORCE_FLAG]);
  expect(agentArgs(false)).toEqual(["--enable-network-policy=false"]);
});

test("main.ts up --network-policy: an unknown mode exits 2 naming the option", async () => {
  const p = Bun.spawn([process.execPath, "run", join(REPO_ROOT, "deploy/local/main.ts"), "up", "--dir", "/nonexistent-npe2e", "--network-policy", "loose"], { stdout: "pipe", stderr: "pipe" });
  const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  expect(code).toBe(2);
  expect(stderr).toStartWith("error LOCAL_BAD_ARGS: --network-policy: expected standard or strict");
});
