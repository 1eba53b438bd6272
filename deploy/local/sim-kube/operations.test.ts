// Server rules checked in process with app.request: resourceVersion bookkeeping, status
// subresource, dry-run delete, discovery and OpenAPI documents kubectl depends on.
import { describe, expect, test } from "bun:test";
import { createKubeApp } from "./app.ts";
import { KubeStore } from "./store.ts";

function setup() {
  const store = new KubeStore();
  store.create("namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "default" } });
  const { app } = createKubeApp(store);
  const send = (method: string, path: string, body?: unknown, contentType = "application/json") =>
    app.request(path, { method, headers: { "content-type": contentType }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { store, send };
}

const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { containers: [{ name: "c", image: "i" }] } };

describe("resource rules", () => {
  test("a patch that changes nothing keeps the resourceVersion", async () => {
    const { store, send } = setup();
    await send("POST", "/api/v1/namespaces/default/pods", pod);
    const before = store.resourceVersion;
    const answer = await send("PATCH", "/api/v1/namespaces/default/pods/p", { metadata: { labels: null } }, "application/merge-patch+json");
    expect(answer.status).toBe(200);
    expect(store.resourceVersion).toBe(before);
  });

  test("status changes only through /status", async () => {
    const { store, send } = setup();
    await send("POST", "/api/v1/namespaces/default/pods", pod);
    await send("PATCH", "/api/v1/namespaces/default/pods/p", { status: { phase: "Running" } }, "application/merge-patch+json");
    expect(store.get("pods", "default", "p")?.status).toEqual({ phase: "Pending", qosClass: "BestEffort" });
    await send("PATCH", "/api/v1/namespaces/default/pods/p/status", { status: { phase: "Running", podIP: "10.0.0.9" } }, "application/merge-patch+json");
    expect(store.get("pods", "default", "p")?.status).toEqual({ phase: "Running", podIP: "10.0.0.9", qosClass: "BestEffort" });
    const byIp: any = await (await send("GET", "/api/v1/pods?fieldSelector=status.podIP%3D10.0.0.9")).json();
    expect(byIp.items.map((item: { metadata: { name: string } }) => item.metadata.name)).toEqual(["p"]);
  });

  test("dry-run delete keeps the object; a wrong uid precondition is a conflict", async () => {
    const { store, send } = setup();
    await send("POST", "/api/v1/namespaces/default/pods", pod);
    expect((await send("DELETE", "/api/v1/namespaces/default/pods/p?dryRun=All")).status).toBe(200);
    expect(store.get("pods", "default", "p")).toBeDefined();
    const answer = await send("DELETE", "/api/v1/namespaces/default/pods/p", { preconditions: { uid: "other" } });
    expect(answer.status).toBe(409);
    expect(store.get("pods", "default", "p")).toBeDefined();
  });

  test("unknown resources and cluster-scoped resources under a namespace are 404 Status", async () => {
    const { send } = setup();
    for (const path of ["/api/v1/widgets", "/api/v1/namespaces/default/nodes", "/apis/crd.k8s.amazonaws.com/v1alpha1/namespaces/x/eniconfigs"]) {
      const answer = await send("GET", path);
      expect(answer.status).toBe(404);
      expect(await answer.json()).toMatchObject({ kind: "Status", reason: "NotFound" });
    }
  });

  test("discovery lists the CRD groups; OpenAPI v3 tags PATCH with kind and fieldValidation", async () => {
    const { send } = setup();
    const groups: any = await (await send("GET", "/apis")).json();
    const names = groups.groups.map((group: { name: string }) => group.name);
    expect(names).toContain("crd.k8s.amazonaws.com");
    expect(names).toContain("vpcresources.k8s.aws");
    const resources: any = await (await send("GET", "/apis/vpcresources.k8s.aws/v1alpha1")).json();
    expect(resources.resources).toContainEqual(expect.objectContaining({ name: "cninodes", kind: "CNINode", namespaced: false }));
    const root: any = await (await send("GET", "/openapi/v3")).json();
    const url = root.paths["apis/crd.k8s.amazonaws.com/v1alpha1"].serverRelativeURL as string;
    const spec: any = await (await send("GET", url)).json();
    const patch = spec.paths["/apis/crd.k8s.amazonaws.com/v1alpha1/eniconfigs/{name}"].patch;
    expect(patch["x-kubernetes-group-version-kind"]).toEqual({ group: "crd.k8s.amazonaws.com", version: "v1alpha1", kind: "ENIConfig" });
    expect(patch.parameters.map((parameter: { name: string }) => parameter.name)).toContain("fieldValidation");
  });
});
