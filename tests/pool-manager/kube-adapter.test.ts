// pool-manager's Kubernetes adapter against the simulated API (deploy/local/sim-kube) over
// HTTP through shared/kube-rest.ts, configured from a kubeconfig file as main.ts does.
// (Its pure readings are tested beside kube-node.ts.)
import { afterEach, describe, expect, test } from "bun:test";
import { kubeWorld, until, type KubeWorld } from "./kube-world.ts";

let w: KubeWorld | undefined;
afterEach(async () => {
  await w?.stop();
  w = undefined;
});

const ANN = "k8s.amazonaws.com/eniConfig";

describe("ENIConfig through the API", () => {
  test("selection precedence on real Node objects, and the ENIConfig's subnet and security groups", async () => {
    w = await kubeWorld();
    for (const n of ["ext", "ann", "lab", "default"]) w.eniConfig(n, `subnet-${n}`, [`sg-${n}`]);
    w.node("n-ext", { labels: { "vpc.amazonaws.com/externalEniConfig": "ext", [ANN]: "lab" }, annotations: { [ANN]: "ann" } });
    w.node("n-ann", { labels: { [ANN]: "lab" }, annotations: { [ANN]: "ann" } });
    w.node("n-lab", { labels: { [ANN]: "lab" } });
    w.node("n-def");
    const got: Record<string, unknown> = {};
    for (const n of ["n-ext", "n-ann", "n-lab", "n-def"]) got[n] = await w.adapter(n).myEniConfig();
    expect(got).toEqual({
      "n-ext": { name: "ext", subnetId: "subnet-ext", securityGroups: ["sg-ext"] },
      "n-ann": { name: "ann", subnetId: "subnet-ann", securityGroups: ["sg-ann"] },
      "n-lab": { name: "lab", subnetId: "subnet-lab", securityGroups: ["sg-lab"] },
      "n-def": { name: "default", subnetId: "subnet-default", securityGroups: ["sg-default"] },
    });
    // ENI_CONFIG_ANNOTATION_DEF / ENI_CONFIG_LABEL_DEF set to other keys: the default keys do not count.
    w.node("n-custom", { labels: { "topology.example.com/zone": "lab", [ANN]: "ann" } });
    expect(await w.adapter("n-custom", { eniConfigLabel: "topology.example.com/zone", eniConfigAnnotation: "example.com/none" }).myEniConfig()).toMatchObject({ name: "lab" });
  });

  test("a missing ENIConfig is named with the node; creating it later is picked up", async () => {
    w = await kubeWorld();
    w.node("n1", { labels: { [ANN]: "us-west-2a-pods" } });
    const a = w.adapter("n1", { nodeCacheMs: 0 });
    expect(await a.myEniConfig()).toEqual({ missing: `no ENIConfig named us-west-2a-pods for node n1 (from label ${ANN})` });
    w.eniConfig("us-west-2a-pods", "subnet-pods", ["sg-1", "sg-2"]);
    expect(await a.myEniConfig()).toEqual({ name: "us-west-2a-pods", subnetId: "subnet-pods", securityGroups: ["sg-1", "sg-2"] });
    // Upstream: a non-default ENIConfig is announced on the CNINode as the CustomNetworking feature.
    const cni = await w.get("/apis/vpcresources.k8s.aws/v1alpha1/cninodes/n1");
    expect(cni.spec).toEqual({ features: [{ name: "CustomNetworking", value: "us-west-2a-pods" }] });
  });
});

