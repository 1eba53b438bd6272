/**
 * A simulated cluster for the burst and scale benchmarks: one simulated clock, one account's
 * EC2 (sim-ec2 model + shared buckets), one subnet, and N nodes of one flavour — the
 * project's defaults (demand policy, pending pods, miss-triggered cycles, Ec2Guard with its
 * client-side buckets) or upstream semantics (compat WARM_ENI_TARGET=1, a cycle every 5 s,
 * the AWS SDK's standard retryer).
 */
import { Ec2Model, instanceTypeLimits } from "../../deploy/local/sim-ec2/index.ts";
import { Ec2Guard } from "../../services/pool-manager/src/adapters/ec2-guard.ts";
import { maxPods as kubeletMaxPods } from "../../services/pool-manager/src/core/max-pods.ts";
import { PROJECT_DEFAULTS, UPSTREAM_DEFAULTS } from "../../services/pool-manager/src/core/settings.ts";
import { Ec2Account, sdkStandardRetry, type ClientPolicy } from "./account-ec2.ts";
import { seeded, Sim } from "./sim.ts";
import { SimNode, type Flavour } from "./sim-node.ts";

export interface ClusterOptions {
  flavour: Flavour;
  seed: number;
  nodes: number;
  instanceType: string;
  vpcCidr?: string;
  subnetCidr?: string;
  /**
   * One sim-ec2 model per node instead of one for all: the account's buckets stay shared
   * (they are what couples the nodes); the model's per-call scans over all ENIs make one
   * shared model quadratic in the node count.
   */
  modelPerNode?: boolean;
  /** Timer resolution of the simulated clock (ms); 1 = exact. */
  quantumMs?: number;
  /** Kubelet retries a failed sandbox after this long (ms) and the jitter factor on it. */
  kubeletRetry?: { ms: number; jitter: number };
}

export interface Cluster {
  sim: Sim;
  account: Ec2Account;
  nodes: SimNode[];
  random: () => number;
  /** Client-side retries given up because the SDK's retry quota was spent (upstream only). */
  quotaExhausted(): number;
  /** Total time calls waited on the client-side buckets, all nodes (project only). */
  clientWaitMs(): number;
}

/** The kubelet's --max-pods on a node of this type (upstream's formula, no prefix delegation). */
export function upstreamMaxPods(instanceType: string): number {
  const l = instanceTypeLimits(instanceType);
  if (!l) throw new Error(`instance type: ${instanceType} is not in sim-ec2's table`);
  return kubeletMaxPods(l, { prefixDelegation: false, customNetworking: false });
}

export function buildCluster(o: ClusterOptions): Cluster {
  const sim = new Sim(o.quantumMs ?? 1);
  const random = seeded(o.seed);
  const newWorld = () => {
    const model = new Ec2Model({ now: () => sim.t, timing: { attachDelayMs: 300, imdsDelayMs: 0, deleteAfterDetachMs: 2_000, describeLagMs: 0 } });
    const vpc = model.createVpc({ cidr: o.vpcCidr ?? "10.0.0.0/16" });
    const subnet = model.createSubnet({ vpcId: vpc.id, az: "us-west-2a", cidr: o.subnetCidr ?? "10.0.0.0/18" });
    return { model, world: { vpcId: vpc.id, subnetId: subnet.id, securityGroupId: model.defaultSecurityGroup(vpc.id)!.id } };
  };
  const shared = newWorld();
  const account = new Ec2Account(sim);
  const settings = o.flavour === "project" ? { ...PROJECT_DEFAULTS } : { ...UPSTREAM_DEFAULTS };
  const maxPods = upstreamMaxPods(o.instanceType);
  const guards: Ec2Guard[] = [];
  const sdk: Array<{ quotaExhausted: number }> = [];
  const nodes: SimNode[] = [];
  for (let i = 0; i < o.nodes; i++) {
    let client: ClientPolicy;
    if (o.flavour === "project") {
      const guard = new Ec2Guard({ now: sim.now, sleep: sim.sleep, random });
      guards.push(guard);
      client = Object.assign(<T>(api: string, send: () => Promise<T>, co?: { yieldToOthers?: boolean }) => guard.call(api, send, co), { addressingBusy: (quietMs?: number) => guard.addressingBusy(quietMs) });
    } else {
      const retry = sdkStandardRetry(sim, random);
      sdk.push(retry);
      client = retry;
    }
    const w = o.modelPerNode && i > 0 ? newWorld() : shared;
    nodes.push(new SimNode({ sim, account, model: w.model, world: w.world, instanceType: o.instanceType, flavour: o.flavour, settings, client, maxPods, random, ...(o.kubeletRetry ? { kubeletRetry: o.kubeletRetry } : {}) }));
  }
  return {
    sim,
    account,
    nodes,
    random,
    quotaExhausted: () => sdk.reduce((n, s) => n + s.quotaExhausted, 0),
    clientWaitMs: () => guards.reduce((n, g) => n + Object.values(g.counts).reduce((m, c) => m + c.waitMs, 0), 0),
  };
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
