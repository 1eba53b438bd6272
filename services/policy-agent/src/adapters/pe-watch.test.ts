// The PolicyEndpoint list/watch against the simulated API server (deploy/local/sim-kube) on 127.0.0.1:
// what the sink holds after creates, updates, deletes, an outage, and a resync.
import { afterEach, expect, test } from "bun:test";
import type { PolicyEndpoint } from "../../../../shared/contracts/policy.ts";
import { KubeRest, staticCredentials } from "../../../../shared/kube-rest.ts";
import { serveKube, type ServedKube } from "../../../../deploy/local/sim-kube/serve.ts";
import { PE_PATH, PolicyEndpointWatch, type EndpointSink } from "./pe-watch.ts";

const crd = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "policyendpoints.networking.k8s.aws" },
  spec: {
    group: "networking.k8s.aws",
    scope: "Namespaced",
    names: { plural: "policyendpoints", singular: "policyendpoint", kind: "PolicyEndpoint" },
    versions: [{ name: "v1alpha1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object" } } }],
  },
};

const quiet = { info() {}, warn() {} };
let kube: ServedKube | undefined;
let watch: PolicyEndpointWatch | undefined;
afterEach(async () => {
  watch?.stop();
  await kube?.stop();
  kube = watch = undefined;
});

class MapSink implements EndpointSink {
  readonly map = new Map<string, PolicyEndpoint>();
  replaceEndpoints(list: PolicyEndpoint[]) {
    this.map.clear();
    for (const p of list) this.putEndpoint(p);
  }
  putEndpoint(p: PolicyEndpoint) {
    this.map.set(`${p.metadata.namespace}/${p.metadata.name}`, p);
  }
  dropEndpoint(ns: string, name: string) {
    this.map.delete(`${ns}/${name}`);
  }
  names() {
    return [...this.map.keys()].sort();
  }
}

function pe(name: string, podIP: string, namespace = "default") {
  return {
    apiVersion: "networking.k8s.aws/v1alpha1",
    kind: "PolicyEndpoint",
    metadata: { name, namespace },
    spec: { policyRef: { name, namespace }, podIsolation: ["Ingress"], podSelectorEndpoints: [{ name: "p", namespace, podIP, hostIP: "10.0.0.10" }] },
  };
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

async function setup(resyncMs?: number) {
  kube = serveKube({ hostname: "127.0.0.1", port: 0, namespaces: ["default", "team"] });
  const made = await fetch(`${kube.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions`, { method: "POST", body: JSON.stringify(crd), headers: { "content-type": "application/json" } });
  if (made.status !== 201) throw new Error(`CRD not created: ${made.status}`);
  const cluster = { name: "sim", server: kube.url, skipTLSVerify: true };
  const api = new KubeRest({ cluster, credentials: staticCredentials(cluster, null) });
  const sink = new MapSink();
  watch = new PolicyEndpointWatch(api, sink, quiet, { retry: { firstMs: 20, maxMs: 100 }, ...(resyncMs ? { resyncMs } : {}) });
  const put = (o: unknown) => fetch(`${kube!.url}/apis/networking.k8s.aws/v1alpha1/namespaces/${(o as { metadata: { namespace: string } }).metadata.namespace}/policyendpoints`, { method: "POST", body: JSON.stringify(o), headers: { "content-type": "application/json" } });
  return { sink, put, k: kube, w: watch };
}

test("listed, then created, modified and deleted objects in every namespace reach the sink", async () => {
  const { sink, put, k, w } = await setup();
  expect((await put(pe("a", "10.0.1.1"))).status).toBe(201);
  w.start();
  await until("list", () => sink.names().length === 1);
  expect((await put(pe("b", "10.0.1.2", "team"))).status).toBe(201);
  await until("added", () => sink.names().join() === "default/a,team/b");
  const patch = await fetch(`${k.url}/apis/networking.k8s.aws/v1alpha1/namespaces/default/policyendpoints/a`, {
    method: "PATCH",
    body: JSON.stringify({ spec: { podIsolation: ["Ingress", "Egress"] } }),
    headers: { "content-type": "application/merge-patch+json" },
  });
  expect(patch.status).toBe(200);
  await until("modified", () => sink.map.get("default/a")?.spec.podIsolation?.length === 2);
  await fetch(`${k.url}/apis/networking.k8s.aws/v1alpha1/namespaces/team/policyendpoints/b`, { method: "DELETE" });
  await until("deleted", () => sink.names().join() === "default/a");
});

test("an object that does not parse is skipped, the others kept", async () => {
  const { sink, put, w } = await setup();
  await put(pe("good", "10.0.1.1"));
  const bad = pe("bad", "10.0.1.2");
  (bad.spec.podSelectorEndpoints[0] as { podIP: string }).podIP = "not-an-ip";
  expect((await put(bad)).status).toBe(201);
  w.start();
  await until("list", () => w.lists === 1);
  expect(sink.names()).toEqual(["default/good"]);
});

test("an outage keeps the last state; on return the re-list brings what changed meanwhile", async () => {
  const { sink, put, k, w } = await setup();
  await put(pe("a", "10.0.1.1"));
  w.start();
  await until("list", () => sink.names().length === 1);
  k.setUnreachable("refuse");
  await until("failure seen", () => w.lastError !== undefined);
  expect(sink.names()).toEqual(["default/a"]);
  // Changed while the agent could not watch (straight into the store).
  k.store.delete("policyendpoints.networking.k8s.aws", "default", "a");
  k.store.create("policyendpoints.networking.k8s.aws", pe("c", "10.0.1.3") as never);
  k.setUnreachable(false);
  await until("re-listed", () => sink.names().join() === "default/c");
});

test("resync: the list is taken again on schedule even when the watch is healthy", async () => {
  const { sink, put, w } = await setup(150);
  await put(pe("a", "10.0.1.1"));
  w.start();
  await until("two lists", () => w.lists >= 2, 3000);
  expect(sink.names()).toEqual(["default/a"]);
  expect(PE_PATH).toBe("/apis/networking.k8s.aws/v1alpha1/policyendpoints");
});
