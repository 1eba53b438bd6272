/**
 * Pods of the demo. `DemoPods` is what the steps need; two ways to make them:
 * - PodRunner (here, processes mode): as a container runtime makes them, a network namespace
 *   per pod (named from the deployment's prefix, so `down` and the deployment's own teardown
 *   remove it too) and the node's CNI chain exec'd through CniRuntime with the node's
 *   conflist and bin dir;
 * - KubePods (kube-pods.ts, daemonset mode): with kubectl, run by the nodes' kubelets.
 * Each tracks every pod, namespace and process it creates so `close()` leaves nothing.
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { CniError, CniRuntime, type Attachment, type Conflist } from "../cni-runtime.ts";
import type { RunningDeployment } from "../deployment.ts";
import type { StackNode } from "../stack.ts";
import { runCommand } from "../vpc/command.ts";
import { assertNetnsName } from "../vpc/names.ts";
import { NetnsProcesses } from "./processes.ts";

export interface Pod {
  name: string;
  /** Kubernetes namespace of the pod (CNI_ARGS K8S_POD_NAMESPACE). */
  namespace: string;
  nodeIndex: number;
  node: StackNode;
  netns: string;
  containerId: string;
  /** The pod's address (IPv4; IPv6 in an IPv6 deployment) without prefix length (from the CNI result, or the pod's podIP). */
  address: string;
  /** The CNI result, when the demo ran the ADD itself. */
  result?: Record<string, unknown>;
}

/**
 * How the demo's steps make pods, run processes in them and remove them. `pods` holds the
 * live ones by network namespace (what `npm start` lists to play with).
 */
export interface DemoPods {
  readonly pods: Map<string, Pod>;
  /** A pod on node `nodeIndex` with its address; tracked until del(). */
  add(nodeIndex: number, name: string, namespace?: string): Promise<Pod>;
  /** add(), with the ADDs that answered "try again later" (CNI code 11) retried and counted. */
  addRetrying(nodeIndex: number, name: string): Promise<Pod & { retries: number }>;
  /** Removes the pod: CNI DEL done, its namespace gone. */
  del(pod: Pod): Promise<void>;
  /** A long-running process inside a pod's network namespace (stopped by del() and close()). */
  spawnIn(netns: string, argv: string[]): Subprocess<"ignore", "pipe", "pipe">;
  stopProcess(p: Subprocess): Promise<void>;
  /** Removes every pod and process it made (best effort, problems returned). Idempotent. */
  close(): Promise<string[]>;
}

export class DemoError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

export function attachmentOf(pod: Pick<Pod, "containerId" | "netns" | "name" | "namespace">): Attachment {
  return { containerId: pod.containerId, netns: `/run/netns/${pod.netns}`, ifName: "eth0", args: { K8S_POD_NAMESPACE: pod.namespace, K8S_POD_NAME: pod.name } };
}

/** The first address of `family` (IPv4 unless said) of a CNI result, without its prefix length. */
export function resultAddress(result: Record<string, unknown>, family: 4 | 6 = 4): string | undefined {
  const ips = result.ips as Array<{ address?: string }> | undefined;
  const found = ips?.find((i) => typeof i.address === "string" && i.address.includes(family === 4 ? "." : ":"));
  return found?.address?.split("/")[0];
}

export class PodRunner implements DemoPods {
  readonly runtimes: CniRuntime[];
  readonly pods = new Map<string, Pod>();
  private readonly namespaces = new Set<string>();
  private readonly processes = new NetnsProcesses();
  private seq = 0;
  private closed = false;

  constructor(readonly deployment: RunningDeployment) {
    this.runtimes = deployment.stack.nodes.map((node, i) => {
      if (!node.conflist || !node.cniBinDir) throw new DemoError("DEMO_NO_CNI", `node ${i}: stack has no conflist/cniBinDir (cloud-only deployment?)`);
      const conflist = JSON.parse(readFileSync(node.conflist, "utf8")) as Conflist;
      const layout = deployment.nodes[i]?.layout;
      return new CniRuntime(conflist, { binDirs: [node.cniBinDir], cacheDir: layout?.cacheDir ?? join(deployment.stack.dir, "nodes", String(i), "cni/cache") });
    });
  }

  /** The pods' address family: 6 in an IPv6 deployment (`up --ipv6`). */
  get family(): 4 | 6 {
    return this.deployment.stack.ipv6 ? 6 : 4;
  }

  get prefix(): string {
    return this.deployment.cloud.names.prefix;
  }

  node(i: number): StackNode {
    const n = this.deployment.stack.nodes[i];
    if (!n) throw new DemoError("DEMO_BAD_NODE", `nodeIndex: no node ${i}`);
    return n;
  }

  runtime(i: number): CniRuntime {
    const r = this.runtimes[i];
    if (!r) throw new DemoError("DEMO_BAD_NODE", `nodeIndex: no node ${i}`);
    return r;
  }

