// The control plane of the local deployment (startKubeApi: the API server and its controllers)
// driven by the real kubectl binary. No kubelet runs: the test reports pods Ready through
// pods/status and finishes graceful deletions with gracePeriodSeconds=0, as a kubelet does.
import { requires } from "../../../tests/support/prerequisites.ts";
import { expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pino from "pino";
import { startKubeApi } from "../services.ts";
import type { KubeApi } from "../services.ts";
import type { KubeObject } from "../sim-kube/validate.ts";
import { testNode, until } from "./test-support.ts";

const KUBECTL = "/usr/bin/kubectl";
const gate = requires("kubectl");
const MANIFEST = resolve(import.meta.dir, "../../k8s/aws-node.yaml");
const POLICY_CONTROLLER = resolve(import.meta.dir, "../../k8s/policy-controller.yaml");

let kube: KubeApi;
let dir: string;
let kubeconfig: string;
let stopKubelets = () => {};

async function kubectl(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const child = Bun.spawn([KUBECTL, "--kubeconfig", kubeconfig, ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, out, err };
}

const store = () => kube.served.store;
const pods = (namespace: string) => store().list("pods", namespace);
const live = (namespace: string) => pods(namespace).filter((pod) => pod.metadata.deletionTimestamp === undefined);
const nodeOf = (pod: KubeObject) => (pod.spec as { nodeName?: string }).nodeName;
const isReady = (pod: KubeObject) => ((pod.status as { conditions?: Array<{ type: string; status: string }> }).conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

/** What a kubelet writes once the pod's containers run and pass their readiness probes. */
async function reportReady(pod: KubeObject): Promise<void> {
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const containers = (pod.spec as { containers: Array<{ name: string; image: string }> }).containers;
  const status = {
    phase: "Running",
    podIP: "10.0.0.10",
    conditions: [{ type: "Initialized", status: "True" }, { type: "Ready", status: "True", lastTransitionTime: now }, { type: "ContainersReady", status: "True" }],
    containerStatuses: containers.map((c) => ({ name: c.name, image: c.image, ready: true, started: true, restartCount: 0, state: { running: { startedAt: now } } })),
  };
  const path = `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}/status`;
  const response = await fetch(`${kube.url}${path}`, { method: "PATCH", headers: { "content-type": "application/merge-patch+json" }, body: JSON.stringify({ status }) });
  if (response.status !== 200) throw new Error(`pods/status: ${response.status} ${await response.text()}`);
}

/** The kubelets' last step: a terminating pod is deleted for good once its containers are gone. */
function finishDeletions(): () => void {
  return store().subscribe((change) => {
    const { metadata } = change.object;
    if (change.resource !== "pods" || change.type === "DELETED" || metadata.deletionTimestamp === undefined) return;
    void fetch(`${kube.url}/api/v1/namespaces/${metadata.namespace}/pods/${metadata.name}?gracePeriodSeconds=0`, { method: "DELETE" });
  });
}

gate.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), `controllers-${process.pid}-`));
  kubeconfig = join(dir, "kubeconfig");
  kube = await startKubeApi({ host: "127.0.0.1", kubeconfig, log: pino({ level: "silent" }) });
  await kube.createNode(testNode("node-1"));
  await kube.createNode(testNode("node-2"));
  // NotReady until its CNI runs: aws-node must run there all the same
  await kube.createNode(testNode("node-3", { ready: false }));
  stopKubelets = finishDeletions();
});
gate.afterAll(async () => {
  stopKubelets();
  await kube.stop();
  await rm(dir, { recursive: true, force: true });
});

const SMALL_DAEMONSET = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: aws-node, namespace: kube-system}
spec:
  selector: {matchLabels: {k8s-app: aws-node}}
  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: "10%"}}
  template:
    metadata: {labels: {k8s-app: aws-node}}
    spec:
      hostNetwork: true
      tolerations: [{operator: Exists}]
      initContainers:
      - {name: init, image: "localhost/aws-vpc-cni:0.1.0", env: [{name: STAGE, value: init}]}
      containers:
      - name: aws-node
        image: localhost/aws-vpc-cni:0.1.0
        env: [{name: WARM_IP_TARGET, value: "1"}, {name: LOG_LEVEL, value: info}]
        readinessProbe: {exec: {command: [/app/bin/probe, pool-manager, ready]}, timeoutSeconds: 5}
      - name: metrics
        image: localhost/aws-vpc-cni:0.1.0
        env: [{name: WARM_IP_TARGET, value: "1"}]
