/**
 * Pods of the demo in daemonset mode, made as a user of the cluster makes them: `kubectl
 * apply` of a busybox pod pinned to the node (spec.nodeName) with the stack's kubeconfig, run
 * by the node's kubelet (sandbox namespace, CNI ADD through the node's conflist, the
 * container); `kubectl delete --wait` removes it (the kubelet's CNI DEL and namespace
 * deletion done when it returns). A pod's `netns` is its sandbox namespace, so the steps'
 * `ip netns exec` reaches it as it reaches PodRunner's.
 */
import { existsSync } from "node:fs";
import type { Subprocess } from "bun";
import type { RunningDeployment } from "../deployment.ts";
import { KubeApi, KubeApiError } from "../kubelet/api.ts";
import { assertDnsLabel, assertPodName, sandboxId, sandboxNetns } from "../kubelet/names.ts";
import type { Pod as KubePod } from "../kubelet/pod-types.ts";
import type { Stack } from "../stack.ts";
import { runCommand } from "../vpc/command.ts";
import { DemoError, type DemoPods, type Pod } from "./pods.ts";
import { NetnsProcesses } from "./processes.ts";

/** The label every demo pod carries (`kubectl get pods -l app=aws-vpc-cni-demo`). */
export const DEMO_POD_LABEL = { app: "aws-vpc-cni-demo" } as const;

/** PID 1 of the pod: exits on SIGTERM at once (a bare `sleep` as PID 1 ignores it and waits out the grace period). */
const POD_SCRIPT = "trap 'exit 0' TERM; sleep 3600 & wait";

export interface KubePodsTiming {
  /** Bound on apply → Running with an address (the kubelet's ADD back-off included). */
  runningTimeoutMs: number;
  pollMs: number;
  /** kubectl delete's --timeout, in seconds. */
  deleteTimeoutSeconds: number;
}

export const DEFAULT_KUBE_PODS_TIMING: KubePodsTiming = { runningTimeoutMs: 180_000, pollMs: 250, deleteTimeoutSeconds: 120 };

export function demoPodManifest(name: string, namespace: string, nodeName: string): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: assertPodName(name), namespace: assertDnsLabel(namespace, "namespace"), labels: { ...DEMO_POD_LABEL } },
    spec: {
      nodeName,
      terminationGracePeriodSeconds: 5,
      containers: [{ name: "main", image: "busybox", command: ["sh", "-c", POD_SCRIPT] }],
    },
  };
}

type EventList = { items?: Array<{ reason?: string; count?: number; involvedObject?: { uid?: string } }> };

export class KubePods implements DemoPods {
  readonly pods = new Map<string, Pod>();
  /** Pods applied and not yet deleted, by namespace (also those still starting). */
  private readonly made = new Map<string, Set<string>>();
  private readonly uids = new Map<string, string>();
  /** `kubectl apply`s under way, awaited by close() so none lands after its delete. */
  private readonly applying = new Set<Promise<unknown>>();
  private readonly processes = new NetnsProcesses();
  private readonly api: KubeApi;
  private closed = false;

  constructor(
    readonly deployment: RunningDeployment,
    private readonly timing: KubePodsTiming = DEFAULT_KUBE_PODS_TIMING,
  ) {
    this.api = new KubeApi(deployment.stack.kube.endpoint);
  }

  private get stack(): Stack {
    return this.deployment.stack;
  }