  /** A pod namespace of this deployment (`<prefix>-p<seq>`); removed by close(). */
  async createNetns(): Promise<string> {
    if (this.closed) throw new DemoError("DEMO_CLOSED", "the demo is shutting down");
    const ns = assertNetnsName(`${this.prefix}-p${this.seq++}`);
    this.namespaces.add(ns);
    const r = await runCommand(["ip", "netns", "add", ns]);
    if (r.exitCode !== 0) throw new DemoError("DEMO_NETNS", `ip netns add ${ns}: ${r.stderr.trim()}`);
    await runCommand(["ip", "-n", ns, "link", "set", "lo", "up"]);
    return ns;
  }

  /** Creates the pod's namespace and runs CNI ADD on its node; the pod is tracked until del(). */
  async add(nodeIndex: number, name: string, namespace = "default"): Promise<Pod> {
    const node = this.node(nodeIndex);
    const netns = await this.createNetns();
    const containerId = `demo${netns.replace(/[^A-Za-z0-9]/g, "")}`;
    const partial = { name, namespace, netns, containerId };
    let result: Record<string, unknown>;
    try {
      result = await this.runtime(nodeIndex).add(attachmentOf(partial));
    } catch (err) {
      // A runtime cleans up a failed ADD with DEL.
      await this.runtime(nodeIndex).del(attachmentOf(partial)).catch(() => {});
      await this.dropNetns(netns);
      throw err;
    }
    const address = resultAddress(result, this.family);
    const pod: Pod = { ...partial, nodeIndex, node, address: address ?? "", result };
    this.pods.set(netns, pod);
    if (!address) throw new DemoError("DEMO_NO_ADDRESS", `${name}: CNI ADD returned no IPv${this.family} address: ${JSON.stringify(result)}`);
    return pod;
  }

  /**
   * ADD, retried while the plugin answers CNI code 11 ("try again later", e.g. no free
   * address while the pool grows), as the kubelet retries a sandbox. `retries` counts them.
   */
  async addRetrying(nodeIndex: number, name: string, tries = 10, delayMs = 1000): Promise<Pod & { retries: number }> {
    for (let retries = 0; ; retries++) {
      try {
        return { ...(await this.add(nodeIndex, name)), retries };
      } catch (err) {
        if (!(err instanceof CniError && err.code === 11) || retries + 1 >= tries || this.closed) throw err;
        await Bun.sleep(delayMs);
      }
    }
  }

  /** Re-runs ADD for an existing pod (same container ID), as a runtime retrying would. */
  async readd(pod: Pod): Promise<string | undefined> {
    return resultAddress(await this.runtime(pod.nodeIndex).add(attachmentOf(pod)), this.family);
  }

  check(pod: Pod): Promise<void> {
    return this.runtime(pod.nodeIndex).check(attachmentOf(pod));
  }

  /** CNI DEL, then the pod's namespace goes (as the runtime removes the sandbox). */
  async del(pod: Pod): Promise<void> {
    try {
      await this.runtime(pod.nodeIndex).del(attachmentOf(pod));
    } finally {
      this.pods.delete(pod.netns);
      await this.dropNetns(pod.netns);
    }
  }

  /** A long-running process inside a pod (killed by close()). */
  spawnIn(netns: string, argv: string[]): Subprocess<"ignore", "pipe", "pipe"> {
    if (this.closed) throw new DemoError("DEMO_CLOSED", "the demo is shutting down");
    return this.processes.spawn(netns, argv);
  }

  stopProcess(p: Subprocess): Promise<void> {
    return this.processes.stop(p);
  }

  private async dropNetns(ns: string): Promise<void> {
    // Processes we started in it go first (a namespace with processes would outlive `del`).
    const pids = await runCommand(["ip", "netns", "pids", ns]);
    for (const pid of pids.stdout.split("\n").map(Number).filter((n) => Number.isInteger(n) && n > 0)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await runCommand(["ip", "netns", "del", ns]);
    this.namespaces.delete(ns);
  }

  /** DEL every remaining pod (best effort), stop our processes, delete our namespaces. Idempotent. */
  async close(): Promise<string[]> {
    this.closed = true;
    const problems: string[] = [];
    await this.processes.stopAll();
    for (const pod of [...this.pods.values()]) {
      try {
        await this.del(pod);
      } catch (err) {
        problems.push(`DEL ${pod.name}: ${(err as Error).message}`);
      }
    }
    for (const ns of [...this.namespaces]) await this.dropNetns(ns);
    for (const [i] of this.runtimes.entries()) {
      const layout = this.deployment.nodes[i]?.layout;
      if (layout) rmSync(layout.cacheDir, { recursive: true, force: true });
    }
    return problems;
  }
}
