/**
 * A policy population on the simulated API server of a bench's local deployment: the node's
 * pods (wired through the real shim) and pods of other nodes as Pod objects only, NetworkPolicies
 * selecting them (resolved by the deployment's policy controller into PolicyEndpoints), and
 * PolicyEndpoints written directly (with the controller switched off, which would otherwise
 * delete endpoints of unknown policies). Labels: app=n<node>p<k> (one pod), grp=g<k mod 20>.
 */
import type { PolicyEndpoint } from "../../shared/contracts/policy.ts";
import { KubeRest, readKubeconfig, staticCredentials } from "../../shared/kube-rest.ts";
import type { BenchNode } from "./node.ts";

export const NS = "bench";
const PE_PATH = `/apis/networking.k8s.aws/v1alpha1/namespaces/${NS}/policyendpoints`;
const NP_PATH = `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies`;

export interface ClusterPod {
  name: string;
  node: number;
  ip: string;
  hostIP: string;
  /** The host veth on the bench's node (node 0 only). */
  veth?: string;
}

export const appLabel = (node: number, k: number) => `n${node}p${k}`;
export const fakeHostIp = (node: number) => `10.0.250.${node}`;

export function kubeOf(node: BenchNode): KubeRest {
  const { cluster, user } = readKubeconfig(node.deployment.stack.kube.kubeconfig);
  return new KubeRest({ cluster, credentials: staticCredentials(cluster, user) });
}

export async function createNamespace(rest: KubeRest): Promise<void> {
  await rest.request("POST", "/api/v1/namespaces", { body: { metadata: { name: NS } } });
}

export async function createPod(rest: KubeRest, p: ClusterPod, k: number, nodeName: string): Promise<void> {
  await rest.request("POST", `/api/v1/namespaces/${NS}/pods`, { body: { metadata: { name: p.name, labels: { app: appLabel(p.node, k), grp: `g${k % 20}` } }, spec: { nodeName, containers: [{ name: "main", image: "busybox" }] } } });
  await rest.request("PATCH", `/api/v1/namespaces/${NS}/pods/${p.name}/status`, { body: { status: { phase: "Running", podIP: p.ip, hostIP: p.hostIP } }, merge: true });
}

/** Policy `name`: selects the one pod labelled app=n<node>p<k>; ingress from grp=g<group> on TCP `port`. */
export async function createPolicy(rest: KubeRest, name: string, node: number, k: number, group: number, port: number): Promise<void> {
  await rest.request("POST", NP_PATH, { body: { metadata: { name }, spec: { podSelector: { matchLabels: { app: appLabel(node, k) } }, policyTypes: ["Ingress"], ingress: [{ from: [{ podSelector: { matchLabels: { grp: `g${group}` } } }], ports: [{ protocol: "TCP", port }] }] } } });
}

export async function listEndpoints(rest: KubeRest): Promise<PolicyEndpoint[]> {
  return (await rest.request<{ items: PolicyEndpoint[] }>("GET", PE_PATH)).items;
}

/** A PolicyEndpoint selecting `pod` (on `hostIP`) and allowing `cidr` on TCP `port`. */
export function endpointFor(name: string, pod: ClusterPod, cidr: string, port: number): PolicyEndpoint {
  return {
    apiVersion: "networking.k8s.aws/v1alpha1",
    kind: "PolicyEndpoint",
    metadata: { name, namespace: NS },
    spec: { policyRef: { name, namespace: NS }, podIsolation: ["Ingress"], podSelectorEndpoints: [{ hostIP: pod.hostIP, podIP: pod.ip, name: pod.name, namespace: NS }], ingress: [{ cidr, ports: [{ protocol: "TCP", port }] }] },
  };
}

export async function putEndpoint(rest: KubeRest, pe: PolicyEndpoint): Promise<void> {
  await rest.request("POST", PE_PATH, { body: pe });
}

export async function patchIngress(rest: KubeRest, name: string, ingress: NonNullable<PolicyEndpoint["spec"]["ingress"]>): Promise<void> {
  await rest.request("PATCH", `${PE_PATH}/${name}`, { body: { spec: { ingress } }, merge: true });
}

export async function deleteEndpoint(rest: KubeRest, name: string): Promise<void> {
  await rest.request("DELETE", `${PE_PATH}/${name}`);
}

/** Switches the deployment's policy controller on or off (its ConfigMap key, as upstream). */
export async function controllerEnabled(rest: KubeRest, on: boolean): Promise<void> {
  await rest.request("PATCH", "/api/v1/namespaces/kube-system/configmaps/amazon-vpc-cni", { body: { data: { "enable-network-policy-controller": on ? "true" : "false" } }, merge: true });
}

/** Calls `fn` until it returns a value, every 100 ms, failing after `timeoutMs` with `what`. */
export async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let last: unknown;
    const v = await fn().catch((err) => void (last = err));
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}${last ? ` (${(last as Error).message})` : ""}`);
    await Bun.sleep(100);
  }
}

/** Runs `fn` over `items`, `width` at a time. */
export async function inBatches<T>(items: T[], width: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map((item, j) => fn(item, i + j)));
}

const t0 = performance.now();
/** A progress line on stderr (the figures go to stdout). */
export const progress = (msg: string) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(0)} s] ${msg}\n`);