`;

gate.describe("kubectl against the control plane", () => {
  test("apply deploy/k8s/aws-node.yaml: one pod per node (NotReady too); get ds, get pods -o wide, rollout status", async () => {
    const applied = await kubectl("apply", "-f", MANIFEST);
    expect(applied.err).toBe("");
    expect(applied.out).toContain("daemonset.apps/aws-node created");
    await until("one pod per node", () => live("kube-system").length === 3, 10_000);
    expect(live("kube-system").map(nodeOf).sort()).toEqual(["node-1", "node-2", "node-3"]);

    const notReady = await kubectl("get", "ds", "aws-node", "-n", "kube-system");
    expect(notReady.out).toMatch(/^NAME\s+DESIRED\s+CURRENT\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+NODE SELECTOR\s+AGE\n/);
    expect(notReady.out).toMatch(/\naws-node\s+3\s+3\s+0\s+3\s+0\s+<none>\s+\d+s\n$/);

    for (const pod of live("kube-system")) await reportReady(pod);
    const ready = await kubectl("get", "ds", "-n", "kube-system");
    expect(ready.out).toMatch(/\naws-node\s+3\s+3\s+3\s+3\s+3\s+<none>\s+\d+s\n$/);
    const rollout = await kubectl("rollout", "status", "daemonset/aws-node", "-n", "kube-system", "--timeout=10s");
    expect(rollout.out.trim()).toBe('daemon set "aws-node" successfully rolled out');

    const wide = await kubectl("get", "pods", "-n", "kube-system", "-o", "wide");
    expect(wide.out).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES\n/);
    const rows = wide.out.trim().split("\n").slice(1);
    expect(rows).toHaveLength(3);
    for (const row of rows) expect(row).toMatch(/^aws-node-\w{5}\s+5\/5\s+Running\s+0\s+\d+s\s+10\.0\.0\.10\s+node-\d\s+<none>\s+<none>$/);
    const nodes = await kubectl("get", "nodes");
    expect(nodes.out).toMatch(/\nnode-3\s+NotReady\s/);

    const described = await kubectl("describe", "ds", "aws-node", "-n", "kube-system");
    expect(described.err).toBe("");
    expect(described.out).toMatch(/Pods Status:\s+3 Running \/ 0 Waiting \/ 0 Succeeded \/ 0 Failed/);
    expect(described.out).toMatch(/Normal\s+SuccessfulCreate\s+\S+\s+daemonset-controller\s+Created pod: aws-node-\w{5}/);
  }, 30_000);

  test("kubectl delete ds: its pods are deleted too (Background), each gracefully", async () => {
    const deleted = await kubectl("delete", "ds", "aws-node", "-n", "kube-system");
    expect(deleted.out.trim()).toBe('daemonset.apps "aws-node" deleted');
    await until("pods gone", () => pods("kube-system").length === 0, 10_000);
    const listed = await kubectl("get", "pods", "-n", "kube-system");
    expect(listed.err.trim()).toBe("No resources found in kube-system namespace.");
  }, 30_000);

  test("kubectl set env -c aws-node: a new generation, only that container changed, rolled out one node at a time", async () => {
    const file = join(dir, "small.yaml");
    await writeFile(file, SMALL_DAEMONSET);
    expect((await kubectl("apply", "-f", file)).code).toBe(0);
    await until("pods", () => live("kube-system").length === 3);
    for (const pod of live("kube-system")) await reportReady(pod);
    await until("ready", () => (store().get("daemonsets.apps", "kube-system", "aws-node")?.status as { numberAvailable?: number }).numberAvailable === 3);

    // at no moment may more than one node be without an available pod (10 % of 3 → 1)
    let worst = 0;
    const watchAvailability = store().subscribe(() => {
      const withReadyPod = new Set(live("kube-system").filter(isReady).map(nodeOf));
      worst = Math.max(worst, 3 - withReadyPod.size);
    });
    // the kubelet's part: each new pod comes up Ready shortly after it is created
    const replaced: string[] = [];
    const readyNewPods = store().subscribe((change) => {
      const pod = change.object;
      if (change.resource !== "pods" || change.type !== "ADDED") return;
      replaced.push(nodeOf(pod) ?? "");
      setTimeout(() => void reportReady(pod), 50);
    });
    try {
      const set = await kubectl("set", "env", "daemonset", "aws-node", "-n", "kube-system", "-c", "aws-node", "WARM_IP_TARGET=5");
      expect(set.out.trim()).toBe("daemonset.apps/aws-node env updated");
      const daemonSet = store().get("daemonsets.apps", "kube-system", "aws-node")!;
      expect(daemonSet.metadata.generation).toBe(2);
      const template = (daemonSet.spec as { template: { spec: { containers: Array<{ name: string; env: unknown }>; initContainers: Array<{ env: unknown }> } } }).template.spec;
      expect(template.containers.map((c) => [c.name, c.env])).toEqual([
        ["aws-node", [{ name: "WARM_IP_TARGET", value: "5" }, { name: "LOG_LEVEL", value: "info" }]],
        ["metrics", [{ name: "WARM_IP_TARGET", value: "1" }]],
      ]);
      expect(template.initContainers[0]?.env).toEqual([{ name: "STAGE", value: "init" }]);
      const listed = await kubectl("set", "env", "daemonset/aws-node", "-n", "kube-system", "--list", "-c", "init");
      expect(listed.out).toBe("# DaemonSet aws-node, container init\nSTAGE=init\n");

      const rollout = await kubectl("rollout", "status", "daemonset/aws-node", "-n", "kube-system", "--timeout=20s");
      expect(rollout.code).toBe(0);
      expect(rollout.out).toContain('daemon set "aws-node" successfully rolled out');
    } finally {
      watchAvailability();
      readyNewPods();
    }
    expect(worst).toBe(1);
    expect(replaced.sort()).toEqual(["node-1", "node-2", "node-3"]);
    const json = JSON.parse((await kubectl("get", "ds", "aws-node", "-n", "kube-system", "-o", "json")).out);
    expect(json.metadata.generation).toBe(2);
    expect(json.status).toEqual({ currentNumberScheduled: 3, desiredNumberScheduled: 3, numberMisscheduled: 0, numberReady: 3, observedGeneration: 2, updatedNumberScheduled: 3, numberAvailable: 3 });
    const envs = live("kube-system").map((pod) => (pod.spec as { containers: Array<{ env: Array<{ value: string }> }> }).containers[0]!.env[0]!.value);
    expect(envs).toEqual(["5", "5", "5"]);
  }, 30_000);

  test("kubectl label node: a node that stops matching loses its aws-node pod", async () => {
    const labelled = await kubectl("label", "node", "node-3", "eks.amazonaws.com/compute-type=fargate");
    expect(labelled.out.trim()).toBe("node/node-3 labeled");
    // the small DaemonSet selects every node; the manifest's affinity does not take fargate nodes
    await kubectl("apply", "-f", MANIFEST);
    await until("pod on node-3 gone", () => !live("kube-system").some((pod) => nodeOf(pod) === "node-3"), 10_000);
    await until("two pods", () => pods("kube-system").length === 2, 10_000);
    const status = (await kubectl("get", "ds", "aws-node", "-n", "kube-system", "-o", "jsonpath={.status.desiredNumberScheduled}")).out;
    expect(status).toBe("2");
  }, 30_000);

  test("kubectl describe pod: containers with state, restarts, probes, and the scheduler's events", async () => {
    const file = join(dir, "pods.yaml");
    await writeFile(file, `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec:
  containers:
  - name: main
    image: busybox:1
    readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 5}