describe("pods scheduled to the node", () => {
  test("counted from the list, then kept current by the watch; other nodes, host-network and addressed pods ignored", async () => {
    w = await kubeWorld();
    w.node("n1");
    w.pod("before", "n1");
    w.pod("addressed", "n1", { podIP: "10.0.1.9", phase: "Running" });
    w.pod("hostnet", "n1", { hostNetwork: true });
    w.pod("elsewhere", "n2");
    let changes = 0;
    const a = w.adapter("n1", { onChange: () => changes++ });
    a.start();
    await until(async () => (await a.pendingPods()) === 1, "the listed pod counted");
    w.pod("new-1", "n1", { namespace: "kube-system" });
    w.pod("new-2", "n1");
    w.pod("other-node", "n2");
    await until(async () => (await a.pendingPods()) === 3, "two watched pods added");
    w.setPodIp("new-2", "10.0.1.10");
    await until(async () => (await a.pendingPods()) === 2, "an addressed pod no longer pending");
    w.deletePod("before");
    await until(async () => (await a.pendingPods()) === 1, "a deleted pod no longer pending");
    expect(changes).toBeGreaterThan(0);
    expect(a.debug().pods).toMatchObject({ watching: true, needingAddress: 1 });
  });

  test("a watch that expired (410) is re-listed and counting goes on", async () => {
    w = await kubeWorld({ historyLimit: 1 });
    w.node("n1");
    const a = w.adapter("n1");
    a.start();
    await until(() => a.debug().pods !== undefined && (a.debug().pods as { watching: boolean }).watching, "watching");
    for (let i = 0; i < 5; i++) w.pod(`far-${i}`, "n2"); // history moves on beyond the watch's resourceVersion
    w.served.kube.closeWatches(); // a clean close: the adapter resumes from its resourceVersion → 410
    w.pod("after", "n1");
    await until(async () => (await a.pendingPods()) === 1, "pod seen after the re-list");
    expect(a.debug().relists).toBeGreaterThan(0);
  });
});

