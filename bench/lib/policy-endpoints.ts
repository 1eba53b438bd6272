/**
 * Network policies for benchmarks: PolicyEndpoints (networking.k8s.aws/v1alpha1) written
 * straight into the deployment's simulated API server, as the policy controller writes them,
 * each selecting every given pod; and a wait until the policy agent's nftables table in the
 * node's namespace holds them for every pod.
 * Policy k allows ingress from one peer address (10.200.<k>.7, TCP 8080) and egress to one
 * /24 (TCP 443). The peers are not adjacent, so the engine keeps each as an element of its own.
 */
import { KubeApiError, KubeRest, readKubeconfig, staticCredentials } from "../../shared/kube-rest.ts";
import type { Stack } from "../../deploy/local/stack.ts";
import { DEFAULT_TABLE } from "../../services/policy-agent/src/engine/render.ts";
import { POLICY_ENDPOINT_GROUP, POLICY_ENDPOINT_PLURAL, POLICY_ENDPOINT_VERSION, type PolicyEndpoint } from "../../shared/contracts/policy.ts";

export interface SelectedPod {
  namespace: string;
  name: string;
  ip: string;
}

export const ingressPeer = (k: number) => `10.200.${k & 255}.${7 + (k >> 8)}`;
export const egressCidr = (k: number) => `172.${16 + (k >> 7)}.${(k & 127) * 2}.0/24`;

export function policyEndpoint(k: number, namespace: string, pods: readonly SelectedPod[], hostIP: string): PolicyEndpoint {
  const name = `bench-${k}`;
  return {
    apiVersion: `${POLICY_ENDPOINT_GROUP}/${POLICY_ENDPOINT_VERSION}`,
    kind: "PolicyEndpoint",
    metadata: { name, namespace },
    spec: {
      policyRef: { name, namespace },
      podSelector: {},
      podIsolation: ["Ingress", "Egress"],
      podSelectorEndpoints: pods.map((p) => ({ hostIP, podIP: p.ip, name: p.name, namespace: p.namespace })),
      ingress: [{ cidr: ingressPeer(k), ports: [{ protocol: "TCP", port: 8080 }] }],
      egress: [{ cidr: egressCidr(k), ports: [{ protocol: "TCP", port: 443 }] }],
    },
  };
}

/** Writes `count` PolicyEndpoints into `namespace` (created when missing), 8 requests at a time. */
export async function writePolicyEndpoints(stack: Stack, namespace: string, pods: readonly SelectedPod[], hostIP: string, count: number): Promise<void> {
  const { cluster, user } = readKubeconfig(stack.kube.kubeconfig);
  const kube = new KubeRest({ cluster, credentials: staticCredentials(cluster, user) });
  try {
    await kube.request("POST", "/api/v1/namespaces", { body: { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } } });
  } catch (err) {
    if (!(err instanceof KubeApiError && err.code === 409)) throw err;
  }
  const path = `/apis/${POLICY_ENDPOINT_GROUP}/${POLICY_ENDPOINT_VERSION}/namespaces/${namespace}/${POLICY_ENDPOINT_PLURAL}`;
  for (let k = 0; k < count; k += 8) {
    await Promise.all(Array.from({ length: Math.min(8, count - k) }, (_, i) => kube.request("POST", path, { body: policyEndpoint(k + i, namespace, pods, hostIP) })));
  }
}

/** The agent's table in the node's namespace, as `nft -j list` prints it, parsed (undefined when absent). */
export function listPolicyTable(netns: string): { nftables: any[] } | undefined {
  const r = Bun.spawnSync(["ip", "netns", "exec", netns, "nft", "-j", "list", "table", "inet", DEFAULT_TABLE], { stdout: "pipe", stderr: "pipe" });
  return r.exitCode === 0 ? JSON.parse(r.stdout.toString()) : undefined;
}

/**
 * Each pod chain (in-/eg-) of the listing as one text: its rules' JSON, with every named set a
 * rule refers to (`@a4-…`, the agent's shared address sets) replaced by the set's elements.
 */
export function podChainTexts(listing: { nftables: any[] } | undefined): Map<string, string> {
  const sets = new Map<string, string>();
  const rules = new Map<string, string[]>();
  for (const item of listing?.nftables ?? []) {
    if (item.set) sets.set(`"@${item.set.name}"`, JSON.stringify(item.set.elem ?? []));
    else if (item.rule && /^(in|eg)-/.test(item.rule.chain)) rules.set(item.rule.chain, [...(rules.get(item.rule.chain) ?? []), JSON.stringify(item.rule.expr)]);
  }
  const out = new Map<string, string>();
  for (const [chain, texts] of rules) out.set(chain, texts.join("\n").replace(/"@[^"]+"/g, (ref) => sets.get(ref) ?? ref));
  return out;
}

/**
 * Waits until every one of `pods` pods has an ingress chain allowing the last policy's peer and
 * an egress chain allowing its /24: the policies are in the kernel. Returns the milliseconds waited.
 */
export async function waitProgrammed(netns: string, pods: number, count: number, timeoutMs = 300_000): Promise<number> {
  const t0 = performance.now();
  const peer = `"${ingressPeer(count - 1)}"`;
  const [net, len] = egressCidr(count - 1).split("/");
  const cidr = `"addr":"${net}","len":${len}`;
  let seen = { ingress: 0, egress: 0 };
  while (performance.now() - t0 < timeoutMs) {
    const chains = [...podChainTexts(listPolicyTable(netns))];
    seen = {
      ingress: chains.filter(([name, text]) => name.startsWith("in-") && text.includes(peer)).length,
      egress: chains.filter(([name, text]) => name.startsWith("eg-") && text.includes(cidr)).length,
    };
    if (seen.ingress >= pods && seen.egress >= pods) return performance.now() - t0;
    await Bun.sleep(500);
  }
  throw new Error(`policies not programmed after ${timeoutMs} ms: ${seen.ingress} ingress and ${seen.egress} egress chains of ${pods} pods hold policy ${count - 1}`);
}

/** The agent's kernel transactions so far (awscni_policy_agent_applies_total, every outcome), from its /metrics; undefined when it did not answer. */
async function appliesSoFar(socket: string): Promise<number | undefined> {
  try {
    const res = await fetch("http://localhost/metrics", { unix: socket, signal: AbortSignal.timeout(15_000) });
    const text = await res.text();
    return [...text.matchAll(/^awscni_policy_agent_applies_total\{[^}]*\} (\S+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
  } catch {
    return undefined; // busy (a loaded machine): not quiet yet
  }
}

/** Waits until the agent ran no apply for `quietMs` (the watch's events after the last one are all applied). */
export async function waitAgentQuiet(socket: string, quietMs = 5000, timeoutMs = 300_000): Promise<void> {
  const t0 = performance.now();
  let last = await appliesSoFar(socket);
  let since = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    await Bun.sleep(1000);
    const now = await appliesSoFar(socket);
    if (now === undefined || now !== last) [last, since] = [now, performance.now()];
    else if (performance.now() - since >= quietMs) return;
  }
  throw new Error(`policy-agent still applying after ${timeoutMs} ms (${last} applies)`);
}
