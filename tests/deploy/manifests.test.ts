/**
 * The Kubernetes manifests: accepted by kubectl's server-side dry run against the simulated
 * API, and every container's environment is a valid configuration. (What the init container
 * installs: deploy/k8s/install-cni.test.ts and tests/deploy/image.root.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../shared/config/index.ts";
import { serveKube, writeKubeconfig } from "../../deploy/local/sim-kube/serve.ts";

const K8S = join(import.meta.dir, "../../deploy/k8s");
function loadAll(path: string): unknown[] {
  const parsed = Bun.YAML.parse(readFileSync(path, "utf8"));
  return Array.isArray(parsed) ? parsed : [parsed];
}
const docs = [
  ...loadAll(join(K8S, "aws-node.yaml")),
  ...loadAll(join(K8S, "eniconfig-crd.yaml")),
] as Array<{ kind: string; metadata: { name: string }; spec?: any }>;
const daemonSet = docs.find((d) => d.kind === "DaemonSet")!;

type EnvVar = { name: string; value?: string; valueFrom?: unknown };
function envOf(c: { env: EnvVar[] }): Record<string, string> {
  return Object.fromEntries(c.env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
}

describe("deploy/k8s manifests", () => {
  test("one container per service and an init container, sharing the run dir", () => {
    const spec = daemonSet.spec.template.spec;
    expect(spec.hostNetwork).toBe(true);
    expect(spec.containers.map((c: { name: string }) => c.name)).toEqual(["pool-manager", "addr-broker", "net-config", "metrics"]);
    for (const c of spec.containers) expect(c.volumeMounts.some((m: { mountPath: string }) => m.mountPath === "/var/run/aws-node")).toBe(true);
    expect(spec.initContainers).toHaveLength(1);
  });

  test("every container's environment is a valid configuration with upstream's defaults", () => {
    const spec = daemonSet.spec.template.spec;
    for (const c of [...spec.initContainers, ...spec.containers]) {
      const env = envOf(c);
      const { config } = loadConfig(env);
      expect(config.pool.warmEniTarget).toBe(1);
      expect(config.network.vethPrefix).toBe("eni");
      expect(config.snat.randomize).toBe("prng");
      expect(config.network.eniMtu).toBe(9001);
      expect(c.env.some((e: EnvVar) => e.name === "MY_NODE_NAME" && e.valueFrom)).toBe(true);
    }
  });
});

describe("kubectl server-side dry run against the simulated API", () => {
  const haveKubectl = existsSync("/usr/bin/kubectl");
  let kube: Awaited<ReturnType<typeof serveKube>> | undefined;
  let dir = "";
  beforeAll(async () => {
    if (!haveKubectl) return;
    dir = mkdtempSync(join(tmpdir(), "manifests-"));
    kube = await serveKube({ hostname: "127.0.0.1", port: 0 });
    writeKubeconfig(join(dir, "kubeconfig"), kube.url);
  });
  afterAll(async () => {
    await kube?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test.skipIf(!haveKubectl)("every manifest is accepted and nothing is stored", async () => {
    const p = Bun.spawn(["kubectl", "--kubeconfig", join(dir, "kubeconfig"), "create", "--dry-run=server", "-f", join(K8S, "eniconfig-crd.yaml"), "-f", join(K8S, "aws-node.yaml")], { stdout: "pipe", stderr: "pipe" });
    const [code, out, err] = [await p.exited, await new Response(p.stdout).text(), await new Response(p.stderr).text()];
    expect(err).toBe("");
    expect(code).toBe(0);
    for (const name of ["serviceaccount/aws-node", "clusterrole.rbac.authorization.k8s.io/aws-node", "daemonset.apps/aws-node", "customresourcedefinition.apiextensions.k8s.io/eniconfigs.crd.k8s.amazonaws.com"]) {
      expect(out).toContain(`${name} created (server dry run)`);
    }
    expect(kube!.store.list("daemonsets.apps")).toHaveLength(0);
  });
});