  private async kubectl(args: string[], stdin?: string): Promise<string> {
    const r = await runCommand(["kubectl", "--kubeconfig", this.stack.kube.kubeconfig, ...args], stdin);
    if (r.exitCode !== 0) throw new DemoError("DEMO_KUBECTL", `kubectl ${args.join(" ")} exited ${r.exitCode}: ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout;
  }

  async add(nodeIndex: number, name: string, namespace = "default"): Promise<Pod> {
    if (this.closed) throw new DemoError("DEMO_CLOSED", "the demo is shutting down");
    const node = this.stack.nodes[nodeIndex];
    if (!node) throw new DemoError("DEMO_BAD_NODE", `nodeIndex: no node ${nodeIndex}`);
    const manifest = demoPodManifest(name, namespace, node.name);
    const names = this.made.get(namespace) ?? new Set<string>();
    this.made.set(namespace, names.add(name));
    const applied = this.kubectl(["apply", "-f", "-"], JSON.stringify(manifest));
    this.applying.add(applied);
    try {
      await applied;
    } finally {
      this.applying.delete(applied);
    }
    const live = await this.waitRunning(namespace, name);
    const uid = live.metadata.uid!;
    const netns = sandboxNetns(this.deployment.cloud.names.prefix, uid);
    if (!existsSync(`/run/netns/${netns}`)) throw new DemoError("DEMO_NO_SANDBOX", `${namespace}/${name}: Running with ${live.status!.podIP}, but its sandbox namespace ${netns} does not exist`);
    const pod: Pod = { name, namespace, nodeIndex, node, netns, containerId: sandboxId(uid), address: live.status!.podIP! };
    this.pods.set(netns, pod);
    this.uids.set(netns, uid);
    return pod;
  }

  /**
   * add(): the kubelet retries a failed ADD itself (with back-off), recording a
   * FailedCreatePodSandBox event each time; `retries` counts them for this pod.
   */
  async addRetrying(nodeIndex: number, name: string): Promise<Pod & { retries: number }> {
    const pod = await this.add(nodeIndex, name);
    return { ...pod, retries: await this.sandboxFailures(pod) };
  }

  /** How many times the kubelet's ADD failed for this pod (FailedCreatePodSandBox events, with their counts). */
  async sandboxFailures(pod: Pod): Promise<number> {
    const uid = this.uids.get(pod.netns);
    const selector = encodeURIComponent(`involvedObject.name=${pod.name}`);
    const res = await fetch(`${this.stack.kube.endpoint}/api/v1/namespaces/${assertDnsLabel(pod.namespace, "namespace")}/events?fieldSelector=${selector}`, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new DemoError("DEMO_EVENTS", `events of ${pod.namespace}/${pod.name}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
    const items = ((await res.json()) as EventList).items ?? [];
    return items.filter((e) => e.reason === "FailedCreatePodSandBox" && (uid === undefined || e.involvedObject?.uid === uid)).reduce((n, e) => n + (e.count ?? 1), 0);
  }

  /** Polls the pod until it is Running with a podIP; fails early when it ends or the demo closes. */
  private async waitRunning(namespace: string, name: string): Promise<KubePod> {
    const deadline = Date.now() + this.timing.runningTimeoutMs;
    let last = "not created yet";
    for (;;) {
      if (this.closed) throw new DemoError("DEMO_CLOSED", "the demo is shutting down");
      let pod: KubePod | undefined;
      try {
        pod = await this.api.getPod(namespace, name);
      } catch (err) {
        if (!(err instanceof KubeApiError && err.status === 404)) throw err;
      }
      const phase = pod?.status?.phase;
      if (pod && phase === "Running" && pod.status?.podIP && pod.metadata.uid) return pod;
      if (phase === "Succeeded" || phase === "Failed") throw new DemoError("DEMO_POD_ENDED", `${namespace}/${name} ended (${phase}) before it was Running`);
      if (pod) {
        const waiting = pod.status?.containerStatuses?.map((c) => c.state?.waiting?.reason).filter(Boolean).join(", ");
        last = `phase ${phase ?? "none"}${waiting ? ` (${waiting})` : ""}`;
      }
      if (Date.now() > deadline) {
        throw new DemoError("DEMO_POD_NOT_RUNNING", `${namespace}/${name}: not Running with an address after ${Math.round(this.timing.runningTimeoutMs / 1000)} s: ${last} (kubectl --kubeconfig ${this.stack.kube.kubeconfig} describe pod -n ${namespace} ${name})`);
      }
      await Bun.sleep(this.timing.pollMs);
    }
  }

  /** kubectl delete --wait: returns once the kubelet ran CNI DEL and deleted the sandbox. */
  async del(pod: Pod): Promise<void> {
    await this.processes.stopIn(pod.netns);
    await this.deleteNamed(pod.namespace, [pod.name]);
    this.pods.delete(pod.netns);
    this.uids.delete(pod.netns);
  }

  private async deleteNamed(namespace: string, names: string[]): Promise<void> {
    if (names.length === 0) return;
    await this.kubectl(["delete", "pods", "-n", assertDnsLabel(namespace, "namespace"), "--ignore-not-found", "--wait=true", `--timeout=${this.timing.deleteTimeoutSeconds}s`, ...names.map((n) => assertPodName(n))]);
    const made = this.made.get(namespace);
    for (const n of names) made?.delete(n);
  }

  spawnIn(netns: string, argv: string[]): Subprocess<"ignore", "pipe", "pipe"> {
    if (this.closed) throw new DemoError("DEMO_CLOSED", "the demo is shutting down");
    return this.processes.spawn(netns, argv);
  }

  stopProcess(p: Subprocess): Promise<void> {
    return this.processes.stop(p);
  }

  /** Stops our processes and deletes every pod applied (also those still starting), waiting until they are gone. */
  async close(): Promise<string[]> {
    this.closed = true;
    const problems: string[] = [];
    await this.processes.stopAll();
    await Promise.allSettled([...this.applying]);
    for (const [namespace, names] of this.made) {
      try {
        await this.deleteNamed(namespace, [...names]);
      } catch (err) {
        problems.push(`delete ${[...names].join(" ")}: ${(err as Error).message}`);
      }
    }
    this.pods.clear();
    this.uids.clear();
    return problems;
  }
}

/** The aws-node pod of each node (node name → pod name), for the summary's `main.ts logs` lines. */
export async function awsNodePods(stack: Stack): Promise<Map<string, string>> {
  const selector = encodeURIComponent("k8s-app=aws-node");
  const res = await fetch(`${stack.kube.endpoint}/api/v1/namespaces/kube-system/pods?labelSelector=${selector}`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new DemoError("DEMO_AWS_NODE_PODS", `aws-node pods: HTTP ${res.status}`);
  const list = (await res.json()) as { items: KubePod[] };
  return new Map(list.items.flatMap((p) => (p.spec?.nodeName && p.metadata.name && !p.metadata.deletionTimestamp ? [[p.spec.nodeName, p.metadata.name] as const] : [])));
}