describe("node state, events, security groups for pods", () => {
  test("the unschedulable taint is seen, and its removal", async () => {
    w = await kubeWorld();
    w.node("n1", { taints: [{ key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" }] });
    const a = w.adapter("n1", { nodeCacheMs: 0 });
    expect(await a.nodeUnschedulable()).toBe(true);
    w.node("n1", { taints: [] });
    expect(await a.nodeUnschedulable()).toBe(false);
  });

  test("max pods is the Node's status.capacity.pods (the kubelet's --max-pods), unknown without it", async () => {
    w = await kubeWorld();
    w.node("n1", { capacityPods: 234 });
    w.node("n2");
    expect(await w.adapter("n1", { nodeCacheMs: 0 }).nodeMaxPods()).toBe(234);
    expect(await w.adapter("n2", { nodeCacheMs: 0 }).nodeMaxPods()).toBeUndefined();
  });

  test("UnauthorizedOperation → one Warning event on the Node per action, read back from the events list", async () => {
    w = await kubeWorld();
    w.node("n1");
    const a = w.adapter("n1");
    await a.ec2Unauthorized("CreateNetworkInterface", "You are not authorized to perform this operation.");
    await a.ec2Unauthorized("CreateNetworkInterface", "again");
    await a.ec2Unauthorized("AssignPrivateIpAddresses");
    const events = (await w.get("/api/v1/namespaces/default/events?fieldSelector=reason%3DMissingIAMPermissions")).items as { type: string; involvedObject: { kind: string; name: string; uid?: string }; message: string }[];
    expect(events).toHaveLength(2);
    expect(events.every((e) => e.type === "Warning" && e.involvedObject.kind === "Node" && e.involvedObject.name === "n1" && !!e.involvedObject.uid)).toBe(true);
    expect(events.map((e) => e.message.match(/ec2:(\w+)/)?.[1]).sort()).toEqual(["AssignPrivateIpAddresses", "CreateNetworkInterface"]);
  });

  test("MY_POD_NAME: the Warning event goes on the aws-node pod in kube-system (with its uid), as upstream; none on the Node", async () => {
    w = await kubeWorld();
    w.node("n1");
    w.pod("aws-node-x7k2p", "n1", { namespace: "kube-system", hostNetwork: true });
    await w.adapter("n1", { podName: "aws-node-x7k2p" }).ec2Unauthorized("CreateNetworkInterface", "You are not authorized to perform this operation.");
    type Ev = { type: string; reason: string; involvedObject: { kind: string; name: string; namespace?: string; uid?: string } };
    const inKubeSystem = (await w.get("/api/v1/namespaces/kube-system/events")).items as Ev[];
    const pod = await w.get("/api/v1/namespaces/kube-system/pods/aws-node-x7k2p");
    expect(inKubeSystem.map((e) => ({ type: e.type, reason: e.reason, on: e.involvedObject }))).toEqual([
      { type: "Warning", reason: "MissingIAMPermissions", on: { apiVersion: "v1", kind: "Pod", name: "aws-node-x7k2p", namespace: "kube-system", uid: (pod.metadata as { uid: string }).uid } } as never,
    ]);
    expect((await w.get("/api/v1/namespaces/default/events")).items).toEqual([]);
  });

  test("ENABLE_POD_ENI: CNINode created with SecurityGroupsForPods; the obsolete has-trunk-attached label is not set", async () => {
    w = await kubeWorld();
    w.node("n1");
    await w.adapter("n1").ensureSecurityGroupsForPods();
    const node = await w.get("/api/v1/nodes/n1");
    expect(Object.keys((node.metadata as { labels?: Record<string, string> }).labels ?? {})).not.toContain("vpc.amazonaws.com/has-trunk-attached");
    const cni = await w.get("/apis/vpcresources.k8s.aws/v1alpha1/cninodes/n1");
    expect(cni.spec).toEqual({ features: [{ name: "SecurityGroupsForPods" }] });
  });

  test("an existing CNINode keeps its features; a trunk label already true is left alone", async () => {
    w = await kubeWorld();
    w.node("n1", { labels: { "vpc.amazonaws.com/has-trunk-attached": "true" } });
    w.served.store.create("cninodes.vpcresources.k8s.aws", { apiVersion: "vpcresources.k8s.aws/v1alpha1", kind: "CNINode", metadata: { name: "n1" }, spec: { features: [{ name: "CustomNetworking", value: "x" }] } });
    await w.adapter("n1").ensureSecurityGroupsForPods();
    const node = await w.get("/api/v1/nodes/n1");
    expect((node.metadata as { labels: Record<string, string> }).labels["vpc.amazonaws.com/has-trunk-attached"]).toBe("true");
    const cni = await w.get("/apis/vpcresources.k8s.aws/v1alpha1/cninodes/n1");
    expect(cni.spec).toEqual({ features: [{ name: "CustomNetworking", value: "x" }, { name: "SecurityGroupsForPods" }] });
  });
});

describe("API unreachable", () => {
  for (const mode of ["refuse", "503"] as const) {
    test(`${mode}: the reason and the retry are on debug, ENIConfig reports it, and all recovers when the API is back`, async () => {
      w = await kubeWorld();
      w.node("n1", { labels: { [ANN]: "pods" } });
      w.eniConfig("pods", "subnet-pods", ["sg-p"]);
      w.pod("p1", "n1");
      w.served.setUnreachable(mode);
      const logs: string[] = [];
      const a = w.adapter("n1", { log: (_l, msg) => logs.push(msg), retry: { firstMs: 100, maxMs: 400 } });
      a.start();
      await until(() => a.debug().phase === "unreachable", "unreachable seen");
      const status = String(a.debug().status);
      expect(status).toStartWith(`kubernetes: unreachable at ${w.served.url}: `);
      expect(status).toMatch(/, retrying in \d+ s$/);
      if (mode === "503") expect(status).toContain("HTTP 503");
      expect(logs.some((l) => l.startsWith(`Kubernetes API unreachable at ${w!.served.url}`))).toBe(true);
      const cfg = await a.myEniConfig();
      expect(cfg).toHaveProperty("missing");
      expect((cfg as { missing: string }).missing).toContain(`Kubernetes API unreachable at ${w.served.url}`);
      expect(await a.pendingPods()).toBe(0); // no stale demand while blind

      w.served.setUnreachable(false);
      await until(() => a.debug().phase === "connected", "reconnected");
      await until(async () => (await a.pendingPods()) === 1, "pods re-listed");
      expect(await a.myEniConfig()).toEqual({ name: "pods", subnetId: "subnet-pods", securityGroups: ["sg-p"] });
      expect(logs).toContain("Kubernetes API reachable again");
    });
  }

  test("an ENIConfig read before an outage keeps being used during it", async () => {
    w = await kubeWorld();
    w.node("n1");
    w.eniConfig("default", "subnet-d", []);
    const a = w.adapter("n1", { nodeCacheMs: 0 });
    expect(await a.myEniConfig()).toMatchObject({ subnetId: "subnet-d" });
    w.served.setUnreachable("503");
    expect(await a.myEniConfig()).toMatchObject({ subnetId: "subnet-d" });
  });
});
