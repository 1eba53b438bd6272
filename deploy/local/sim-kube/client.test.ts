// The simulated Kubernetes API driven by the real @kubernetes/client-node 2.x over TCP.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  Watch,
} from "@kubernetes/client-node";
import type { V1Pod } from "@kubernetes/client-node";
import { serveKube } from "./serve.ts";
import type { ServedKube } from "./serve.ts";

const TOKEN = "test-token";
let kube: ServedKube;
let core: CoreV1Api;
let custom: CustomObjectsApi;
let config: KubeConfig;

function configFor(url: string, token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "sim", server: url, skipTLSVerify: true }],
    users: [{ name: "sim", token }],
    contexts: [{ name: "sim", cluster: "sim", user: "sim" }],
    currentContext: "sim",
  });
  return kc;
}

beforeAll(() => {
  kube = serveKube({ hostname: "127.0.0.1", port: 0, token: TOKEN, bookmarkIntervalMs: 100 });
  config = configFor(kube.url, TOKEN);
  core = config.makeApiClient(CoreV1Api);
  custom = config.makeApiClient(CustomObjectsApi);
});
afterAll(async () => {
  await kube.stop();
});
afterEach(() => {
  kube.setUnreachable(false);
});

/** The HTTP status and the Status body of a refused call. */
async function refusal(call: Promise<unknown>): Promise<{ code: number; reason?: string; message?: string; causes?: Array<{ field: string }> }> {
  try {
    await call;
  } catch (error) {
    const { code, body } = error as { code: number; body: unknown };
    const status = typeof body === "string" && body !== "" ? JSON.parse(body) : (body ?? {});
    return { code, reason: status.reason, message: status.message, causes: status.details?.causes };
  }
  throw new Error("expected the call to be refused");
}

const podOn = (name: string, nodeName: string, labels: Record<string, string> = {}): V1Pod => ({
  metadata: { name, labels },
  spec: { nodeName, containers: [{ name: "main", image: "busybox" }] },
});

