// A CRD stored through the API becomes a served resource: discovery, verbs, watch, /status,
// scope; deleting the CRD removes its objects.
import { describe, expect, test } from "bun:test";
import { createKubeApp } from "./app.ts";
import { KubeStore } from "./store.ts";

const crd = (scope: "Namespaced" | "Cluster") => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "policyendpoints.networking.k8s.aws" },
  spec: {
    group: "networking.k8s.aws",
    scope,
    names: { plural: "policyendpoints", singular: "policyendpoint", kind: "PolicyEndpoint", shortNames: ["pe"] },
    versions: [
      { name: "v1alpha1", served: true, storage: true, subresources: { status: {} }, schema: { openAPIV3Schema: { type: "object" } } },
      { name: "v1alpha0", served: false, storage: false },
    ],
  },
});

function setup() {
  const store = new KubeStore();
  store.create("namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "default" } });
  const { app } = createKubeApp(store);
  const send = async (method: string, path: string, body?: unknown, contentType = "application/json") => {
    const response = await app.request(path, { method, headers: { "content-type": contentType }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as any };
  };
  return { store, send, app };
}

const CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
const NAMESPACED = "/apis/networking.k8s.aws/v1alpha1/namespaces/default/policyendpoints";
const endpoint = { apiVersion: "networking.k8s.aws/v1alpha1", kind: "PolicyEndpoint", metadata: { name: "pe1" }, spec: { podSelector: {} } };

describe("custom resources", () => {
  test("a namespaced CRD is served with its served versions only, status subresource and generation", async () => {
    const { send } = setup();
    expect((await send("GET", NAMESPACED)).status).toBe(404);
    const created = await send("POST", CRDS, crd("Namespaced"));
    expect(created.body.status.conditions.find((c: { type: string }) => c.type === "Established").status).toBe("True");
    const resources = await send("GET", "/apis/networking.k8s.aws/v1alpha1");
    expect(resources.body.resources.map((r: { name: string }) => r.name)).toEqual(["policyendpoints", "policyendpoints/status"]);
    expect((await send("GET", "/apis/networking.k8s.aws/v1alpha0")).status).toBe(404);
    expect((await send("GET", "/apis")).body.groups.map((g: { name: string }) => g.name)).toContain("networking.k8s.aws");

    const stored = await send("POST", NAMESPACED, endpoint);
    expect([stored.status, stored.body.metadata.generation]).toEqual([201, 1]);
    const withStatus = await send("PATCH", `${NAMESPACED}/pe1/status`, { status: { ok: true } }, "application/merge-patch+json");
    expect([withStatus.body.status, withStatus.body.metadata.generation]).toEqual([{ ok: true }, 1]);
    const respec = await send("PATCH", `${NAMESPACED}/pe1`, { spec: { podSelector: { matchLabels: { a: "b" } } }, status: { ok: false } }, "application/merge-patch+json");
    expect([respec.body.status, respec.body.metadata.generation]).toEqual([{ ok: true }, 2]);
    expect((await send("GET", "/apis/networking.k8s.aws/v1alpha1/policyendpoints")).body.items).toHaveLength(1);
    expect((await send("GET", "/apis/networking.k8s.aws/v1alpha1/policyendpoints/pe1")).status).toBe(404);
  });

  test("a cluster-scoped CRD refuses a namespace; deleting the CRD deletes its objects", async () => {
    const { send, store } = setup();
    await send("POST", CRDS, crd("Cluster"));
    expect((await send("POST", NAMESPACED, endpoint)).status).toBe(404);
    expect((await send("POST", "/apis/networking.k8s.aws/v1alpha1/policyendpoints", endpoint)).status).toBe(201);
    expect(store.list("policyendpoints.networking.k8s.aws")).toHaveLength(1);
    await send("DELETE", `${CRDS}/policyendpoints.networking.k8s.aws`);
    expect(store.list("policyendpoints.networking.k8s.aws")).toHaveLength(0);
    expect((await send("GET", "/apis/networking.k8s.aws/v1alpha1/policyendpoints")).status).toBe(404);
  });

  test("watch on a custom resource sees its objects", async () => {
    const { send, app } = setup();
    await send("POST", CRDS, crd("Namespaced"));
    await send("POST", NAMESPACED, endpoint);
    const response = await app.request(`${NAMESPACED}?watch=true`);
    const reader = response.body!.getReader();
    const { value } = await reader.read();
    await reader.cancel();
    const event = JSON.parse(new TextDecoder().decode(value).split("\n")[0]!);
    expect([event.type, event.object.metadata.name]).toEqual(["ADDED", "pe1"]);
  });
});
