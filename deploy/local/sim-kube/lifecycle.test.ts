// Server-owned metadata, graceful deletion, finalizers and binding, through the HTTP handlers
// in process (app.request), checked on what the store then holds and what watchers see.
import { describe, expect, test } from "bun:test";
import { createKubeApp } from "./app.ts";
import { KubeStore } from "./store.ts";
import type { StoredChange } from "./store.ts";

function setup() {
  let now = new Date("2026-01-01T00:00:00Z");
  const store = new KubeStore({ now: () => now });
  for (const name of ["default", "kube-system"]) store.create("namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name } });
  const { app } = createKubeApp(store);
  const send = async (method: string, path: string, body?: unknown, contentType = "application/json") => {
    const response = await app.request(path, { method, headers: { "content-type": contentType }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as any };
  };
  const changes: StoredChange[] = [];
  store.subscribe((change) => changes.push(change));
  return { store, send, changes, advance: (seconds: number) => (now = new Date(now.getTime() + seconds * 1000)) };
}

const PODS = "/api/v1/namespaces/default/pods";
const DAEMONSETS = "/apis/apps/v1/namespaces/kube-system/daemonsets";
const pod = (name: string, spec: Record<string, unknown> = {}) => ({ metadata: { name }, spec: { containers: [{ name: "c", image: "busybox:1" }], ...spec } });
const daemonSet = (image: string) => ({
  apiVersion: "apps/v1",
  kind: "DaemonSet",
  metadata: { name: "aws-node" },
  spec: { selector: { matchLabels: { app: "a" } }, template: { metadata: { labels: { app: "a" } }, spec: { containers: [{ name: "aws-node", image }] } } },
});

describe("server-owned metadata", () => {
  test("uid and creationTimestamp are the server's whatever the client sends; updates cannot change them", async () => {
    const { send } = setup();
    const created = await send("POST", PODS, { ...pod("p"), metadata: { name: "p", uid: "mine", creationTimestamp: "2000-01-01T00:00:00Z", resourceVersion: "99" } });
    expect(created.status).toBe(201);
    expect(created.body.metadata.uid).not.toBe("mine");
    expect(created.body.metadata.creationTimestamp).toBe("2026-01-01T00:00:00Z");
    const patched = await send("PATCH", `${PODS}/p`, { metadata: { uid: "other", labels: { a: "1" } } }, "application/merge-patch+json");
    expect(patched.body.metadata.uid).toBe(created.body.metadata.uid);
    expect(patched.body.metadata.labels).toEqual({ a: "1" });
  });

  test("a DaemonSet's generation moves with its spec only; its template generation with its template only", async () => {
    const { send } = setup();
    const created = await send("POST", DAEMONSETS, daemonSet("img:1"));
    expect(created.body.metadata.generation).toBe(1);
    expect(created.body.metadata.annotations["deprecated.daemonset.template.generation"]).toBe("1");
    const path = `${DAEMONSETS}/aws-node`;
    const labelled = await send("PATCH", path, { metadata: { labels: { x: "y" } } }, "application/merge-patch+json");
    expect(labelled.body.metadata.generation).toBe(1);
    const status = await send("PATCH", `${path}/status`, { status: { numberReady: 3, desiredNumberScheduled: 3 } }, "application/merge-patch+json");
    expect(status.body.metadata.generation).toBe(1);
    const strategy = await send("PATCH", path, { spec: { minReadySeconds: 5 } }, "application/merge-patch+json");
    expect(strategy.body.metadata.generation).toBe(2);
    expect(strategy.body.metadata.annotations["deprecated.daemonset.template.generation"]).toBe("1");
    const env = await send("PATCH", path, { spec: { template: { spec: { containers: [{ name: "aws-node", env: [{ name: "K", value: "V" }] }] } } } }, "application/strategic-merge-patch+json");
    expect(env.body.metadata.generation).toBe(3);
    expect(env.body.metadata.annotations["deprecated.daemonset.template.generation"]).toBe("2");
    expect(env.body.status.numberReady).toBe(3);
  });

  test("defaults: a DaemonSet rolls one node at a time; a pod gets the service account and not-ready tolerations", async () => {
    const { send } = setup();
    const created = await send("POST", DAEMONSETS, daemonSet("img:1"));
    expect(created.body.spec.updateStrategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
    expect(created.body.spec.template.spec.containers[0]).toMatchObject({ imagePullPolicy: "IfNotPresent", terminationMessagePath: "/dev/termination-log" });
    const p = await send("POST", PODS, pod("p", { containers: [{ name: "c", image: "busybox", readinessProbe: { exec: { command: ["true"] } } }] }));
    expect(p.body.spec).toMatchObject({ serviceAccountName: "default", terminationGracePeriodSeconds: 30, schedulerName: "default-scheduler" });
    expect(p.body.spec.containers[0].imagePullPolicy).toBe("Always");
    expect(p.body.spec.containers[0].readinessProbe).toMatchObject({ timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 });
    expect(p.body.spec.tolerations.map((t: { key: string }) => t.key)).toEqual(["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]);
  });

  test("refused: a namespace that does not exist, a changed pod spec, a changed DaemonSet selector, a bad maxUnavailable", async () => {
    const { send, store } = setup();
    const elsewhere = await send("POST", "/api/v1/namespaces/nowhere/pods", pod("p"));
    expect([elsewhere.status, elsewhere.body.message]).toEqual([404, 'namespaces "nowhere" not found']);
    await send("POST", PODS, pod("p"));
    const moved = await send("PATCH", `${PODS}/p`, { spec: { nodeName: "n1" } }, "application/merge-patch+json");
    expect(moved.status).toBe(422);
    expect(moved.body.details.causes[0].field).toBe("spec");
    const image = await send("PATCH", `${PODS}/p`, { spec: { containers: [{ name: "c", image: "busybox:2" }] } }, "application/strategic-merge-patch+json");
    expect(image.status).toBe(200);
    await send("POST", DAEMONSETS, daemonSet("img:1"));
    const selector = await send("PATCH", `${DAEMONSETS}/aws-node`, { spec: { selector: { matchLabels: { app: "b" } }, template: { metadata: { labels: { app: "b" } } } } }, "application/merge-patch+json");
    expect([selector.status, selector.body.details.causes[0].field]).toEqual([422, "spec.selector"]);
    const strategy = await send("PATCH", `${DAEMONSETS}/aws-node`, { spec: { updateStrategy: { rollingUpdate: { maxUnavailable: "150%" } } } }, "application/merge-patch+json");
    expect([strategy.status, strategy.body.details.causes[0].field]).toEqual([422, "spec.updateStrategy.rollingUpdate.maxUnavailable"]);
    expect(store.get("daemonsets.apps", "kube-system", "aws-node")?.metadata.generation).toBe(1);
  });
});

describe("deletion", () => {
  test("a bound pod is deleted gracefully (MODIFIED), then for good with gracePeriodSeconds=0 (DELETED)", async () => {
    const { send, store, changes } = setup();
    await send("POST", PODS, pod("p", { nodeName: "n1", terminationGracePeriodSeconds: 10 }));
    changes.length = 0;
    const first = await send("DELETE", `${PODS}/p`, { propagationPolicy: "Background" });
    expect(first.status).toBe(200);
    expect(first.body.metadata).toMatchObject({ deletionTimestamp: "2026-01-01T00:00:10Z", deletionGracePeriodSeconds: 10 });
    expect(store.get("pods", "default", "p")).toBeDefined();
    // deleting again with a longer period changes nothing; a shorter one shortens it
    await send("DELETE", `${PODS}/p?gracePeriodSeconds=20`);
    expect(store.get("pods", "default", "p")?.metadata.deletionGracePeriodSeconds).toBe(10);
    await send("DELETE", `${PODS}/p`, { gracePeriodSeconds: 0 });
    expect(store.get("pods", "default", "p")).toBeUndefined();
    expect(changes.map((change) => change.type)).toEqual(["MODIFIED", "DELETED"]);
  });

  test("an unbound pod and a finished one are removed at once; the request's period wins over the pod's", async () => {
    const { send, store } = setup();
    await send("POST", PODS, pod("unbound"));
    await send("DELETE", `${PODS}/unbound`);
    expect(store.get("pods", "default", "unbound")).toBeUndefined();
    await send("POST", PODS, pod("done", { nodeName: "n1" }));
    await send("PATCH", `${PODS}/done/status`, { status: { phase: "Succeeded" } }, "application/merge-patch+json");
    await send("DELETE", `${PODS}/done`);
    expect(store.get("pods", "default", "done")).toBeUndefined();
    await send("POST", PODS, pod("quick", { nodeName: "n1" }));
    await send("DELETE", `${PODS}/quick?gracePeriodSeconds=3`);
    expect(store.get("pods", "default", "quick")?.metadata.deletionGracePeriodSeconds).toBe(3);
  });

  test("finalizers hold an object until removed; none can be added meanwhile; Foreground and Orphan add the collector's", async () => {
    const { send, store } = setup();
    await send("POST", "/api/v1/namespaces/default/configmaps", { metadata: { name: "held", finalizers: ["example.com/hold"] } });
    await send("DELETE", "/api/v1/namespaces/default/configmaps/held");
    const held = store.get("configmaps", "default", "held");
    expect(held?.metadata.deletionTimestamp).toBe("2026-01-01T00:00:00Z");
    const added = await send("PATCH", "/api/v1/namespaces/default/configmaps/held", { metadata: { finalizers: ["example.com/hold", "another"] } }, "application/merge-patch+json");
    expect([added.status, added.body.details.causes[0].field]).toEqual([422, "metadata.finalizers"]);
    await send("PATCH", "/api/v1/namespaces/default/configmaps/held", { metadata: { finalizers: null } }, "application/merge-patch+json");
    expect(store.get("configmaps", "default", "held")).toBeUndefined();

    await send("POST", DAEMONSETS, daemonSet("img:1"));
    await send("DELETE", `${DAEMONSETS}/aws-node`, { propagationPolicy: "Foreground" });
    const foreground = store.get("daemonsets.apps", "kube-system", "aws-node");
    expect(foreground?.metadata.finalizers).toEqual(["foregroundDeletion"]);
    expect(foreground?.metadata.generation).toBe(2);
    const bad = await send("DELETE", `${DAEMONSETS}/aws-node`, { propagationPolicy: "Sideways" });
    expect([bad.status, bad.body.details.causes[0].field]).toEqual([422, "propagationPolicy"]);
  });
});

describe("pods/binding", () => {
  test("binds once: spec.nodeName and PodScheduled set; a second binding and a deleting pod are 409", async () => {
    const { send, store } = setup();
    await send("POST", PODS, pod("p"));
    const bound = await send("POST", `${PODS}/p/binding`, { apiVersion: "v1", kind: "Binding", metadata: { name: "p" }, target: { apiVersion: "v1", kind: "Node", name: "n1" } });
    expect([bound.status, bound.body.status]).toEqual([201, "Success"]);
    const stored = store.get("pods", "default", "p") as any;
    expect(stored.spec.nodeName).toBe("n1");
    expect(stored.status.conditions).toEqual([{ type: "PodScheduled", status: "True", lastProbeTime: null, lastTransitionTime: "2026-01-01T00:00:00Z" }]);
    const again = await send("POST", `${PODS}/p/binding`, { metadata: { name: "p" }, target: { name: "n2" } });
    expect([again.status, again.body.reason]).toEqual([409, "Conflict"]);
    expect(again.body.message).toContain('already assigned to node "n1"');
    expect((store.get("pods", "default", "p") as any).spec.nodeName).toBe("n1");
    const missing = await send("POST", `${PODS}/nope/binding`, { target: { name: "n1" } });
    expect(missing.status).toBe(404);
    const noTarget = await send("POST", `${PODS}/p/binding`, { metadata: { name: "p" } });
    expect(noTarget.status).toBe(400);
  });
});

describe("field selectors kubectl describe uses", () => {
  test("events by involvedObject name, namespace and uid", async () => {
    const { send } = setup();
    const involved = (uid: string) => ({ kind: "Pod", name: "p", namespace: "default", uid });
    await send("POST", "/api/v1/namespaces/default/events", { metadata: { name: "e1" }, involvedObject: involved("u1"), reason: "Scheduled", message: "m" });
    await send("POST", "/api/v1/namespaces/default/events", { metadata: { name: "e2" }, involvedObject: involved("u2"), reason: "Scheduled", message: "m" });
    const selector = encodeURIComponent("involvedObject.name=p,involvedObject.namespace=default,involvedObject.uid=u2");
    const listed = await send("GET", `/api/v1/namespaces/default/events?fieldSelector=${selector}`);
    expect(listed.body.items.map((event: { metadata: { name: string } }) => event.metadata.name)).toEqual(["e2"]);
  });
});
