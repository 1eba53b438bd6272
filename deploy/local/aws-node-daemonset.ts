/**
 * The local deployment's daemonset mode: the aws-node DaemonSet of deploy/k8s, as shipped,
 * applied with kubectl to the simulated API server; the DaemonSet controller makes a pod per
 * node, and each node's kubelet runs it from the image built on this machine. Only the image
 * name and the endpoints of the simulated EC2 and API server are patched in (AWS_EC2_ENDPOINT,
 * CLUSTER_ENDPOINT on the aws-node container; IMDS, credentials and region come from the
 * simulated IMDS as on EC2). The operator's `--env` pairs become `kubectl set env daemonset
 * aws-node -c aws-node KEY=VALUE`, run on the manifest (`--local`) before it is applied, so the
 * first pods already carry them.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Stack } from "./stack.ts";

export const K8S_DIR = join(import.meta.dir, "../k8s");
export const AWS_NODE_MANIFEST = join(K8S_DIR, "aws-node.yaml");
export const ENICONFIG_CRD = join(K8S_DIR, "eniconfig-crd.yaml");

const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

type Obj = { kind: string; metadata: { name: string }; spec?: Record<string, any> };
type Container = { name: string; image?: string; args?: string[]; env?: Array<{ name: string; value?: string }> };

/** The policy agent's argument that turns enforcement on (upstream's flag; aws-node.yaml ships it false). */
export const ENFORCE_FLAG = "--enable-network-policy=true";

export class DaemonSetModeError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Every document of a YAML file. */
export function loadManifest(path: string): Obj[] {
  const parsed = Bun.YAML.parse(readFileSync(path, "utf8")) as Obj | Obj[];
  return (Array.isArray(parsed) ? parsed : [parsed]).filter((d) => d && typeof d === "object");
}

/**
 * The manifest with the local image and the simulated endpoints: every container's image, and
 * the two endpoints appended to the aws-node container's environment (from there the pod's
 * other containers get them, as every other setting).
 */
export function localAwsNode(docs: readonly Obj[], o: { image: string; ec2Endpoint: string; kubeEndpoint: string; enforce?: boolean }): Obj[] {
  const out = structuredClone(docs) as Obj[];
  const ds = out.find((d) => d.kind === "DaemonSet" && d.metadata.name === "aws-node");
  if (!ds) throw new DaemonSetModeError("LOCAL_MANIFEST", "deploy/k8s/aws-node.yaml has no DaemonSet named aws-node");
  const spec = ds.spec?.template?.spec as { initContainers?: Container[]; containers?: Container[] } | undefined;
  const containers = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
  for (const c of containers) c.image = o.image;
  const awsNode = spec?.containers?.find((c) => c.name === "aws-node");
  if (!awsNode) throw new DaemonSetModeError("LOCAL_MANIFEST", "the aws-node DaemonSet has no container named aws-node");
  const endpoints = { AWS_EC2_ENDPOINT: o.ec2Endpoint, CLUSTER_ENDPOINT: o.kubeEndpoint };
  awsNode.env = [...(awsNode.env ?? []).filter((e) => !(e.name in endpoints)), ...Object.entries(endpoints).map(([name, value]) => ({ name, value }))];
  if (o.enforce) {
    // `up --network-policy`: the agent's flag on (the mode reaches every container with the aws-node container's settings).
    const agent = spec?.containers?.find((c) => c.name === "policy-agent");
    if (!agent) throw new DaemonSetModeError("LOCAL_MANIFEST", "the aws-node DaemonSet has no container named policy-agent");
    agent.args = [...(agent.args ?? []).filter((a) => !a.startsWith("--enable-network-policy=")), ENFORCE_FLAG];
  }
  return out;
}

