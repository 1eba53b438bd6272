import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AWS_NODE_MANIFEST, ENFORCE_FLAG, loadManifest, localAwsNode, setEnvLocal } from "./aws-node-daemonset.ts";
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

test("daemonset mode: --env pairs the manifest already has (up --network-policy standard) still leave a DaemonSet to apply", async () => {
  const dir = mkdtempSync(join(tmpdir(), "np-set-env-"));
  try {
    const file = join(dir, "ds.json");
    const ds = localAwsNode(loadManifest(AWS_NODE_MANIFEST), { image: "i", ec2Endpoint: "http://e", kubeEndpoint: "http://k" }).find((d) => d.kind === "DaemonSet")!;
    writeFileSync(file, JSON.stringify(ds));
    const envOf = (path: string) => {
      const d = JSON.parse(readFileSync(path, "utf8")) as { kind: string; spec: { template: { spec: { containers: Array<{ name: string; env?: Array<{ name: string; value?: string }> }> } } } };
      expect(d.kind).toBe("DaemonSet");
      return Object.fromEntries(d.spec.template.spec.containers.find((c) => c.name === "aws-node")!.env!.map((e) => [e.name, e.value]));
    };
    // kubectl set env prints nothing when nothing changes: the DaemonSet was missing from the apply (GET daemonset aws-node: HTTP 404)
    const same = await setEnvLocal(file, { NETWORK_POLICY_ENFORCING_MODE: "standard" }, join(dir, "same.json"));
    expect(envOf(same).NETWORK_POLICY_ENFORCING_MODE).toBe("standard");
    const changed = await setEnvLocal(file, { NETWORK_POLICY_ENFORCING_MODE: "strict" }, join(dir, "changed.json"));
    expect(changed).toBe(join(dir, "changed.json"));
    expect(envOf(changed).NETWORK_POLICY_ENFORCING_MODE).toBe("strict");
    await expect(setEnvLocal(file, { "BAD NAME": "x" }, join(dir, "bad.json"))).rejects.toThrow("--env: \"BAD NAME\" is not a variable name");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