describe("nodes", () => {
  test("create, get, list", async () => {
    await core.createNode({ body: { metadata: { name: "node-1", labels: { zone: "a" } } } });
    await core.createNode({ body: { metadata: { name: "node-2", labels: { zone: "b" } } } });
    const node = await core.readNode({ name: "node-1" });
    expect(node.metadata?.labels).toEqual({ zone: "a" });
    expect(node.metadata?.uid).toBeString();
    const names = (await core.listNode({ labelSelector: "zone in (a,b)" })).items.map((n) => n.metadata?.name);
    expect(names).toEqual(["node-1", "node-2"]);
    expect((await core.listNode({ labelSelector: "zone=b" })).items.map((n) => n.metadata?.name)).toEqual(["node-2"]);
  });

  test("patch labels and annotations (merge patch), taints (strategic), and a JSON patch", async () => {
    await core.createNode({ body: { metadata: { name: "node-p" } } });
    await core.patchNode(
      { name: "node-p", body: { metadata: { labels: { "vpc.amazonaws.com/eniConfig": "az-a" }, annotations: { note: "x" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await core.patchNode(
      { name: "node-p", body: { spec: { taints: [{ key: "ebs", value: "x", effect: "NoSchedule" }] } } },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    await core.patchNode({ name: "node-p", body: [{ op: "add", path: "/metadata/labels/extra", value: "1" }] });
    const node = await core.readNode({ name: "node-p" });
    expect(node.metadata?.labels).toEqual({ "vpc.amazonaws.com/eniConfig": "az-a", extra: "1" });
    expect(node.metadata?.annotations).toEqual({ note: "x" });
    expect(node.spec?.taints).toEqual([{ key: "ebs", value: "x", effect: "NoSchedule" }]);
  });

  test("an invalid taint is 422 naming the field, and changes nothing", async () => {
    await core.createNode({ body: { metadata: { name: "node-t" } } });
    const answer = await refusal(
      core.patchNode({ name: "node-t", body: { spec: { taints: [{ key: "k", effect: "Sometimes" }] } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch)),
    );
    expect(answer.code).toBe(422);
    expect(answer.reason).toBe("Invalid");
    expect(answer.causes?.map((cause) => cause.field)).toEqual(["spec.taints[0].effect"]);
    expect((await core.readNode({ name: "node-t" })).spec?.taints).toBeUndefined();
  });
});

describe("pods", () => {
  test("create, get, list by node and label, patch annotations, delete", async () => {
    await core.createNamespacedPod({ namespace: "default", body: podOn("a1", "node-a", { app: "web" }) });
    await core.createNamespacedPod({ namespace: "default", body: podOn("a2", "node-a", { app: "db" }) });
    await core.createNamespacedPod({ namespace: "kube-system", body: podOn("b1", "node-b", { app: "web" }) });

    const onA = await core.listPodForAllNamespaces({ fieldSelector: "spec.nodeName=node-a" });
    expect(onA.items.map((pod) => pod.metadata?.name)).toEqual(["a1", "a2"]);
    const web = await core.listPodForAllNamespaces({ labelSelector: "app=web" });
    expect(web.items.map((pod) => `${pod.metadata?.namespace}/${pod.metadata?.name}`)).toEqual(["default/a1", "kube-system/b1"]);
    const inDefault = await core.listNamespacedPod({ namespace: "default", fieldSelector: "spec.nodeName!=node-a" });
    expect(inDefault.items).toEqual([]);

    const pod = await core.readNamespacedPod({ namespace: "default", name: "a1" });
    expect(pod.status?.phase).toBe("Pending");
    await core.patchNamespacedPod(
      { namespace: "default", name: "a1", body: { metadata: { annotations: { "vpc.amazonaws.com/pod-ips": "10.0.0.5" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    const patched = await core.readNamespacedPod({ namespace: "default", name: "a1" });
    expect(patched.metadata?.annotations).toEqual({ "vpc.amazonaws.com/pod-ips": "10.0.0.5" });
    expect(Number(patched.metadata?.resourceVersion)).toBeGreaterThan(Number(pod.metadata?.resourceVersion));

    // bound to a node: deleted gracefully (the pod's 30 s), gone once deleted again with 0 s, as the kubelet does
    await core.deleteNamespacedPod({ namespace: "default", name: "a1" });
    const terminating = await core.readNamespacedPod({ namespace: "default", name: "a1" });
    expect(terminating.metadata?.deletionGracePeriodSeconds).toBe(30);
    expect(terminating.metadata?.deletionTimestamp).toBeInstanceOf(Date);
    await core.deleteNamespacedPod({ namespace: "default", name: "a1", gracePeriodSeconds: 0 });
    expect((await refusal(core.readNamespacedPod({ namespace: "default", name: "a1" }))).code).toBe(404);
  });

  test("errors: AlreadyExists, NotFound, Invalid, BadRequest for an unknown field selector", async () => {
    await core.createNamespacedPod({ namespace: "default", body: podOn("dup", "node-a") });
    const duplicate = await refusal(core.createNamespacedPod({ namespace: "default", body: podOn("dup", "node-a") }));
    expect([duplicate.code, duplicate.reason]).toEqual([409, "AlreadyExists"]);

    const missing = await refusal(core.deleteNamespacedPod({ namespace: "default", name: "nope" }));
    expect([missing.code, missing.reason]).toEqual([404, "NotFound"]);

    const noContainers = await refusal(core.createNamespacedPod({ namespace: "default", body: { metadata: { name: "empty" }, spec: { containers: [] } } }));
    expect([noContainers.code, noContainers.reason]).toEqual([422, "Invalid"]);
    expect(noContainers.causes?.map((cause) => cause.field)).toEqual(["spec.containers"]);

    const badName = await refusal(core.createNamespacedPod({ namespace: "default", body: podOn("Bad_Name", "node-a") }));
    expect(badName.causes?.map((cause) => cause.field)).toEqual(["metadata.name"]);

    const selector = await refusal(core.listPodForAllNamespaces({ fieldSelector: "spec.hostname=x" }));
    expect([selector.code, selector.reason]).toEqual([400, "BadRequest"]);
    expect(selector.message).toContain("spec.hostname");

    const wrongNamespace = await refusal(core.createNamespacedPod({ namespace: "default", body: { ...podOn("wn", "n"), metadata: { name: "wn", namespace: "other" } } }));
    expect(wrongNamespace.code).toBe(400);
    expect(await refusal(core.readNamespacedPod({ namespace: "default", name: "wn" }))).toMatchObject({ code: 404 });
  });

  test("a stale resourceVersion in a patch is a conflict", async () => {
    const created = await core.createNamespacedPod({ namespace: "default", body: podOn("rv", "node-a") });
    await core.patchNamespacedPod({ namespace: "default", name: "rv", body: { metadata: { labels: { a: "1" } } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    const stale = await refusal(
      core.patchNamespacedPod(
        { namespace: "default", name: "rv", body: { metadata: { resourceVersion: created.metadata?.resourceVersion, labels: { a: "2" } } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      ),
    );
    expect([stale.code, stale.reason]).toEqual([409, "Conflict"]);
  });

  test("dry-run create stores nothing", async () => {
    await core.createNamespacedPod({ namespace: "default", body: podOn("dry", "node-a"), dryRun: "All" });
    expect((await refusal(core.readNamespacedPod({ namespace: "default", name: "dry" }))).code).toBe(404);
  });
});

describe("watch", () => {
  test("ADDED, MODIFIED, DELETED and BOOKMARK for pods of one node, resuming from a resourceVersion", async () => {
    const start = await core.listPodForAllNamespaces({ fieldSelector: "spec.nodeName=node-w" });
    const seen: string[] = [];
    let bookmarks = 0;
    let finished: unknown = "open";
    const controller = await new Watch(config).watch(
      "/api/v1/pods",
      { fieldSelector: "spec.nodeName=node-w", allowWatchBookmarks: true, resourceVersion: start.metadata?.resourceVersion },
      (type, object: V1Pod) => {
        if (type === "BOOKMARK") bookmarks += 1;
        else if (type === "MODIFIED" && object.metadata?.deletionTimestamp) seen.push(`${type} ${object.metadata.name} deleting in ${object.metadata.deletionGracePeriodSeconds} s`);
        else seen.push(`${type} ${object.metadata?.name}`);
      },
      (error) => {
        finished = error;
      },
    );
    try {
      await core.createNamespacedPod({ namespace: "default", body: podOn("w1", "node-w") });
      await core.createNamespacedPod({ namespace: "default", body: podOn("elsewhere", "node-x") });
      await core.patchNamespacedPod({ namespace: "default", name: "w1", body: { metadata: { annotations: { k: "v" } } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
      await core.deleteNamespacedPod({ namespace: "default", name: "w1", gracePeriodSeconds: 5 });
      await core.deleteNamespacedPod({ namespace: "default", name: "w1", gracePeriodSeconds: 0 });
      const expected = ["ADDED w1", "MODIFIED w1", "MODIFIED w1 deleting in 5 s", "DELETED w1"];
      for (let i = 0; i < 100 && (seen.length < expected.length || bookmarks === 0); i += 1) await Bun.sleep(50);
      expect(seen).toEqual(expected);
      expect(bookmarks).toBeGreaterThan(0);
      expect(finished).toBe("open");
    } finally {
      controller.abort();
    }
  });

  test("without a resourceVersion the watch starts with the current objects", async () => {
    await core.createNamespacedPod({ namespace: "default", body: podOn("existing", "node-s") });
    const seen: string[] = [];
    const controller = await new Watch(config).watch("/api/v1/namespaces/default/pods", { fieldSelector: "spec.nodeName=node-s" }, (type, object: V1Pod) => {
      seen.push(`${type} ${object.metadata?.name}`);
    }, () => {});
    for (let i = 0; i < 100 && seen.length === 0; i += 1) await Bun.sleep(20);
    controller.abort();
    expect(seen).toEqual(["ADDED existing"]);
  });

  test("the server going unreachable ends the watch; the client sees it end", async () => {
    let ended = false;
    const controller = await new Watch(config).watch("/api/v1/pods", { allowWatchBookmarks: true }, () => {}, () => {
      ended = true;
    });
    kube.setUnreachable("503");
    for (let i = 0; i < 100 && !ended; i += 1) await Bun.sleep(20);
    controller.abort();
    expect(ended).toBe(true);
    expect((await refusal(core.listNode())).code).toBe(503);
  });
});

describe("ENIConfig and CNINode (CustomObjectsApi)", () => {
  const eniConfigs = { group: "crd.k8s.amazonaws.com", version: "v1alpha1", plural: "eniconfigs" };
  const cniNodes = { group: "vpcresources.k8s.aws", version: "v1alpha1", plural: "cninodes" };

  test("ENIConfig create, get, list; a bad spec is 422 naming the field", async () => {
    const body = { apiVersion: "crd.k8s.amazonaws.com/v1alpha1", kind: "ENIConfig", metadata: { name: "us-west-2a" }, spec: { subnet: "subnet-1", securityGroups: ["sg-1"] } };
    await custom.createClusterCustomObject({ ...eniConfigs, body });
    const got = (await custom.getClusterCustomObject({ ...eniConfigs, name: "us-west-2a" })) as { spec: unknown };
    expect(got.spec).toEqual({ subnet: "subnet-1", securityGroups: ["sg-1"] });
    const list = (await custom.listClusterCustomObject(eniConfigs)) as { items: Array<{ metadata: { name: string } }> };
    expect(list.items.map((item) => item.metadata.name)).toEqual(["us-west-2a"]);
    const bad = await refusal(custom.createClusterCustomObject({ ...eniConfigs, body: { ...body, metadata: { name: "bad" }, spec: { securityGroups: "sg-1" } } }));
    expect(bad.code).toBe(422);
    expect(bad.causes?.map((cause) => cause.field)).toEqual(["spec.securityGroups"]);
    const wrongKind = await refusal(custom.createClusterCustomObject({ ...eniConfigs, body: { ...body, kind: "CNINode" } }));
    expect(wrongKind.code).toBe(400);
  });

  test("CNINode create, get, patch features", async () => {
    const body = { apiVersion: "vpcresources.k8s.aws/v1alpha1", kind: "CNINode", metadata: { name: "node-1" }, spec: {} };
    await custom.createClusterCustomObject({ ...cniNodes, body });
    await custom.patchClusterCustomObject(
      { ...cniNodes, name: "node-1", body: { spec: { features: [{ name: "SecurityGroupsForPods" }] } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    const got = (await custom.getClusterCustomObject({ ...cniNodes, name: "node-1" })) as { spec: unknown };
    expect(got.spec).toEqual({ features: [{ name: "SecurityGroupsForPods" }] });
    const missing = await refusal(custom.getClusterCustomObject({ ...cniNodes, name: "node-9" }));
    expect([missing.code, missing.reason]).toEqual([404, "NotFound"]);
  });
});

describe("events and auth", () => {
  test("events: create and list in a namespace", async () => {
    await core.createNamespacedEvent({
      namespace: "kube-system",
      body: { metadata: { generateName: "aws-node." }, involvedObject: { kind: "Pod", name: "aws-node-x", namespace: "kube-system" }, reason: "MissingIAMPermissions", message: "m", type: "Warning" },
    });
    const events = await core.listNamespacedEvent({ namespace: "kube-system", fieldSelector: "reason=MissingIAMPermissions" });
    expect(events.items.map((event) => event.involvedObject.name)).toEqual(["aws-node-x"]);
    expect(events.items[0]?.metadata.name).toStartWith("aws-node.");
  });

  test("a wrong bearer token is 401", async () => {
    const stranger = configFor(kube.url, "wrong").makeApiClient(CoreV1Api);
    expect((await refusal(stranger.listNode())).code).toBe(401);
  });

  test("'refuse' closes the listener; switching back serves the same store again", async () => {
    kube.setUnreachable("refuse");
    await expect(core.listNode()).rejects.toThrow();
    kube.setUnreachable(false);
    expect((await core.listNode()).items.length).toBeGreaterThan(0);
  });
});
