// The controller against the simulated API server: policies applied with kubectl, pods with
// and without IPs, the PolicyEndpoints read back from the API (spec, ownerReference,
// annotation), deletion through the finalizer, a pod's late IP within the batch period, and
// the ConfigMap switch.
import { expect } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { startControlPlane, type RunningControlPlane } from "../../../deploy/local/controllers/control-plane.ts";
import { serveKube, writeKubeconfig, type ServedKube } from "../../../deploy/local/sim-kube/serve.ts";
import { LAST_CHANGE_TRIGGER_TIME, type PolicyEndpoint } from "../../../shared/contracts/policy.ts";
import { KubeRest, readKubeconfig, staticCredentials } from "../../../shared/kube-rest.ts";
import { requires } from "../../../tests/support/prerequisites.ts";
import { PolicyController } from "./controller.ts";

const gate = requires("kubectl");
const CRD = join(import.meta.dir, "../../../deploy/k8s/policyendpoint-crd.yaml");

let kube: ServedKube;
let plane: RunningControlPlane;
let dir: string;
let kubeconfig: string;
let rest: KubeRest;
let controller: PolicyController;

async function kubectl(...args: string[]): Promise<string> {
  const child = Bun.spawn(["kubectl", "--kubeconfig", kubeconfig, ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${err}`);
  return out;
}

async function apply(yaml: string): Promise<void> {
  const file = join(dir, `m-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, yaml);
  await kubectl("apply", "-f", file);
}

async function endpoints(namespace: string, policy: string): Promise<PolicyEndpoint[]> {
  const list = await rest.request<{ items: PolicyEndpoint[] }>("GET", `/apis/networking.k8s.aws/v1alpha1/namespaces/${namespace}/policyendpoints`);
  return list.items.filter((pe) => pe.spec.policyRef.name === policy);
}

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out");
    await Bun.sleep(20);
  }
}

/** A pod stored with the given status (as the kubelet would report it). */
async function pod(namespace: string, name: string, labels: Record<string, string>, status: Record<string, string> | undefined, ports: Array<{ name: string; containerPort: number }> = []): Promise<void> {
  await rest.request("POST", `/api/v1/namespaces/${namespace}/pods`, { body: { metadata: { name, labels }, spec: { nodeName: "node-a", containers: [{ name: "main", image: "busybox", ports }] } } });
  if (status) await setStatus(namespace, name, status);
}

async function setStatus(namespace: string, name: string, status: Record<string, string>): Promise<void> {
  await rest.request("PATCH", `/api/v1/namespaces/${namespace}/pods/${name}/status`, { body: { status: { phase: "Running", ...status } }, merge: true });
}

