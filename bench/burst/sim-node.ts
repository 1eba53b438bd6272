/**
 * One simulated Kubernetes node for the burst and scale benchmarks: the pool-manager's real
 * PoolManager (planner, executor, serialised cycles, start-up, reconcile) over a node's
 * Ec2Port into the shared account (account-ec2.ts) and sim-ec2's IMDS view with a lag of
 * 1–5 s per ENI; addr-broker, kubelet and the Kubernetes pod watch are modelled:
 *   - a pod is bound to the node (the project's pod watch sees it 100 ms later, 50 ms of it
 *     the adapter's debounce) and its ADD comes 1–3 s after;
 *   - ADD takes a free address of a ready ENI; with none, the project's addr-broker counts a
 *     miss, pushes usage (a cycle starts at once), waits up to 2 s for new capacity and tries
 *     once more; upstream's ipamd fails at once. A failed ADD is CNI error 11 (upstream: its
 *     own error) and kubelet retries the sandbox 1 s later;
 *   - `upstream` flavour: a pool cycle every 5 s and nothing else (no pending pods, no
 *     miss-triggered cycle), EC2 called in upstream's order (upstream-call-order.ts);
 *     `project` flavour: the app's loop plus both triggers.
 */
import type { Ec2Model } from "../../deploy/local/sim-ec2/index.ts";
import type { UsageReport } from "../../shared/contracts/usage.ts";
import { PoolManager } from "../../services/pool-manager/src/app/pool-manager.ts";
import type { BrokerPort, KubePort } from "../../services/pool-manager/src/app/service-ports.ts";
import type { ImdsInterface, ImdsPort } from "../../services/pool-manager/src/core/ports.ts";
import { eniServesPods } from "../../services/pool-manager/src/core/pool-stats.ts";
import type { PoolSettings } from "../../services/pool-manager/src/core/settings.ts";
import { ModelImds } from "../pool-churn/model-ports.ts";
import { innerPort, NodeEc2, type ClientPolicy, type Ec2Account } from "./account-ec2.ts";
import { UpstreamCallOrder } from "./upstream-call-order.ts";
import type { Sim } from "./sim.ts";

export type Flavour = "upstream" | "project";

export interface SimNodeOptions {
  sim: Sim;
  account: Ec2Account;
  /** The sim-ec2 model holding this node's instance (one for all nodes, or one per node). */
  model: Ec2Model;
  world: { vpcId: string; subnetId: string; securityGroupId: string };
  instanceType: string;
  flavour: Flavour;
  settings: PoolSettings;
  client: ClientPolicy;
  maxPods: number;
  random: () => number;
  /** IMDS shows an ENI this long after its attachment completed (uniform). */
  imdsLagMs?: [number, number];
  /** Kubelet retries a failed sandbox after ms × (1 + jitter·rand). */
  kubeletRetry?: { ms: number; jitter: number };
  missWaitMs?: number;
}

export interface SimPod {
  boundAt: number;
  firstAddAt?: number;
  addressedAt?: number;
  failures: number;
}

/** IMDS that shows each ENI only `lag` after its attachment completed. */
class LaggingImds extends ModelImds {
  private readonly lag = new Map<string, number>();
  constructor(
    private readonly m: Ec2Model,
    private readonly sim: Sim,
    instanceId: string,
    private readonly range: [number, number],
    private readonly random: () => number,
  ) {
    super(m, sim.clock(), instanceId);
  }
  override async interfaces(): Promise<ImdsInterface[]> {
    const all = await super.interfaces();
    return all.filter((i) => {
      const a = this.m.state.enis[i.interfaceId]?.attachment;
      if (!a || a.deviceIndex === 0) return true;
      let lag = this.lag.get(i.interfaceId);
      if (lag === undefined) this.lag.set(i.interfaceId, (lag = this.range[0] + this.random() * (this.range[1] - this.range[0])));
      return this.sim.t >= a.readyAt + lag;
    });
  }
}

