// addr-broker's ANNOTATE_POD_IP against the simulated Kubernetes API (deploy/local/sim-kube,
// in-process on 127.0.0.1:0) over HTTP through shared/kube-rest.ts, driven by ADDs through
// addr-broker's app.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serveKube, writeKubeconfig, type ServedKube } from "../../deploy/local/sim-kube/serve.ts";
import { MemoryCheckpointStore } from "../../services/addr-broker/src/adapters/checkpoint-store.ts";
import type { KernelScan } from "../../services/addr-broker/src/adapters/kernel-scan.ts";
import { netConfigClient, poolManagerClient } from "../../services/addr-broker/src/adapters/peers.ts";
import { createPodAnnotator, POD_IPS_ANNOTATION, type PodAnnotator } from "../../services/addr-broker/src/adapters/pod-annotator.ts";
import { createAddrBroker, type AddrBroker } from "../../services/addr-broker/src/app/app.ts";
import { DEFAULT_SETTINGS } from "../../services/addr-broker/src/app/settings-from-config.ts";
import { silentLog } from "../../services/addr-broker/src/core/ports.ts";
import { FakeNetConfig, FakePoolManager, testCapacity } from "../../services/addr-broker/test-support/fakes.ts";
import type { UnixServer } from "../../shared/ipc/server.ts";

