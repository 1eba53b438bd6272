/**
 * The Kubernetes manifests: accepted by kubectl's server-side dry run against the simulated
 * API, every container's environment is a valid configuration, and the init container's
 * install plan writes the shim, the chained plugins and the conflist.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../shared/config/index.ts";
import { installAtomically, planInstall } from "../../deploy/k8s/install-cni.ts";
import { serveKube, writeKubeconfig } from "../../deploy/local/sim-kube/serve.ts";
import { requires } from "../support/prerequisites.ts";

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

  test("the init container's plan installs the shim, the chain and the conflist atomically", () => {
    const dir = mkdtempSync(join(tmpdir(), "install-cni-"));
    try {
      const plugins = join(dir, "plugins");
      mkdirSync(plugins);
      for (const p of ["portmap", "loopback", "host-local", "bandwidth"]) writeFileSync(join(plugins, p), `#!/bin/sh\necho ${p}\n`);
      writeFileSync(join(dir, "shim"), "#!/bin/sh\necho shim\n");
      const { config } = loadConfig({ HOST_CNI_BIN_PATH: join(dir, "bin"), HOST_CNI_CONFDIR_PATH: join(dir, "net.d"), ENABLE_BANDWIDTH_PLUGIN: "true", POD_MTU: "1500" });
      const plan = planInstall(config, { pluginsDir: plugins, shim: join(dir, "shim") });
      plan.files.forEach(installAtomically);
      expect(statSync(join(dir, "bin/aws-cni")).mode & 0o777).toBe(0o755);
      expect(readFileSync(join(dir, "bin/bandwidth"), "utf8")).toContain("bandwidth");
      const conflist = JSON.parse(readFileSync(join(dir, "net.d/10-aws.conflist"), "utf8"));
      expect(conflist.plugins.map((p: { type: string }) => p.type)).toEqual(["aws-cni", "portmap", "bandwidth"]);
      expect(conflist.plugins[0].mtu).toBe("1500");
      expect(plan.sysctls).toContainEqual({ key: "net/ipv4/tcp_early_demux", value: "1" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("kubectl server-side dry run against the simulated API", () => {
  const kubectl = requires("kubectl");
  let kube: Awaited<ReturnType<typeof serveKube>> | undefined;
  let dir = "";
  kubectl.beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "manifests-"));
    kube = await serveKube({ hostname: "127.0.0.1", port: 0 });
    writeKubeconfig(join(dir, "kubeconfig"), kube.url);
  });
  afterAll(async () => {
    await kube?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  kubectl.test("every manifest is accepted and nothing is stored", async () => {
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