export class SimNode {
  readonly instanceId: string;
  readonly pm: PoolManager;
  readonly pods: SimPod[] = [];
  failedAdds = 0;
  startedAt: number | undefined;
  private misses = 0;
  private waiting = 0;
  private pending = 0;
  private readonly assigned = new Set<string>();
  private capacityWaiters: Array<() => void> = [];
  private kubeTimer = false;
  private readonly o: Required<SimNodeOptions>;

  constructor(opts: SimNodeOptions) {
    this.o = { imdsLagMs: [1_000, 5_000], kubeletRetry: { ms: 1_000, jitter: 0 }, missWaitMs: 10_000, ...opts };
    const { sim, account, world, settings } = this.o;
    const model = opts.model;
    const inst = model.launchInstance({ instanceType: opts.instanceType, subnetId: world.subnetId, securityGroupIds: [world.securityGroupId] });
    this.instanceId = inst.id;
    const imds: ImdsPort = new LaggingImds(model, sim, inst.id, this.o.imdsLagMs, this.o.random);
    const broker: BrokerPort = {
      getUsage: async () => this.usage(),
      drain: async (cidrs) => ({ granted: cidrs.filter((c) => !this.assigned.has(c)), refused: cidrs.filter((c) => this.assigned.has(c)).map((cidr) => ({ cidr, reason: "assigned" })) }),
    };
    // The pod watch is live from the start (podsWatched: newer KubePort; ignored by older ones).
    const kube: KubePort = Object.assign(
      { myEniConfig: async () => ({ missing: "not used" }), pendingPods: async () => this.pending, nodeUnschedulable: async () => false },
      { podsWatched: () => true, debug: () => ({ pods: { watching: true } }) },
    );
    // Upstream's flavour: the same executor, calling EC2 in upstream's order (upstream-call-order.ts).
    const ec2 = new NodeEc2(account, innerPort(model, sim), opts.client);
    this.pm = new PoolManager(
      settings,
      { ec2: opts.flavour === "upstream" ? new UpstreamCallOrder(ec2, sim.now) : ec2, imds, net: { setupHost: async () => {}, setupEni: async () => {}, teardownEni: async () => {} }, broker, ...(opts.flavour === "project" ? { kube } : {}) },
      { additionalTags: {}, subnetDiscovery: false, disableProvisioning: false, disableLeakedEniCleanup: true, maxPods: opts.maxPods, now: sim.now, sleep: sim.sleep, random: opts.random },
    );
    // Published capacity wakes ADDs waiting for it (addr-broker's nextCapacity).
    const bump = this.pm.model.bump.bind(this.pm.model);
    this.pm.model.bump = () => {
      bump();
      const w = this.capacityWaiters;
      this.capacityWaiters = [];
      for (const f of w) f();
    };
  }

  /** Starts the pool-manager (retried with its jittered back-off, as main.ts does), then its loops. */
  async start(): Promise<void> {
    const { sim } = this.o;
    await this.pm.startWithRetry();
    this.startedAt = sim.t;
    for (const f of this.readyHooks) f();
    const tick = () => {
      void this.pm.onKubeChange();
      sim.after(5_000, tick);
    };
    sim.after(5_000, tick);
    const reconcile = () => {
      void this.pm.reconcile().catch(() => undefined);
      sim.after(60_000, reconcile);
    };
    sim.after(60_000, reconcile);
  }

  get ready(): boolean {
    return this.pm.model.ready;
  }

  /** Binds a pod to the node at `at`; its ADD comes `addDelayMs` later. */
  /** Calls `fn` once the pool-manager has started (the node turns Ready). */
  onReady(fn: () => void): void {
    this.readyHooks.push(fn);
  }
  private readonly readyHooks: Array<() => void> = [];

  bindPod(at: number, addDelayMs: number): void {
    const i = this.pods.push({ boundAt: at, failures: 0 }) - 1;
    this.o.sim.at(at, () => {
      this.pending++;
      this.kubeChanged();
    });
    this.o.sim.at(at + addDelayMs, () => void this.add(i));
  }

