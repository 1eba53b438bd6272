// NetworkPolicy and Service as the API server serves them (in process with app.request):
// defaults, refusals naming the field, the PolicyEndpoint CRD of deploy/k8s served once
// applied, and its objects collected with their owning NetworkPolicy.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { startControlPlane } from "../controllers/control-plane.ts";
import { createKubeApp } from "./app.ts";
import { KubeStore } from "./store.ts";

function setup() {
  const store = new KubeStore();
  store.create("namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "default" } });
  const { app } = createKubeApp(store);
  const send = async (method: string, path: string, body?: unknown) => {
    const res = await app.request(path, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };
  return { store, send, app };
}

const NP = "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies";
const policy = (spec: unknown, name = "np") => ({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name }, spec });

describe("NetworkPolicy", () => {
  test("policyTypes defaulted: Ingress always, Egress when egress rules exist; port protocol TCP; podSelector {}", async () => {
    const { send } = setup();
    const ingressOnly = await send("POST", NP, policy({ ingress: [{ ports: [{ port: 80 }] }] }, "a"));
    expect(ingressOnly.status).toBe(201);
    expect(ingressOnly.body.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress"], ingress: [{ ports: [{ port: 80, protocol: "TCP" }] }] });
    const withEgress = await send("POST", NP, policy({ podSelector: {}, egress: [{}] }, "b"));
    expect(withEgress.body.spec.policyTypes).toEqual(["Ingress", "Egress"]);
    const explicit = await send("POST", NP, policy({ podSelector: {}, policyTypes: ["Egress"] }, "c"));
    expect(explicit.body.spec.policyTypes).toEqual(["Egress"]);
  });

  test.each([
    [{ podSelector: {}, policyTypes: ["Sideways"] }, "spec.policyTypes[0]"],
    [{ podSelector: { matchExpressions: [{ key: "a", operator: "In" }] } }, "spec.podSelector.matchExpressions[0].values"],
    [{ podSelector: {}, ingress: [{ ports: [{ port: 70000 }] }] }, "spec.ingress[0].ports[0].port"],
    [{ podSelector: {}, ingress: [{ ports: [{ port: "http", endPort: 90 }] }] }, "spec.ingress[0].ports[0].endPort"],
    [{ podSelector: {}, ingress: [{ ports: [{ port: 90, endPort: 80 }] }] }, "spec.ingress[0].ports[0].endPort"],
    [{ podSelector: {}, ingress: [{ ports: [{ protocol: "ICMP" }] }] }, "spec.ingress[0].ports[0].protocol"],
    [{ podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: "10.0.0.0/33" } }] }] }, "spec.egress[0].to[0].ipBlock.cidr"],
    [{ podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: "10.0.0.0/16", except: ["10.1.0.0/24"] } }] }] }, "spec.egress[0].to[0].ipBlock.except[0]"],
    [{ podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: "10.0.0.0/16" }, podSelector: {} }] }] }, "spec.egress[0].to[0]"],
    [{ podSelector: {}, ingress: [{ from: [{}] }] }, "spec.ingress[0].from[0]"],
  ])("refused, naming the field: %j", async (spec, field) => {
    const { send, store } = setup();
    const answer = await send("POST", NP, policy(spec));
    expect(answer.status).toBe(422);
    expect(answer.body.details.causes.map((c: { field: string }) => c.field)).toContain(field);
    expect(store.list("networkpolicies.networking.k8s.io")).toEqual([]);
  });

  test("served with shortName netpol; printed with its pod selector", async () => {
    const { send, app } = setup();
    const resources = await send("GET", "/apis/networking.k8s.io/v1");
    expect(resources.body.resources[0]).toMatchObject({ name: "networkpolicies", kind: "NetworkPolicy", namespaced: true, shortNames: ["netpol"] });
    await send("POST", NP, policy({ podSelector: { matchLabels: { app: "web" } } }));
    await send("POST", NP, policy({}, "all"));
    const res = await app.request(NP, { headers: { accept: "application/json;as=Table;g=meta.k8s.io;v=v1" } });
    const table = (await res.json()) as { columnDefinitions: Array<{ name: string }>; rows: Array<{ cells: unknown[] }> };
    expect(table.columnDefinitions.map((c) => c.name)).toEqual(["Name", "Pod-Selector", "Age"]);
    expect(table.rows.map((r) => r.cells.slice(0, 2))).toEqual([["all", "<none>"], ["np", "app=web"]]);
  });
});

describe("Service", () => {
  test("a ClusterIP allocated (distinct), targetPort and protocol defaulted; headless kept", async () => {
    const { send } = setup();
    const a = await send("POST", "/api/v1/namespaces/default/services", { metadata: { name: "a" }, spec: { selector: { app: "a" }, ports: [{ port: 80 }] } });
    const b = await send("POST", "/api/v1/namespaces/default/services", { metadata: { name: "b" }, spec: { ports: [{ port: 80 }] } });
    const headless = await send("POST", "/api/v1/namespaces/default/services", { metadata: { name: "h" }, spec: { clusterIP: "None", ports: [{ port: 80 }] } });
    expect(a.body.spec.ports).toEqual([{ port: 80, protocol: "TCP", targetPort: 80 }]);
    expect(a.body.spec.clusterIP).toMatch(/^10\.100\.\d+\.\d+$/);
    expect(b.body.spec.clusterIP).not.toBe(a.body.spec.clusterIP);
    expect(headless.body.spec.clusterIP).toBe("None");
    const bad = await send("POST", "/api/v1/namespaces/default/services", { metadata: { name: "x" }, spec: { ports: [{ port: 80, targetPort: "Not_A_Name" }] } });
    expect(bad.status).toBe(422);
    expect(bad.body.details.causes[0].field).toBe("spec.ports[0].targetPort");
  });
});

describe("PolicyEndpoint", () => {
  test("the CRD of deploy/k8s is served once applied, and a policy's objects go with it (garbage collector)", async () => {
    const { send, store } = setup();
    const crd = Bun.YAML.parse(await Bun.file(join(import.meta.dir, "../../k8s/policyendpoint-crd.yaml")).text());
    expect((await send("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)).status).toBe(201);
    const np = await send("POST", NP, policy({ podSelector: {} }));
    const pe = await send("POST", "/apis/networking.k8s.aws/v1alpha1/namespaces/default/policyendpoints", {
      apiVersion: "networking.k8s.aws/v1alpha1",
      kind: "PolicyEndpoint",
      metadata: { generateName: "np-", ownerReferences: [{ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", name: "np", uid: np.body.metadata.uid, controller: true, blockOwnerDeletion: true }] },
      spec: { policyRef: { name: "np", namespace: "default" } },
    });
    expect(pe.status).toBe(201);
    expect(pe.body.metadata.name).toMatch(/^np-/);
    const plane = startControlPlane(store);
    try {
      expect((await send("DELETE", `${NP}/np`)).status).toBe(200);
      const deadline = Date.now() + 5000;
      while (store.list("policyendpoints.networking.k8s.aws").length > 0 && Date.now() < deadline) await Bun.sleep(20);
      expect(store.list("policyendpoints.networking.k8s.aws")).toEqual([]);
    } finally {
      plane.stop();
    }
  });
});