gate.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "policy-controller-test-"));
  kube = serveKube({ hostname: "127.0.0.1", port: 0, namespaces: ["default", "kube-system", "other", "bulk"] });
  plane = startControlPlane(kube.store);
  kubeconfig = join(dir, "kubeconfig");
  await writeKubeconfig(kubeconfig, kube.url);
  const { cluster, user } = readKubeconfig(kubeconfig);
  rest = new KubeRest({ cluster, credentials: staticCredentials(cluster, user) });
  await kubectl("apply", "-f", CRD);
  await apply(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: amazon-vpc-cni, namespace: kube-system}\ndata: {enable-network-policy-controller: "true"}\n`);
  controller = new PolicyController(rest, { chunkSize: 200, batchPeriodMs: 1000, concurrency: 3, configMapCheck: true }, pino({ level: "silent" }));
  await controller.start();
});

gate.afterAll(async () => {
  controller?.stop();
  plane?.stop();
  await kube?.stop();
  await rm(dir, { recursive: true, force: true });
});

gate.describe("policy-controller against the simulated API server", () => {
  gate.test("kubectl apply of a NetworkPolicy: PolicyEndpoints with the resolved spec, owned by the policy, annotated", async () => {
    await pod("default", "web-1", { app: "web" }, { podIP: "10.0.1.5", hostIP: "10.0.0.10" }, [{ name: "http", containerPort: 8080 }]);
    await pod("default", "client-1", { role: "client" }, { podIP: "10.0.1.6", hostIP: "10.0.0.11" });
    await pod("default", "web-2", { app: "web" }, undefined);
    await apply(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {role: client}}}]
    ports: [{port: http}]
  - from: [{ipBlock: {cidr: 192.168.0.0/16, except: [192.168.1.0/24]}}]
`);
    const [pe] = await until(async () => ((await endpoints("default", "web")).length > 0 ? endpoints("default", "web") : undefined));
    expect(pe!.metadata.name.startsWith("web-")).toBe(true);
    expect(pe!.spec).toEqual({
      policyRef: { name: "web", namespace: "default" },
      podSelector: { matchLabels: { app: "web" } },
      podIsolation: ["Ingress"],
      podSelectorEndpoints: [{ hostIP: "10.0.0.10", podIP: "10.0.1.5", name: "web-1", namespace: "default" }],
      ingress: [
        { cidr: "10.0.1.6", ports: [{ protocol: "TCP", port: 8080 }] },
        { cidr: "192.168.0.0/16", except: ["192.168.1.0/24"] },
      ],
    } as never);
    const policy = await rest.request<{ metadata: { uid: string; finalizers?: string[] } }>("GET", "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies/web");
    const owner = (pe!.metadata as { ownerReferences?: unknown[] }).ownerReferences;
    expect(owner).toEqual([{ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", name: "web", uid: policy.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    expect(policy.metadata.finalizers).toContain("networking.k8s.aws/resources");
    expect(Number.isNaN(Date.parse(pe!.metadata.annotations?.[LAST_CHANGE_TRIGGER_TIME] ?? ""))).toBe(false);
    expect(await kubectl("get", "netpol", "-n", "default")).toMatch(/web\s+app=web/);
  });

  gate.test("a pod getting its IP later is in the PolicyEndpoint within the batch period", async () => {
    const t0 = Date.now();
    await setStatus("default", "web-2", { podIP: "10.0.1.7", hostIP: "10.0.0.11" });
    const pe = await until(async () => {
      const [found] = await endpoints("default", "web");
      return found?.spec.podSelectorEndpoints?.some((p) => p.name === "web-2") ? found : undefined;
    });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(pe.spec.podSelectorEndpoints).toContainEqual({ hostIP: "10.0.0.11", podIP: "10.0.1.7", name: "web-2", namespace: "default" });
  });

  gate.test("egress: policyTypes defaulted, Service ClusterIP mapped to its port, named port with no `to` per destination pod", async () => {
    await rest.request("POST", "/api/v1/namespaces/other/services", { body: { metadata: { name: "db" }, spec: { selector: { app: "db" }, ports: [{ port: 5432, targetPort: 5432 }] } } });
    await pod("other", "db-1", { app: "db" }, { podIP: "10.0.2.9", hostIP: "10.0.0.10" });
    await apply(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: out, namespace: default}
spec:
  podSelector: {}
  egress:
  - to: [{namespaceSelector: {}, podSelector: {matchLabels: {app: db}}}]
    ports: [{port: 5432}]
  - ports: [{port: http}]
`);
    const service = await rest.request<{ spec: { clusterIP: string } }>("GET", "/api/v1/namespaces/other/services/db");
    const [pe] = await until(async () => ((await endpoints("default", "out")).length > 0 ? endpoints("default", "out") : undefined));
    expect(pe!.spec.podIsolation).toEqual(["Ingress", "Egress"]);
    expect(pe!.spec.egress).toEqual([
      { cidr: "10.0.2.9", ports: [{ protocol: "TCP", port: 5432 }] },
      { cidr: service.spec.clusterIP, ports: [{ protocol: "TCP", port: 5432 }] },
      { cidr: "10.0.1.5", ports: [{ protocol: "TCP", port: 8080 }] },
    ]);
  });

  gate.test("a PolicyEndpoint deleted or edited by hand is put right", async () => {
    const [before] = await endpoints("default", "out");
    await kubectl("delete", "policyendpoints.networking.k8s.aws", before!.metadata.name, "-n", "default");
    const [after] = await until(async () => {
      const found = await endpoints("default", "out");
      return found.length > 0 && found[0]!.metadata.name !== before!.metadata.name ? found : undefined;
    });
    expect(after!.spec).toEqual(before!.spec);
    await rest.request("PATCH", `/apis/networking.k8s.aws/v1alpha1/namespaces/default/policyendpoints/${after!.metadata.name}`, { body: { spec: { egress: [{ cidr: "0.0.0.0/0" }] } }, merge: true });
    const repaired = await until(async () => {
      const [found] = await endpoints("default", "out");
      return found !== undefined && JSON.stringify(found.spec) === JSON.stringify(before!.spec) ? found : undefined;
    });
    expect(repaired.spec.egress).toEqual(before!.spec.egress);
  });

  gate.test("deleting the policy removes its PolicyEndpoints and the policy", async () => {
    await kubectl("delete", "netpol", "web", "-n", "default", "--wait=false");
    await until(async () => ((await endpoints("default", "web")).length === 0 ? true : undefined));
    await until(async () => (kube.store.get("networkpolicies.networking.k8s.io", "default", "web") === undefined ? true : undefined));
  });

  gate.test("250 selected pods: two objects of 200 and 50; when 220 finish, one object is left", async () => {
    for (let i = 0; i < 250; i++) await pod("bulk", `b-${i}`, { app: "bulk" }, { podIP: `10.0.${10 + (i >> 8)}.${i & 255}`, hostIP: "10.0.0.10" });
    await apply(`apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bulk, namespace: bulk}\nspec: {podSelector: {}}\n`);
    const sizes = async () => (await endpoints("bulk", "bulk")).map((pe) => pe.spec.podSelectorEndpoints?.length ?? 0).sort((a, b) => b - a);
    await until(async () => (JSON.stringify(await sizes()) === "[200,50]" ? true : undefined));
    for (let i = 0; i < 220; i++) await setStatus("bulk", `b-${i}`, { phase: "Succeeded" });
    await until(async () => (JSON.stringify(await sizes()) === "[30]" ? true : undefined));
    const [left] = await endpoints("bulk", "bulk");
    expect(left!.spec.podSelectorEndpoints!.map((p) => p.name).sort()).toEqual(Array.from({ length: 30 }, (_, i) => `b-${220 + i}`).sort());
  }, 30_000);

  gate.test("with the ConfigMap key not \"true\" nothing is written", async () => {
    await apply(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: amazon-vpc-cni, namespace: kube-system}\ndata: {enable-network-policy-controller: "false"}\n`);
    await until(async () => (controller.enabled ? undefined : true));
    await apply(`apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: paused, namespace: default}\nspec: {podSelector: {}}\n`);
    await Bun.sleep(300);
    expect(await endpoints("default", "paused")).toEqual([]);
    await apply(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: amazon-vpc-cni, namespace: kube-system}\ndata: {enable-network-policy-controller: "true"}\n`);
    const [pe] = await until(async () => ((await endpoints("default", "paused")).length > 0 ? endpoints("default", "paused") : undefined));
    expect(pe!.spec.podSelectorEndpoints?.map((p) => p.name).sort()).toEqual(["client-1", "web-1", "web-2"]);
  });
});
