/**
 * One node of the local deployment, started for a benchmark: the simulated cloud, the four
 * services in the node's namespace, a warm pool checked before anything is timed, and CNI
 * runtimes that exec the node's real aws-cni shim (compiled) as a container runtime does.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { CniRuntime, type Conflist } from "../../deploy/local/cni-runtime.ts";
import { startDeployment, type NetworkPolicyMode, type RunningDeployment } from "../../deploy/local/deployment.ts";
import type { LocalService, NodeLayout, NodeServices } from "../../deploy/local/node-services.ts";
import type { StackNode } from "../../deploy/local/stack.ts";
import { onInterrupt } from "./interrupt.ts";

export interface BenchNodeOptions {
  /** Prefix of the temp dir (names the bench in /tmp). */
  label: string;
  instanceType: string;
  /** aws-node variables for the node's services. */
  env: Record<string, string>;
  /** Run the node's kubelet (default: no; the benches that exec the CNI chain themselves need none). */
  kubelet?: boolean;
  /** An IPv6 deployment (`up --ipv6`): the node runs IPv6 mode, pods get addresses out of a /80. */
  ipv6?: boolean;
  /** `up --network-policy <mode>`: every node's policy agent enforces in this mode (--enable-network-policy=true, NETWORK_POLICY_ENFORCING_MODE, the policy controller enabled); absent: off, as upstream. */
  networkPolicy?: NetworkPolicyMode;
}

export type CallCounters = Record<string, { ok: number; throttled: number; error: number }>;

export class BenchNode {
  private constructor(
    readonly dir: string,
    readonly deployment: RunningDeployment,
    readonly node: StackNode,
    readonly services: NodeServices,
    readonly layout: NodeLayout,
  ) {}

  private stopping: Promise<void> | undefined;
  private forget: () => void = () => undefined;

  static async start(opts: BenchNodeOptions): Promise<BenchNode> {
    const dir = mkdtempSync(join(tmpdir(), `bench-${opts.label}-`));
    try {
      // Without a kubelet unless asked: an idle kubelet's relists would be noise to the benches that exec the CNI chain themselves.
      const deployment = await startDeployment({ dir, nodes: 1, instanceType: opts.instanceType, env: opts.env, logger: pino({ level: "silent" }), kubelets: opts.kubelet === true, ipv6: opts.ipv6 === true, ...(opts.networkPolicy ? { networkPolicy: opts.networkPolicy } : {}) });
      const n = deployment.nodes[0]!;
      const node = new BenchNode(dir, deployment, deployment.stack.nodes[0]!, n.services, n.layout);
      node.forget = onInterrupt(() => node.stop());
      return node;
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  get netns(): string {
    return this.node.netns;
  }

  socket(service: LocalService): string {
    return join(this.layout.runDir, `${service}.sock`);
  }

  async get<T>(service: LocalService, path: string): Promise<T> {
    const res = await fetch(`http://localhost${path}`, { unix: this.socket(service), signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`${service} ${path}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  /** Addresses addr-broker could hand out right now (capacity minus assigned minus cooling). */
  async freeAddresses(): Promise<number> {
    const u = await this.get<{ cidrs: Array<{ cidr: string; assigned: number; cooling: number }> }>("addr-broker", "/v1/usage");
    let free = 0;
    for (const c of u.cidrs) {
      const len = Number(c.cidr.split("/")[1]);
      const size = c.cidr.includes(":") ? 2 ** Math.min(32, 128 - len) : 2 ** (32 - len);
      free += Math.max(0, size - c.assigned - c.cooling);
    }
    return free;
  }

  /** Waits until the pool holds `n` free addresses, so no timed ADD waits for EC2. */
  async waitFree(n: number, timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let free = 0;
    while (Date.now() < deadline) {
      try {
        free = await this.freeAddresses();
        if (free >= n) return free;
      } catch {
        // addr-broker restarting
      }
      await Bun.sleep(200);
    }
    throw new Error(`pool not warm: ${free} free addresses after ${timeoutMs} ms, want ${n}`);
  }

  async assignments(): Promise<Array<{ containerId: string; address: string; netns: string }>> {
    return (await this.get<{ assignments: Array<{ containerId: string; address: string; netns: string }> }>("addr-broker", "/v1/assignments")).assignments;
  }

  /** sim-ec2's per-action call counters (GET /calls on the control socket). */
  async ec2Calls(): Promise<CallCounters> {
    const res = await fetch("http://localhost/calls", { unix: this.deployment.stack.ec2.control, signal: AbortSignal.timeout(5000) });
    return (await res.json()) as CallCounters;
  }

  /** The node's rendered conflist: whole (`chain`) or the aws-cni plugin alone. */
  conflist(which: "aws-cni" | "chain"): Conflist {
    const full = JSON.parse(readFileSync(this.layout.conflist, "utf8")) as Conflist;
    return which === "chain" ? full : { ...full, plugins: full.plugins.filter((p) => p.type === "aws-cni") };
  }

  /** A runtime execing the node's plugins; `inNodeNs` wraps each exec in `ip netns exec <node ns>`. */
  runtime(which: "aws-cni" | "chain", inNodeNs: boolean, cacheDir = join(this.dir, "runtime-cache")): CniRuntime {
    return new CniRuntime(this.conflist(which), {
      binDirs: [this.layout.cniBinDir],
      cacheDir,
      execPrefix: inNodeNs ? ["ip", "netns", "exec", this.netns] : [],
    });
  }

  /** Stops the deployment and removes its directory; once, however often it is called (a bench's own cleanup and an interrupt's). */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.forget();
      try {
        await this.deployment.stop();
      } finally {
        rmSync(this.dir, { recursive: true, force: true });
      }
    })();
    return this.stopping;
  }
}

/** Names of calls that change EC2 state (everything but Describe*). */
export function mutatingCalls(before: CallCounters, after: CallCounters): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [action, c] of Object.entries(after)) {
    if (action.startsWith("Describe")) continue;
    const b = before[action];
    const d = c.ok + c.error + c.throttled - (b ? b.ok + b.error + b.throttled : 0);
    if (d > 0) out[action] = d;
  }
  return out;
}

export function allCalls(before: CallCounters, after: CallCounters): number {
  let n = 0;
  for (const [action, c] of Object.entries(after)) {
    const b = before[action];
    n += c.ok + c.error + c.throttled - (b ? b.ok + b.error + b.throttled : 0);
  }
  return n;
}