---
apiVersion: v1
kind: Pod
metadata: {name: stuck, namespace: default}
spec:
  nodeSelector: {pool: gpu}
  containers: [{name: main, image: busybox:1}]
`);
    expect((await kubectl("apply", "-f", file)).code).toBe(0);
    await until("web scheduled", () => nodeOf(store().get("pods", "default", "web")!) !== undefined);
    await reportReady(store().get("pods", "default", "web")!);
    const web = await kubectl("describe", "pod", "web");
    expect(web.err).toBe("");
    expect(web.out).toMatch(/Node:\s+node-[12]\//);
    expect(web.out).toMatch(/Containers:\n\s+main:/);
    expect(web.out).toMatch(/State:\s+Running/);
    expect(web.out).toMatch(/Restart Count:\s+0/);
    expect(web.out).toMatch(/Readiness:\s+http-get http:\/\/:8080\/healthz delay=0s timeout=1s period=5s #success=1 #failure=3/);
    expect(web.out).toMatch(/Normal\s+Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned default\/web to node-[12]/);

    await until("stuck marked", () => ((store().get("pods", "default", "stuck")!.status as { conditions?: unknown[] }).conditions ?? []).length > 0);
    const stuck = await kubectl("describe", "pod", "stuck");
    expect(stuck.out).toMatch(/Status:\s+Pending/);
    expect(stuck.out).toMatch(/PodScheduled\s+False/);
    expect(stuck.out).toMatch(/Warning\s+FailedScheduling\s+\S+\s+default-scheduler\s+0\/3 nodes are available: 3 node\(s\) didn't match Pod's node affinity\/selector\./);

    const deleted = await kubectl("delete", "pod", "web", "stuck", "--timeout=20s");
    expect(deleted.code).toBe(0);
    expect(pods("default")).toHaveLength(0);
  }, 30_000);

  test("apply deploy/k8s/policy-controller.yaml: its account and RBAC stored, the Deployment's pod made and bound; get deploy, rollout status, delete", async () => {
    const applied = await kubectl("apply", "-f", POLICY_CONTROLLER);
    expect(applied.err).toBe("");
    expect(applied.out.trim().split("\n").sort()).toEqual([
      "clusterrole.rbac.authorization.k8s.io/policy-controller created",
      "clusterrolebinding.rbac.authorization.k8s.io/policy-controller created",
      "deployment.apps/policy-controller created",
      "role.rbac.authorization.k8s.io/policy-controller created",
      "rolebinding.rbac.authorization.k8s.io/policy-controller created",
      "serviceaccount/policy-controller created",
    ]);
    const controllerPods = () => live("kube-system").filter((pod) => pod.metadata.labels?.["app.kubernetes.io/name"] === "policy-controller");
    await until("its pod bound", () => controllerPods().length === 1 && nodeOf(controllerPods()[0]!) !== undefined, 10_000);
    const pod = controllerPods()[0]!;
    expect(pod.metadata.name).toMatch(/^policy-controller-\w+-\w{5}$/);
    expect(pod.metadata.ownerReferences?.[0]).toMatchObject({ kind: "Deployment", name: "policy-controller", controller: true });
    expect((pod.spec as { serviceAccountName?: string }).serviceAccountName).toBe("policy-controller");

    const waiting = await kubectl("get", "deploy", "policy-controller", "-n", "kube-system");
    expect(waiting.out).toMatch(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\npolicy-controller\s+0\/1\s+1\s+0\s+\d+s\n$/);
    await reportReady(pod);
    const rollout = await kubectl("rollout", "status", "deployment/policy-controller", "-n", "kube-system", "--timeout=10s");
    expect(rollout.out.trim()).toBe('deployment "policy-controller" successfully rolled out');
    const ready = await kubectl("get", "deploy", "-n", "kube-system");
    expect(ready.out).toMatch(/\npolicy-controller\s+1\/1\s+1\s+1\s+\d+s\n$/);
    const wide = await kubectl("get", "ds,deploy,pods", "-n", "kube-system", "-o", "wide");
    expect(wide.err).toBe("");
    expect(wide.out).toMatch(/\nNAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR\ndeployment\.apps\/policy-controller\s+1\/1\s+1\s+1\s+\d+s\s+controller\s+localhost\/aws-vpc-cni:0\.1\.0\s+app\.kubernetes\.io\/name=policy-controller\n/);

    const deleted = await kubectl("delete", "-f", POLICY_CONTROLLER, "--wait=true", "--timeout=20s");
    expect(deleted.code).toBe(0);
    await until("its pod gone", () => controllerPods().length === 0 && !pods("kube-system").some((p) => p.metadata.uid === pod.metadata.uid), 10_000);
  }, 30_000);
});
