// The simulated Kubernetes API driven by the real kubectl binary (spawned with argv).
import { expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serveKube, writeKubeconfig } from "./serve.ts";
import type { ServedKube } from "./serve.ts";
import { requires } from "../../../tests/support/prerequisites.ts";

const gate = requires("kubectl");

let kube: ServedKube;
let dir: string;
let kubeconfig: string;

async function kubectl(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const child = Bun.spawn(["kubectl", "--kubeconfig", kubeconfig, ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, out, err };
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a condition");
    await Bun.sleep(20);
  }
}

const POD = `apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: default
spec:
  nodeName: node-a
  containers:
  - name: main
    image: busybox
`;

const DAEMONSET = (templateApp: string) => `apiVersion: v1
kind: ServiceAccount
metadata: {name: aws-node, namespace: kube-system}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: aws-node, namespace: kube-system}
spec:
  selector:
    matchLabels: {k8s-app: aws-node}
  template:
    metadata:
      labels: {k8s-app: ${templateApp}}
    spec:
      hostNetwork: true
      containers:
      - {name: aws-node, image: example/aws-node:1}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: aws-node}
rules:
- {apiGroups: [""], resources: [pods, nodes], verbs: [get, list, watch, patch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: aws-node}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: aws-node}
subjects:
- {kind: ServiceAccount, name: aws-node, namespace: kube-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: amazon-vpc-cni, namespace: kube-system}
data: {warm-ip-target: "5"}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: eniconfigs.crd.k8s.amazonaws.com}
spec:
  group: crd.k8s.amazonaws.com
  scope: Cluster
  names: {plural: eniconfigs, singular: eniconfig, kind: ENIConfig, listKind: ENIConfigList}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`;

gate.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), `sim-kube-${process.pid}-`));
  kubeconfig = join(dir, "kubeconfig");
  // No required token: kubectl (client-go) does not send bearer tokens to an http:// server.
  kube = serveKube({ hostname: "127.0.0.1", port: 0 });
  await writeKubeconfig(kubeconfig, kube.url, "kubectl-token");
  kube.store.create("nodes", {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: "node-a", labels: { "kubernetes.io/hostname": "node-a" } },
    status: { conditions: [{ type: "Ready", status: "True" }], nodeInfo: { kubeletVersion: "v1.32.0" } },
  });
});
gate.afterAll(async () => {
  await kube.stop();
  await rm(dir, { recursive: true, force: true });
});

gate.describe("kubectl", () => {
  test("get nodes prints the node as Ready", async () => {
    const result = await kubectl("get", "nodes");
    expect(result.err).toBe("");
    expect(result.out).toMatch(/^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\n/);
    expect(result.out).toMatch(/node-a\s+Ready\s+<none>\s+\S+\s+v1\.32\.0/);
  });

  test("create -f a pod, list it by node across namespaces, delete it", async () => {
    const file = join(dir, "pod.yaml");
    await writeFile(file, POD);
    const created = await kubectl("create", "-f", file);
    expect(created.out.trim()).toBe("pod/web-1 created");
    expect(kube.store.get("pods", "default", "web-1")?.spec).toMatchObject({ nodeName: "node-a" });

    const onNode = await kubectl("get", "pods", "-A", "--field-selector", "spec.nodeName=node-a", "-o", "name");
    expect(onNode.out.trim()).toBe("pod/web-1");
    const elsewhere = await kubectl("get", "pods", "-A", "--field-selector", "spec.nodeName=node-b", "-o", "name");
    expect(elsewhere.out.trim()).toBe("");

    const again = await kubectl("create", "-f", file);
    expect(again.code).not.toBe(0);
    expect(again.err).toContain("AlreadyExists");

    // Bound to node-a, the pod is deleted gracefully; kubectl waits (a watch on
    // metadata.name) until the kubelet, played here, deletes it for good.
    const deleting = kubectl("delete", "pod", "web-1", "--timeout=20s");
    await until(() => kube.store.get("pods", "default", "web-1")?.metadata.deletionTimestamp !== undefined);
    expect(kube.store.get("pods", "default", "web-1")?.metadata.deletionGracePeriodSeconds).toBe(30);
    await Bun.sleep(300);
    expect(kube.store.get("pods", "default", "web-1")).toBeDefined();
    const final = await fetch(`${kube.url}/api/v1/namespaces/default/pods/web-1?gracePeriodSeconds=0`, { method: "DELETE" });
    expect(final.status).toBe(200);
    const deleted = await deleting;
    expect(deleted.out.trim()).toBe('pod "web-1" deleted');
    expect(deleted.code).toBe(0);
    expect(kube.store.get("pods", "default", "web-1")).toBeUndefined();
  });

  test("create --dry-run=server of a DaemonSet-style manifest validates and stores nothing", async () => {
    const file = join(dir, "aws-node.yaml");
    await writeFile(file, DAEMONSET("aws-node"));
    const before = kube.store.resourceVersion;
    const result = await kubectl("create", "--dry-run=server", "-f", file);
    expect(result.err).toBe("");
    expect(result.out.trim().split("\n")).toEqual([
      "serviceaccount/aws-node created (server dry run)",
      "daemonset.apps/aws-node created (server dry run)",
      "clusterrole.rbac.authorization.k8s.io/aws-node created (server dry run)",
      "clusterrolebinding.rbac.authorization.k8s.io/aws-node created (server dry run)",
      "configmap/amazon-vpc-cni created (server dry run)",
      "customresourcedefinition.apiextensions.k8s.io/eniconfigs.crd.k8s.amazonaws.com created (server dry run)",
    ]);
    expect(kube.store.resourceVersion).toBe(before);
    expect(kube.store.list("daemonsets.apps")).toEqual([]);
  });

  test("apply --dry-run=server refuses a DaemonSet whose selector misses its template", async () => {
    const file = join(dir, "bad.yaml");
    await writeFile(file, DAEMONSET("something-else"));
    const result = await kubectl("apply", "--dry-run=server", "-f", file);
    expect(result.code).not.toBe(0);
    expect(result.err).toContain("spec.template.metadata.labels");
    expect(kube.store.list("daemonsets.apps")).toEqual([]);
  });

  test("label and taint a node", async () => {
    expect((await kubectl("label", "node", "node-a", "vpc.amazonaws.com/eniConfig=az1")).code).toBe(0);
    expect((await kubectl("taint", "node", "node-a", "cni=down:NoSchedule")).code).toBe(0);
    const node = kube.store.get("nodes", undefined, "node-a");
    expect(node?.metadata.labels?.["vpc.amazonaws.com/eniConfig"]).toBe("az1");
    expect(node?.spec).toMatchObject({ taints: [{ key: "cni", value: "down", effect: "NoSchedule" }] });
  });
});