/** kubectl with argv (no shell); a non-zero exit is a LOCAL_KUBECTL error with its output. */
export async function kubectl(args: readonly string[], timeoutMs = 60_000): Promise<string> {
  const proc = Bun.spawn(["kubectl", ...args], { env: { PATH, HOME: "/tmp" }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  try {
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    if (code !== 0) throw new DaemonSetModeError("LOCAL_KUBECTL", `kubectl ${args.join(" ")} exited ${code}: ${err.trim() || out.trim()}`);
    return out;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `kubectl set env --local -c aws-node` on the DaemonSet file: the file to apply. kubectl
 * prints nothing when every pair already has its value in the manifest (e.g.
 * NETWORK_POLICY_ENFORCING_MODE=standard, the manifest's own): then the file is unchanged.
 */
export async function setEnvLocal(daemonSet: string, env: Record<string, string>, out: string): Promise<string> {
  const pairs = Object.entries(env);
  for (const [k] of pairs) if (!ENV_NAME.test(k)) throw new DaemonSetModeError("LOCAL_BAD_ENV", `--env: ${JSON.stringify(k)} is not a variable name`);
  if (pairs.length === 0) return daemonSet;
  const withEnv = await kubectl(["set", "env", "--local", "-f", daemonSet, "-c", "aws-node", "-o", "json", ...pairs.map(([k, v]) => `${k}=${v}`)]);
  if (withEnv.trim() === "") return daemonSet;
  writeFileSync(out, withEnv);
  return out;
}

/**
 * Writes the patched manifest to DIR/aws-node/, sets the operator's variables on the aws-node
 * container with `kubectl set env --local`, and applies it with the ENIConfig CRD.
 */
export async function applyAwsNode(stack: Stack, o: { image: string; env: Record<string, string>; enforce?: boolean }): Promise<{ manifest: string }> {
  const dir = join(stack.dir, "aws-node");
  mkdirSync(dir, { recursive: true });
  const docs = localAwsNode(loadManifest(AWS_NODE_MANIFEST), { image: o.image, ec2Endpoint: stack.ec2.endpoint, kubeEndpoint: stack.kube.endpoint, enforce: o.enforce === true });
  const ds = docs.find((d) => d.kind === "DaemonSet")!;
  const others = join(dir, "objects");
  rmSync(others, { recursive: true, force: true });
  mkdirSync(others);
  let daemonSet = join(dir, "aws-node-daemonset.json");
  // One file per object (kubectl reads a .json file as one object or a List).
  for (const [i, d] of docs.filter((x) => x !== ds).entries()) writeFileSync(join(others, `${String(i).padStart(2, "0")}-${d.kind.toLowerCase()}-${d.metadata.name}.json`), JSON.stringify(d, null, 2));
  writeFileSync(daemonSet, JSON.stringify(ds, null, 2));
  daemonSet = await setEnvLocal(daemonSet, o.env, join(dir, "aws-node-daemonset.env.json"));
  await kubectl(["--kubeconfig", stack.kube.kubeconfig, "apply", "-f", ENICONFIG_CRD, "-f", others, "-f", daemonSet]);
  return { manifest: daemonSet };
}

export interface DaemonSetStatus {
  desiredNumberScheduled?: number;
  numberReady?: number;
  updatedNumberScheduled?: number;
  numberAvailable?: number;
}

/** GET the aws-node DaemonSet's status from the API server. */
export async function awsNodeStatus(stack: Stack): Promise<{ generation: number; observedGeneration: number; status: DaemonSetStatus }> {
  const res = await fetch(`${stack.kube.endpoint}/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node`, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new DaemonSetModeError("LOCAL_DAEMONSET", `GET daemonset aws-node: HTTP ${res.status}`);
  const ds = (await res.json()) as { metadata: { generation?: number }; status?: DaemonSetStatus & { observedGeneration?: number } };
  return { generation: ds.metadata.generation ?? 0, observedGeneration: ds.status?.observedGeneration ?? 0, status: ds.status ?? {} };
}

/**
 * Waits until aws-node is Ready on every node at the DaemonSet's current generation (what
 * `kubectl rollout status` waits for) and every node reports Ready (its conflist installed).
 * On timeout the error says what is still missing.
 */
export async function waitAwsNodeReady(stack: Stack, timeoutMs: number, pollMs = 250): Promise<void> {
  const want = stack.nodes.length;
  const deadline = Date.now() + timeoutMs;
  let last = "nothing yet";
  while (Date.now() < deadline) {
    try {
      const { generation, observedGeneration, status } = await awsNodeStatus(stack);
      const nodes = await notReadyNodes(stack);
      const done = observedGeneration >= generation && status.desiredNumberScheduled === want && status.numberReady === want && status.updatedNumberScheduled === want && nodes.length === 0;
      if (done) return;
      last = `desired ${status.desiredNumberScheduled ?? 0}, ready ${status.numberReady ?? 0}, up to date ${status.updatedNumberScheduled ?? 0} of ${want}; nodes not Ready: ${nodes.join(", ") || "none"}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await Bun.sleep(pollMs);
  }
  throw new DaemonSetModeError("LOCAL_AWS_NODE_NOT_READY", `aws-node not Ready on every node after ${Math.round(timeoutMs / 1000)} s: ${last} (kubectl --kubeconfig ${stack.kube.kubeconfig} -n kube-system describe pods -l k8s-app=aws-node)`);
}

async function notReadyNodes(stack: Stack): Promise<string[]> {
  const res = await fetch(`${stack.kube.endpoint}/api/v1/nodes`, { signal: AbortSignal.timeout(5_000) });
  const list = (await res.json()) as { items: Array<{ metadata: { name: string }; status?: { conditions?: Array<{ type: string; status: string }> } }> };
  return list.items.filter((n) => n.status?.conditions?.find((c) => c.type === "Ready")?.status !== "True").map((n) => n.metadata.name);
}
