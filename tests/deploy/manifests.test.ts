/**
 * The Kubernetes manifests: accepted by kubectl's server-side dry run against the simulated
 * API, and every container's environment is a valid configuration. (What the init container
 * installs: deploy/k8s/install-cni.test.ts and tests/deploy/image.root.test.ts.)
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../shared/config/index.ts";
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
  const spec = daemonSet.spec.template.spec;
  const containers = spec.containers as Array<Record<string, any> & { env: EnvVar[] }>;
  const byName = (n: string) => containers.find((c) => c.name === n)!;

  test("the container named aws-node and one container per other service, sharing the run dir", () => {
    expect(spec.hostNetwork).toBe(true);
    expect(containers.map((c) => c.name)).toEqual(["aws-node", "addr-broker", "net-config", "metrics", "policy-agent"]);
    expect(byName("aws-node").command).toEqual(["/app/bin/service", "pool-manager"]);
    for (const c of containers) expect(c.volumeMounts.some((m: { mountPath: string }) => m.mountPath === "/var/run/aws-node")).toBe(true);
    expect(spec.initContainers).toHaveLength(1);
  });

  test("every setting is written once: on aws-node, whose environment is a valid configuration with upstream's defaults", () => {
    const env = envOf(byName("aws-node"));
    const { config } = loadConfig(env);
    expect(config.pool.warmEniTarget).toBe(1);
    expect(config.network.vethPrefix).toBe("eni");
    expect(config.snat.randomize).toBe("prng");
    expect(config.network.eniMtu).toBe(9001);
    expect(byName("aws-node").env.some((e: EnvVar) => e.name === "MY_NODE_NAME" && e.valueFrom)).toBe(true);
    expect(env.AWS_VPC_CNI_PUBLISH_SETTINGS).toBe("/run/aws-node-settings/settings.json");
    // The others read the published settings and carry only what is theirs alone.
    const containerSpecific = new Set(["AWS_VPC_CNI_SETTINGS_FROM", "AWS_VPC_K8S_CNI_LOG_FILE", "AWS_VPC_CNI_HOST_PROC"]);
    for (const c of containers.filter((x) => x.name !== "aws-node")) {
      expect(envOf(c).AWS_VPC_CNI_SETTINGS_FROM).toBe("/run/aws-node-settings/settings.json");
      expect(c.env.map((e: EnvVar) => e.name).filter((n: string) => !containerSpecific.has(n))).toEqual([]);
      expect(c.volumeMounts.some((m: { name: string; readOnly?: boolean }) => m.name === "settings" && m.readOnly)).toBe(true);
    }
    const logFiles = containers.map((c) => envOf(c).AWS_VPC_K8S_CNI_LOG_FILE);
    expect(new Set(logFiles).size).toBe(containers.length);
    expect(spec.volumes.find((v: { name: string }) => v.name === "settings").emptyDir).toBeDefined();
  });

  test("only net-config and the init container are privileged; policy-agent has NET_ADMIN alone (nftables); the others drop every capability", () => {
    for (const c of [...spec.initContainers, ...containers]) {
      const sc = c.securityContext ?? {};
      if (c.name === "net-config" || c.name === "aws-vpc-cni-init") {
        expect(sc.privileged).toBe(true);
      } else if (c.name === "policy-agent") {
        expect(sc.privileged ?? false).toBe(false);
        expect(sc.capabilities).toEqual({ drop: ["ALL"], add: ["NET_ADMIN"] });
      } else {
        expect(sc.privileged ?? false).toBe(false);
        expect(sc.capabilities).toEqual({ drop: ["ALL"] });
      }
    }
  });

  test("liveness and readiness are different checks, and no probe runs TypeScript", () => {
    for (const c of containers) {
      const service = c.command[1];
      expect(c.livenessProbe.exec.command).toEqual(["/app/bin/probe", service, "live"]);
      expect(c.readinessProbe.exec.command).toEqual(["/app/bin/probe", service, "ready"]);
      expect(JSON.stringify([c.livenessProbe, c.readinessProbe])).not.toMatch(/\.ts\b|bun run/);
    }
  });

  test("every container has resource requests; the image's architecture is pinned", () => {
    for (const c of [...spec.initContainers, ...containers]) expect(c.resources?.requests?.cpu).toBeDefined();
    for (const c of containers) expect(c.resources.requests.memory).toBeDefined();
    const terms = spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions;
    expect(terms).toContainEqual({ key: "kubernetes.io/arch", operator: "In", values: ["amd64"] });
  });

  test("RBAC is upstream's read-only rights; writes are opt-in roles for the features that need them", () => {
    const role = docs.find((d) => d.kind === "ClusterRole" && d.metadata.name === "aws-node") as unknown as { rules: Array<{ resources?: string[]; verbs: string[] }> };
    const writes = role.rules.flatMap((r) => (r.resources ?? []).flatMap((res) => r.verbs.filter((v) => !["get", "list", "watch"].includes(v)).map((v) => `${res}:${v}`)));
    expect(writes.sort()).toEqual(["cninodes:patch", "events:create", "events:patch"]);
    const annotate = loadAll(join(K8S, "optional/rbac-annotate-pod-ip.yaml")) as Array<{ kind: string; rules?: Array<{ resources: string[]; verbs: string[] }> }>;
    expect(annotate.find((d) => d.kind === "ClusterRole")!.rules).toEqual([{ apiGroups: [""], resources: ["pods"], verbs: ["patch"] }] as never);
  });
});

describe("the policy controller's manifests", () => {
  const controller = loadAll(join(K8S, "policy-controller.yaml")) as Array<{ kind: string; metadata: { name: string; namespace?: string }; spec?: any; rules?: Array<{ apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }> }>;
  const crd = loadAll(join(K8S, "policyendpoint-crd.yaml"))[0] as { metadata: { name: string }; spec: any };

  test("a Deployment of one replica in kube-system, the project's image, its entry point and upstream's flags", () => {
    const deployment = controller.find((d) => d.kind === "Deployment")!;
    expect(deployment.metadata.namespace).toBe("kube-system");
    expect(deployment.spec.replicas).toBe(1);
    const [c] = deployment.spec.template.spec.containers;
    expect(c.image).toBe(daemonSet.spec.template.spec.containers[0].image);
    expect(c.command).toEqual(["/app/bin/policy-controller"]);
    expect(c.args).toContain("--endpoint-chunk-size=200");
    expect(c.args).toContain("--enable-configmap-check=true");
    expect(c.readinessProbe.httpGet.path).toBe("/healthz");
    expect(c.securityContext.capabilities).toEqual({ drop: ["ALL"] });
    expect(deployment.spec.template.spec.serviceAccountName).toBe("policy-controller");
  });

  test("RBAC is least privilege: reads for resolution, writes only to PolicyEndpoints, the policies' finalizer and events", () => {
    const rules = [...controller.filter((d) => d.kind === "ClusterRole" || d.kind === "Role").flatMap((d) => d.rules!)];
    const rights = rules.flatMap((r) => r.resources.flatMap((res) => r.verbs.map((v) => `${res}:${v}`)));
    const writes = rights.filter((r) => !/:(get|list|watch)$/.test(r)).sort();
    expect(writes).toEqual(["events:create", "events:patch", "networkpolicies/finalizers:patch", "networkpolicies/finalizers:update", "networkpolicies:patch", "policyendpoints:create", "policyendpoints:delete", "policyendpoints:patch", "policyendpoints:update"]);
    for (const read of ["networkpolicies", "pods", "namespaces", "services", "configmaps", "policyendpoints"]) expect(rights).toContain(`${read}:watch`);
    const role = controller.find((d) => d.kind === "Role")!;
    expect(role.metadata.namespace).toBe("kube-system");
    expect(role.rules![0]!.resourceNames).toEqual(["amazon-vpc-cni"]);
    expect(rules.some((r) => r.resources.includes("*") || r.verbs.includes("*"))).toBe(false);
  });

  test("the PolicyEndpoint CRD: networking.k8s.aws/v1alpha1, namespaced, policyRef required", () => {
    expect(crd.metadata.name).toBe("policyendpoints.networking.k8s.aws");
    expect(crd.spec.scope).toBe("Namespaced");
    const version = crd.spec.versions[0];
    expect(version.name).toBe("v1alpha1");
    expect(version.schema.openAPIV3Schema.properties.spec.required).toEqual(["policyRef"]);
    expect(Object.keys(version.schema.openAPIV3Schema.properties.spec.properties).sort()).toEqual(["egress", "ingress", "podIsolation", "podSelector", "podSelectorEndpoints", "policyRef"]);
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
    const p = Bun.spawn(["kubectl", "--kubeconfig", join(dir, "kubeconfig"), "create", "--dry-run=server", "-f", join(K8S, "eniconfig-crd.yaml"), "-f", join(K8S, "aws-node.yaml"), "-f", join(K8S, "policyendpoint-crd.yaml"), "-f", join(K8S, "policy-controller.yaml")], { stdout: "pipe", stderr: "pipe" });
    const [code, out, err] = [await p.exited, await new Response(p.stdout).text(), await new Response(p.stderr).text()];
    expect(err).toBe("");
    expect(code).toBe(0);
    for (const name of ["serviceaccount/aws-node", "clusterrole.rbac.authorization.k8s.io/aws-node", "daemonset.apps/aws-node", "customresourcedefinition.apiextensions.k8s.io/eniconfigs.crd.k8s.amazonaws.com", "customresourcedefinition.apiextensions.k8s.io/policyendpoints.networking.k8s.aws", "deployment.apps/policy-controller", "clusterrole.rbac.authorization.k8s.io/policy-controller", "role.rbac.authorization.k8s.io/policy-controller"]) {
      expect(out).toContain(`${name} created (server dry run)`);
    }
    expect(kube!.store.list("daemonsets.apps")).toHaveLength(0);
  });
});