  addressed(): number {
    let n = 0;
    for (const p of this.pods) if (p.addressedAt !== undefined) n++;
    return n;
  }

  /** Addresses held by the pool (all ENIs). */
  held(): number {
    let n = 0;
    for (const m of this.pm.model.enis.values()) n += m.pool.cidrs.length;
    return n;
  }

  enis(): number {
    return this.pm.model.enis.size;
  }

  /** EC2's view of the ENIs this node created: attached with/without DeleteOnTermination, and detached (leaked unless deleted later). */
  createdEnis(): { attached: number; deleteOnTermination: number; detached: number } {
    const out = { attached: 0, deleteOnTermination: 0, detached: 0 };
    const desc = `aws-K8S-${this.instanceId}`;
    for (const e of Object.values(this.o.model.state.enis)) {
      if (e.description !== desc) continue;
      if (!e.attachment) out.detached++;
      else {
        out.attached++;
        if (e.attachment.deleteOnTermination) out.deleteOnTermination++;
      }
    }
    return out;
  }

  private kubeChanged(): void {
    if (this.o.flavour !== "project" || this.kubeTimer) return;
    this.kubeTimer = true;
    this.o.sim.after(100, () => {
      this.kubeTimer = false;
      this.pm.onKubeChange();
    });
  }

  private pick(): string | undefined {
    for (const m of this.pm.model.enis.values()) {
      if (!m.ready || m.removing || !eniServesPods(this.o.settings, m.pool)) continue;
      for (const c of m.pool.cidrs) if (!c.draining && !this.assigned.has(c.cidr)) return c.cidr;
    }
    return undefined;
  }

  private usage(): UsageReport {
    const cidrs = [...this.pm.model.enis.values()].flatMap((m) => m.pool.cidrs.map((c) => ({ cidr: c.cidr, assigned: this.assigned.has(c.cidr) ? 1 : 0, cooling: 0 })));
    return { capacityVersion: this.pm.model.version, assigned: this.assigned.size, cooling: 0, cidrs, misses: this.misses, waiting: this.waiting };
  }

  /** addr-broker pushes usage to pool-manager (project); upstream's datastore is in-process. */
  private pushUsage(): void {
    if (!this.pm.model.ready) return;
    if (this.o.flavour === "project") this.pm.onUsage(this.usage());
    else this.pm.model.usage = this.usage();
  }

  private nextCapacity(ms: number): Promise<void> {
    return new Promise((resolve) => {
      let done = false;
      const f = () => {
        if (!done) {
          done = true;
          resolve();
        }
      };
      this.capacityWaiters.push(f);
      this.o.sim.after(ms, f);
    });
  }

  private async add(i: number): Promise<void> {
    const pod = this.pods[i]!;
    const { sim } = this.o;
    pod.firstAddAt ??= sim.t;
    let cidr = this.pick();
    if (!cidr) {
      this.misses++;
      if (this.o.flavour === "project" && this.o.missWaitMs > 0) {
        // addr-broker's miss wait (services/addr-broker/src/app/pod-add.ts): look again at every capacity change until the wait runs out.
        const until = sim.t + this.o.missWaitMs;
        this.waiting++;
        this.pushUsage();
        do {
          await this.nextCapacity(until - sim.t);
          cidr = this.pick();
        } while (!cidr && sim.t < until);
        this.waiting--;
        if (!cidr) this.misses++;
      }
    }
    if (!cidr) {
      this.failedAdds++;
      pod.failures++;
      this.pushUsage();
      sim.after(this.o.kubeletRetry.ms * (1 + this.o.kubeletRetry.jitter * this.o.random()), () => void this.add(i));
      return;
    }
    this.assigned.add(cidr);
    pod.addressedAt = sim.t;
    this.pending--;
    this.pushUsage();
    this.kubeChanged();
  }
}
