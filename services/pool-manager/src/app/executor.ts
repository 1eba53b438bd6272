/**
 * Carries the planner's actions out through the ports. ENIs are created with their
 * addresses and tags in one call, attached at a free device index (deleted again if the
 * attach fails), waited for in IMDS, set up by net-config, then published; the ENIs of one
 * grow are created and attached a few at a time and waited for in IMDS together. Nothing is
 * unassigned or detached before addr-broker granted the drain of every CIDR concerned.
 * What a throttled call leaves undone is kept and retried in later cycles (`repair`):
 * DeleteOnTermination not yet set on an attached ENI, an ENI that must be deleted.
 *
 * This file holds the executor's surface and a grow's sequencing; the steps live beside it:
 * eni-create.ts (one ENI, subnet to ready), device-indexes.ts, eni-addresses.ts (assign,
 * drain, release), eni-delete.ts (delete, the delete queue, repair), ec2-failures.ts.
 */
import type { PlanAction } from "../core/actions.ts";
import type { Ec2Port, ImdsPort, Tags } from "../core/ports.ts";
import type { PoolSettings } from "../core/settings.ts";
import { poolStats } from "../core/pool-stats.ts";
import { DeviceIndexes } from "./device-indexes.ts";
import { assign, release } from "./eni-addresses.ts";
import { createAndAttach, finishSetup } from "./eni-create.ts";
import { deleteDetached, deleteEni, repair } from "./eni-delete.ts";
import type { ManagedEni, PoolModel } from "./pool-model.ts";
import type { BrokerPort, KubePort, NetConfigPort } from "./service-ports.ts";

export interface NodeFacts {
  instanceId: string;
  vpcId: string;
  az: string;
  primarySubnetId: string;
  primarySecurityGroups: string[];
}

export interface ExecutorOptions {
  clusterName?: string;
  additionalTags: Tags;
  subnetDiscovery: boolean;
  /** Subnets to never create ENIs in (tagged kubernetes.io/role/cni=0). */
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  imdsWait?: { firstMs: number; maxMs: number; tries: number };
  deleteTries?: number;
  /** ENIs of one grow created and attached at the same time (default 3). */
  createParallel?: number;
  /** Jitter source for the IMDS waits (default Math.random; seeded in benchmarks). */
  random?: () => number;
  /** awscni_aws_utils_error_count: an ENI clean-up step failed (upstream's awsUtilsErrInc fn names). */
  awsUtilsError?: (fn: "AllocENIDeleteErr" | "FreeENIDeleteErr" | "getENIAttachmentIDFailed" | "cleanUpLeakedENIDeleteErr", err: unknown) => void;
}

export interface ExecutorDeps {
  ec2: Ec2Port;
  imds: ImdsPort;
  net: NetConfigPort;
  broker: BrokerPort;
  kube?: KubePort;
  model: PoolModel;
  settings: PoolSettings;
  facts: NodeFacts;
  opts: ExecutorOptions;
  /** Recently unassigned CIDRs (not re-added from IMDS for 60 s). */
  recentlyFreed: Map<string, number>;
}

export class Executor {
  private readonly devices: DeviceIndexes;

  constructor(private readonly d: ExecutorDeps) {
    this.devices = new DeviceIndexes(d);
  }

  async run(a: PlanAction): Promise<void> {
    if (a.kind === "assign") return assign(this.d, a.eniId, a.cidrKind, a.count);
    if (a.kind === "createEni") {
      const [err] = await this.createEnis([a]);
      if (err !== undefined) throw err;
      return;
    }
    if (a.kind === "release") return release(this.d, a.eniId, a.cidrs);
    return deleteEni(this.d, this.devices, a.eniId);
  }

  /**
   * The ENIs of one grow: created and attached up to `createParallel` at a time, each waited
   * for in IMDS as soon as it is attached, all together. After a failure no further ENI of
   * this grow is started (the account is likely throttling). One error per action,
   * undefined where it went through.
   */
  async createEnis(actions: Array<{ cidrKind: "address" | "prefix"; count: number }>): Promise<unknown[]> {
    const errors: unknown[] = actions.map(() => undefined);
    const setups: Promise<void>[] = [];
    let next = 0;
    let failed = false;
    const worker = async () => {
      for (let i = next++; i < actions.length; i = next++) {
        if (failed) {
          errors[i] = new Error("not tried: an earlier ENI of this grow failed");
          continue;
        }
        const a = actions[i]!;
        try {
          const m = await createAndAttach(this.d, this.devices, a.cidrKind, a.count, this.yieldsToOthers(a.count));
          setups.push(this.finishSetup(m).catch((err) => void (errors[i] = err)));
        } catch (err) {
          failed = true;
          errors[i] = err;
        }
      }
    };
    // While the account throttles this node's addressing calls, one ENI at a time: a node
    // with two creates in flight draws from the shared bucket twice as often as a node still
    // waiting for its first addresses, and its second ENI serves fewer pending pods.
    const most = this.d.model.conditions.ec2Busy ? 1 : (this.d.opts.createParallel ?? 3);
    const parallel = Math.max(1, Math.min(most, actions.length));
    await Promise.all(Array.from({ length: parallel }, worker));
    await Promise.all(setups);
    return errors;
  }

  /**
   * While the account throttles this node's addressing calls, an ENI whose addresses the
   * node's pending pods hardly need (fewer than a quarter of them, counting the addresses
   * free and coming) yields to other nodes: on a crowded account their pods with no address
   * yet come first from the shared budget (the client tries it less often); on a calm one it
   * goes as fast as any call.
   */
  private yieldsToOthers(count: number): boolean {
    const { model, settings } = this.d;
    if (!model.conditions.ec2Busy || count <= 0) return false;
    const usage = model.poolUsage(false);
    const uncovered = Math.max(usage.pendingPods, usage.waiting) - poolStats(settings, model.poolState(), usage).available;
    return uncovered * 4 < count;
  }

  /** What grows left for later or what failed, each cycle (see eni-delete.ts). */
  repair(o: { deleteOnTermination: boolean; ec2Busy?: boolean } = { deleteOnTermination: true }): Promise<{ errors: string[]; failed: boolean }> {
    return repair(this.d, o);
  }

  /** The used device indexes as an EC2 read other than DescribeInstances saw them (start-up's DescribeNetworkInterfaces of the instance). */
  noteDeviceIndexes(used: number[]): void {
    this.devices.note(used);
  }

  /** Waits for the ENI in IMDS, then net-config (see eni-create.ts). */
  finishSetup(m: ManagedEni, override: { tries?: number } = {}): Promise<void> {
    return finishSetup(this.d, m, override);
  }

  /** DeleteNetworkInterface, retrying "in use" (see eni-delete.ts). */
  deleteDetached(eniId: string): Promise<void> {
    return deleteDetached(this.d, eniId);
  }
}
