// The local deployment's policy controller: the CRD and the ConfigMap switch set up on a
// simulated API server, the controller run as a process (services/policy-controller/main.ts
// with the stack's kubeconfig) writing PolicyEndpoints, and stopped.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serveKube, writeKubeconfig, type ServedKube } from "./sim-kube/serve.ts";
import { startPolicyController, type RunningPolicyController } from "./policy-controller.ts";

let kube: ServedKube;
let dir: string;
let controller: RunningPolicyController | undefined;
const silent = { info: () => {} };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "local-policy-controller-"));
  kube = serveKube({ hostname: "127.0.0.1", port: 0 });
  await writeKubeconfig(join(dir, "kubeconfig"), kube.url);
});

afterAll(async () => {
  await controller?.stop();
  await kube?.stop();
  await rm(dir, { recursive: true, force: true });
});

const api = (method: string, path: string, body?: unknown) =>
  fetch(`${kube.url}${path}`, { method, headers: { "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

test("the switch is set, the CRD served, and a policy applied becomes a PolicyEndpoint", async () => {
  // an existing ConfigMap keeps its other keys
  await api("POST", "/api/v1/namespaces/kube-system/configmaps", { metadata: { name: "amazon-vpc-cni" }, data: { "enable-network-policy-controller": "false", "warm-ip-target": "1" } });
  controller = await startPolicyController({ dir, kube: { endpoint: kube.url, kubeconfig: join(dir, "kubeconfig") } }, silent);
  const cm = (await (await api("GET", "/api/v1/namespaces/kube-system/configmaps/amazon-vpc-cni")).json()) as { data: Record<string, string> };
  expect(cm.data).toEqual({ "enable-network-policy-controller": "true", "warm-ip-target": "1" });
  await api("POST", "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies", { metadata: { name: "deny-all" }, spec: { podSelector: {} } });
  const deadline = Date.now() + 20_000;
  let items: Array<{ spec: { policyRef: { name: string }; podIsolation: string[] } }> = [];
  while (Date.now() < deadline) {
    const res = await api("GET", "/apis/networking.k8s.aws/v1alpha1/namespaces/default/policyendpoints");
    items = res.ok ? ((await res.json()) as { items: typeof items }).items : [];
    if (items.length > 0) break;
    await Bun.sleep(100);
  }
  expect(items.map((pe) => [pe.spec.policyRef.name, pe.spec.podIsolation])).toEqual([["deny-all", ["Ingress"]]]);
  await controller.stop();
  expect(await Bun.file(controller.log).text()).toContain("policy-controller started");
}, 30_000);