const TOKEN = "annotator-token";
let dir = "";
let kube: ServedKube;
let kubeconfig = "";
const servers: UnixServer[] = [];
const services: AddrBroker[] = [];
const annotators: PodAnnotator[] = [];
const liveNetns = new Set<string>();
const noKernel: KernelScan = { scan: async () => ({ pods: [], hostVeths: [] }) };
const k8s = (kc: string) => ({ kubeconfig: kc, apiServer: undefined, clusterEndpoint: undefined, nodeName: "node-1", annotatePodIp: true });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), `ab-annotate-${process.pid}-`));
  kube = serveKube({ hostname: "127.0.0.1", port: 0, token: TOKEN });
  kubeconfig = join(dir, "kubeconfig");
  await writeKubeconfig(kubeconfig, kube.url, TOKEN);
});
afterEach(async () => {
  kube.setUnreachable(false);
  for (const a of annotators.splice(0)) a.stop();
  for (const s of services.splice(0)) s.stop();
  for (const s of servers.splice(0)) await s.stop();
});
afterAll(async () => {
  await kube.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function broker(retry = { attempts: 3, firstMs: 20, maxMs: 50 }) {
  const n = services.length + servers.length;
  const netSock = join(dir, `net${n}.sock`);
  const poolSock = join(dir, `pool${n}.sock`);
  servers.push(await new FakeNetConfig("eni", (p) => liveNetns.has(p)).serve(netSock), await new FakePoolManager(testCapacity()).serve(poolSock));
  let svc: AddrBroker | undefined;
  const annotator = (await createPodAnnotator(k8s(kubeconfig), { log: silentLog, retry, requestTimeoutMs: 2_000, onResult: (r) => svc?.deps.metrics?.podIpAnnotations.inc({ result: r }) })) as PodAnnotator;
  annotators.push(annotator);
  svc = createAddrBroker(
    { ...DEFAULT_SETTINGS, missWaitMs: 0, capacityWaitMs: 200, netConfigSocket: netSock },
    { store: new MemoryCheckpointStore(), kernel: noKernel, netConfig: netConfigClient(netSock, { kernel: noKernel, vethPrefix: "eni" }), pool: poolManagerClient(poolSock), netnsExists: (p) => liveNetns.has(p), podAnnotator: annotator },
  );
  services.push(svc);
  await svc.start();
  for (let i = 0; i < 200 && !svc.broker.capacity; i++) await Bun.sleep(5);
  return { svc, annotator };
}

function createPod(name: string, namespace = "default"): void {
  kube.store.create("pods", { apiVersion: "v1", kind: "Pod", metadata: { name, namespace }, spec: { nodeName: "node-1", containers: [{ name: "main", image: "busybox" }] } });
}
const annotationOf = (name: string, namespace = "default") => (kube.store.get("pods", namespace, name)?.metadata as { annotations?: Record<string, string> } | undefined)?.annotations?.[POD_IPS_ANNOTATION];

async function add(svc: AddrBroker, id: string, args: string): Promise<{ exitCode: number; address?: string }> {
  const netns = `/run/netns/annot-${process.pid}-${id}`;
  liveNetns.add(netns);
  const env = { CNI_COMMAND: "ADD", CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: "eth0", CNI_ARGS: args };
  const res = await svc.frame.app.request("/v1/cni", { method: "POST", body: JSON.stringify({ env, stdin: JSON.stringify({ cniVersion: "1.0.0", name: "aws-cni", type: "aws-cni" }) }) });
  const out = (await res.json()) as { exitCode: number; stdout: string };
  return { exitCode: out.exitCode, address: out.exitCode === 0 ? (JSON.parse(out.stdout).ips[0].address as string).split("/")[0] : undefined };
}

async function del(svc: AddrBroker, id: string, args: string): Promise<number> {
  const env = { CNI_COMMAND: "DEL", CNI_CONTAINERID: id, CNI_NETNS: `/run/netns/annot-${process.pid}-${id}`, CNI_IFNAME: "eth0", CNI_ARGS: args };
  const res = await svc.frame.app.request("/v1/cni", { method: "POST", body: JSON.stringify({ env, stdin: JSON.stringify({ cniVersion: "1.0.0", name: "aws-cni", type: "aws-cni" }) }) });
  return ((await res.json()) as { exitCode: number }).exitCode;
}
const annotationsOf = (name: string, namespace = "default") => (kube.store.get("pods", namespace, name)?.metadata as { annotations?: Record<string, string> } | undefined)?.annotations;

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (cond()) return;
    await Bun.sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const metric = async (svc: AddrBroker, line: string) => (await (await svc.frame.app.request("/metrics")).text()).includes(line);

describe("ANNOTATE_POD_IP", () => {
  test("a successful ADD puts vpc.amazonaws.com/pod-ips on the pod, through the API", async () => {
    const { svc, annotator } = await broker();
    createPod("web-1");
    const r = await add(svc, "c-web-1", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-1");
    expect(r.exitCode).toBe(0);
    await until(() => annotationOf("web-1") !== undefined, "the annotation");
    expect(annotationOf("web-1")).toBe(r.address!);
    await until(() => annotator.pending === 0, "the queue to drain");
    expect(await metric(svc, 'awscni_pod_ip_annotations_total{result="ok"} 1')).toBe(true);
  });

  test("the API being away never fails the ADD: retried, then logged and counted", async () => {
    const { svc, annotator } = await broker({ attempts: 3, firstMs: 20, maxMs: 40 });
    createPod("db-1");
    kube.setUnreachable("503");
    const r = await add(svc, "c-db-1", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=db-1");
    expect(r.exitCode).toBe(0);
    await until(() => annotator.counts.error === 1, "the annotation to be given up");
    expect(annotator.counts.retried).toBe(2);
    expect(annotationOf("db-1")).toBeUndefined();
    expect(await metric(svc, 'awscni_pod_ip_annotations_total{result="error"} 1')).toBe(true);
    expect(JSON.stringify(annotator.status())).toContain("HTTP 503");
  });

  test("the API coming back within the retries: the annotation lands", async () => {
    const { svc, annotator } = await broker({ attempts: 10, firstMs: 20, maxMs: 40 });
    createPod("api-1");
    kube.setUnreachable("refuse");
    const r = await add(svc, "c-api-1", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=api-1");
    expect(r.exitCode).toBe(0);
    await until(() => annotator.counts.retried > 0, "a retry");
    kube.setUnreachable(false);
    await until(() => annotationOf("api-1") !== undefined, "the annotation");
    expect(annotationOf("api-1")).toBe(r.address!);
  });

  test("a pod the API does not know, or an ADD without pod name/namespace: ADD succeeds, nothing is written", async () => {
    const { svc, annotator } = await broker();
    expect((await add(svc, "c-ghost", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=ghost")).exitCode).toBe(0);
    await until(() => annotator.counts.error === 1, "the 404 to be counted");
    expect(annotator.counts.retried).toBe(0); // 404 is final
    expect((await add(svc, "c-podman", "K8S_POD_NAME=only-name")).exitCode).toBe(0);
    await Bun.sleep(50);
    expect(annotator.counts).toEqual({ ok: 0, error: 1, retried: 0 });
  });

  test("DEL sets the annotation to \"\" (kept, not removed), as upstream does", async () => {
    const { svc, annotator } = await broker();
    createPod("web-2");
    const args = "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-2";
    const r = await add(svc, "c-web-2", args);
    await until(() => annotationOf("web-2") === r.address, "the annotation");
    expect(await del(svc, "c-web-2", args)).toBe(0);
    await until(() => annotationOf("web-2") === "", "the annotation to be cleared");
    expect(Object.keys(annotationsOf("web-2") ?? {})).toContain(POD_IPS_ANNOTATION);
    await until(() => annotator.pending === 0, "the queue to drain");
    expect(annotator.counts.error).toBe(0);
  });

  test("DEL when the annotation names another address: left as it is; DEL of a pod the API no longer has: no error", async () => {
    const { svc, annotator } = await broker();
    createPod("web-3");
    const args = "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-3";
    await add(svc, "c-web-3", args);
    await until(() => annotationOf("web-3") !== undefined, "the annotation");
    // Someone (another sandbox of the pod) wrote another address meanwhile.
    const pod = structuredClone(kube.store.get("pods", "default", "web-3")!);
    (pod.metadata as { annotations: Record<string, string> }).annotations[POD_IPS_ANNOTATION] = "10.9.9.9";
    kube.store.update("pods", pod);
    expect(await del(svc, "c-web-3", args)).toBe(0);
    await until(() => annotator.skipped === 1, "the clear to be skipped");
    expect(annotationOf("web-3")).toBe("10.9.9.9");

    createPod("gone-1");
    const gone = "K8S_POD_NAMESPACE=default;K8S_POD_NAME=gone-1";
    await add(svc, "c-gone-1", gone);
    await until(() => annotationOf("gone-1") !== undefined, "the annotation");
    kube.store.delete("pods", "default", "gone-1");
    expect(await del(svc, "c-gone-1", gone)).toBe(0);
    await until(() => annotator.pending === 0, "the queue to drain");
    expect(annotator.counts.error).toBe(0);
  });
});
