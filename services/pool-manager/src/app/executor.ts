/**
 * Carries the planner's actions out through the ports. ENIs are created with their
 * addresses and tags in one call, attached at a free device index (deleted again if the
 * attach fails), waited for in IMDS, set up by net-config, then published; the ENIs of one
 * grow are created and attached a few at a time and waited for in IMDS together. Nothing is
 * unassigned or detached before addr-broker granted the drain of every CIDR concerned.
 * What a throttled call leaves undone is kept and retried in later cycles (`repair`):
 * DeleteOnTermination not yet set on an attached ENI, an ENI that must be deleted.
 */
import type { PlanAction } from "../core/actions.ts";
import { ec2Code, type Ec2Port, type Eni, type ImdsPort, type Tags } from "../core/ports.ts";
import type { PoolSettings } from "../core/settings.ts";
import { poolStats } from "../core/pool-stats.ts";
import { eniSetupOf, poolCidr, type ManagedEni, type PoolModel } from "./pool-model.ts";
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
  /**
   * Upstream ipamd's call order, for benchmarks that model it: an assign that fails for any
   * reason (throttling too) is retried at once for one address, and an ENI's device index is
   * read after its create (a failed read deletes the ENI again). Off by default.
   */
  upstreamCallOrder?: boolean;
  /** Jitter source for the IMDS waits (default Math.random; seeded in benchmarks). */
  random?: () => number;
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

/** How long EC2's answer on the used device indexes is reused for the next ENI attaches (an attach that fails drops it at once). */
export const DEVICE_READ_TTL_MS = 600_000;

/** DeleteOnTermination waits for a calm account at most this long after the ENI's creation. */
export const DOT_MAX_DEFER_MS = 600_000;

const INSUFFICIENT = new Set(["InsufficientFreeAddressesInSubnet", "InsufficientCidrBlocks"]);

export class Executor {
  constructor(private readonly d: ExecutorDeps) {}

  async run(a: PlanAction): Promise<void> {
    if (a.kind === "assign") return this.assign(a.eniId, a.cidrKind, a.count);
    if (a.kind === "createEni") {
      const [err] = await this.createEnis([a]);
      if (err !== undefined) throw err;
      return;
    }
    if (a.kind === "release") return this.release(a.eniId, a.cidrs);
    return this.deleteEni(a.eniId);
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
          const m = await this.createAndAttach(a.cidrKind, a.count, this.yieldsToOthers(a.count));
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
    const most = this.d.model.extra.ec2Busy ? 1 : (this.d.opts.createParallel ?? 3);
    const parallel = Math.max(1, Math.min(most, actions.length));
    await Promise.all(Array.from({ length: parallel }, worker));
    await Promise.all(setups);
    return errors;
  }

  /**
   * Does what grows left for later or what failed: DeleteOnTermination on attached ENIs that
   * lack it (skipped while the pool is short or, for up to 10 min, while the account throttles), and ENIs queued for deletion (NotFound = done, "in use" = later). `failed` when a call
   * failed other than "in use" (the cycle backs off).
   */
  async repair(o: { deleteOnTermination: boolean; ec2Busy?: boolean } = { deleteOnTermination: true }): Promise<{ errors: string[]; failed: boolean }> {
    const { model, ec2, opts } = this.d;
    const errors: string[] = [];
    let failed = false;
    for (const m of model.enis.values()) {
      if (!o.deleteOnTermination || m.deleteOnTermination !== false || !m.attachmentId || m.removing) continue;
      // While the account throttles this node's addressing calls, other nodes' pods come first,
      // for at most DOT_MAX_DEFER_MS after the ENI was created (the window in which it could leak).
      if (o.ec2Busy && opts.now() - m.pool.createdAtMs < DOT_MAX_DEFER_MS) continue;
      try {
        await ec2.setDeleteOnTermination(m.pool.id, m.attachmentId);
        m.deleteOnTermination = true;
      } catch (err) {
        if (/NotFound/.test(ec2Code(err) ?? "")) {
          m.deleteOnTermination = undefined; // gone or re-attached: reconcile finds out
          continue;
        }
        failed = true;
        errors.push(`DeleteOnTermination ${m.pool.id}: ${String((err as Error).message ?? err)}`);
        if (isThrottle(err)) return { errors, failed };
      }
    }
    for (const [id, p] of model.pendingDeletes) {
      p.tries++;
      try {
        await ec2.deleteEni(id);
        model.pendingDeletes.delete(id);
      } catch (err) {
        const code = ec2Code(err) ?? "";
        if (code === "InvalidNetworkInterfaceID.NotFound") {
          model.pendingDeletes.delete(id);
          continue;
        }
        p.lastError = `${code}: ${String((err as Error).message ?? err)}`;
        p.lastTryAtMs = opts.now();
        if (isInUse(err)) continue;
        failed = true;
        errors.push(`delete ${id}: ${p.lastError}`);
        if (isThrottle(err)) return { errors, failed };
      }
    }
    return { errors, failed };
  }

  /** One DeleteNetworkInterface for an ENI this node created but does not use; queued for `repair` when it fails. */
  private async deleteOrQueue(eniId: string, why: string): Promise<void> {
    try {
      await this.d.ec2.deleteEni(eniId);
    } catch (err) {
      if (ec2Code(err) === "InvalidNetworkInterfaceID.NotFound") return;
      this.queueDelete(eniId, why, err);
    }
  }

  queueDelete(eniId: string, why: string, err?: unknown): void {
    const p = this.d.model.pendingDeletes.get(eniId) ?? { sinceMs: this.d.opts.now(), why, tries: 0 };
    if (err !== undefined) p.lastError = `${ec2Code(err) ?? ""}: ${String((err as Error)?.message ?? err)}`;
    this.d.model.pendingDeletes.set(eniId, p);
    this.d.model.bump();
  }

  /** Records an insufficient-CIDR error for the planner's windows; true when it was one. */
  private noteInsufficient(err: unknown): boolean {
    const code = ec2Code(err);
    if (!code || !INSUFFICIENT.has(code)) return false;
    if (code === "InsufficientCidrBlocks") this.d.model.extra.insufficientPrefixesAtMs = this.d.opts.now();
    else this.d.model.extra.insufficientAddressesAtMs = this.d.opts.now();
    return true;
  }

  private async assign(eniId: string, kind: "address" | "prefix", count: number): Promise<void> {
    const m = this.d.model.enis.get(eniId);
    if (!m) return;
    let added: string[];
    try {
      added = await this.d.ec2.assign(eniId, this.d.settings.family, kind, count);
    } catch (err) {
      // Throttling or a 5xx says nothing of the subnet: a second call for one address would
      // spend the account's shared budget on 1 address where the next cycle gets them all.
      if (count <= 1 || (isRetryable(err) && !this.d.opts.upstreamCallOrder)) {
        this.noteInsufficient(err);
        throw err;
      }
      // As upstream: on any other error, try to get just one (a nearly full subnet still has
      // some); the insufficient-address window starts only when even one cannot be had.
      try {
        added = await this.d.ec2.assign(eniId, this.d.settings.family, kind, 1);
      } catch (err2) {
        this.noteInsufficient(err2);
        throw err2;
      }
    }
    for (const c of added) if (!m.pool.cidrs.some((x) => x.cidr === c)) m.pool.cidrs.push(poolCidr(c, kind));
    this.d.model.bump();
  }

  private async targetSubnet(): Promise<{ subnetIds: string[]; securityGroups: string[] }> {
    const { settings, facts, opts, ec2, kube } = this.d;
    if (settings.customNetwork) {
      const cfg = await kube?.myEniConfig();
      if (!cfg || "missing" in cfg) throw new Error(cfg && "missing" in cfg ? cfg.missing : "custom networking needs the Kubernetes API");
      return { subnetIds: [cfg.subnetId], securityGroups: cfg.securityGroups.length ? cfg.securityGroups : facts.primarySecurityGroups };
    }
    if (!opts.subnetDiscovery) return { subnetIds: [facts.primarySubnetId], securityGroups: facts.primarySecurityGroups };
    try {
      const subnets = await ec2.subnets(facts.vpcId, facts.az);
      const eligible = subnets
        .filter((s) => s.tags["kubernetes.io/role/cni"] !== "0")
        .filter((s) => s.id === facts.primarySubnetId || s.tags["kubernetes.io/role/cni"] === "1")
        .sort((a, b) => b.availableIps - a.availableIps);
      return { subnetIds: eligible.length ? eligible.map((s) => s.id) : [facts.primarySubnetId], securityGroups: facts.primarySecurityGroups };
    } catch {
      return { subnetIds: [facts.primarySubnetId], securityGroups: facts.primarySecurityGroups };
    }
  }

  eniTags(): Tags {
    const { opts, facts } = this.d;
    const extra = Object.fromEntries(Object.entries(opts.additionalTags).filter(([k]) => !k.includes("k8s.amazonaws.com")));
    return {
      ...extra,
      "node.k8s.amazonaws.com/instance_id": facts.instanceId,
      "node.k8s.amazonaws.com/createdAt": new Date(opts.now()).toISOString(),
      ...(opts.clusterName ? { "cluster.k8s.amazonaws.com/name": opts.clusterName } : {}),
    };
  }

  /** Device indexes taken by attaches in flight (concurrent creates pick different ones). */
  private readonly attaching = new Set<number>();
  /** EC2's answer on the instance's used device indexes, and when it was read. */
  private deviceRead: { atMs: number; used: number[] } | undefined;

  /**
   * The instance's used device indexes from EC2, read at most once per DEVICE_READ_TTL_MS:
   * on a throttling account a grow is retried cycle after cycle, and a DescribeInstances
   * before each try took the Describe budget nodes starting up need. Dropped after an attach
   * failed and after this executor detached an ENI; the pool's own ENIs and the attaches in
   * flight are added by the caller.
   */
  /** The used device indexes as an EC2 read other than DescribeInstances saw them (start-up's DescribeNetworkInterfaces of the instance). */
  noteDeviceIndexes(used: number[]): void {
    this.deviceRead = { atMs: this.d.opts.now(), used: [...used] };
  }

  private async usedDeviceIndexes(): Promise<number[]> {
    const now = this.d.opts.now();
    if (this.deviceRead && now - this.deviceRead.atMs < DEVICE_READ_TTL_MS && !this.d.opts.upstreamCallOrder) return this.deviceRead.used;
    const used = await this.d.ec2.usedDeviceIndexes(this.d.facts.instanceId);
    this.deviceRead = { atMs: now, used };
    return used;
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
    if (!model.extra.ec2Busy || count <= 0) return false;
    const usage = model.poolUsage(false);
    const uncovered = Math.max(usage.pendingPods, usage.waiting) - poolStats(settings, model.poolState(), usage).available;
    return uncovered * 4 < count;
  }

  private async createAndAttach(kind: "address" | "prefix", count: number, yieldToOthers = false): Promise<ManagedEni> {
    const { ec2, facts, settings, model, opts } = this.d;
    const target = await this.targetSubnet();
    // The device index first (a Describe, from its own bucket): when that read fails, no ENI
    // was created for nothing (a create and a delete from the account's addressing budget).
    const freeDevice = async () => {
      const used = new Set([...(await this.usedDeviceIndexes()), ...[...model.enis.values()].map((m) => m.pool.deviceNumber), ...this.attaching]);
      let d = 1;
      while (used.has(d)) d++;
      this.attaching.add(d);
      return d;
    };
    let device = opts.upstreamCallOrder ? 0 : await freeDevice();
    try {
      let created;
      let lastErr: unknown;
      const create = (subnetId: string, n: number) =>
        ec2.createEni({ subnetId, description: `aws-K8S-${facts.instanceId}`, securityGroups: target.securityGroups, family: settings.family, cidrKind: kind, count: n, tags: this.eniTags(), ...(yieldToOthers ? { yieldToOthers } : {}) });
      for (const subnetId of target.subnetIds) {
        try {
          created = await create(subnetId, count);
          break;
        } catch (err) {
          lastErr = err;
          if (!INSUFFICIENT.has(ec2Code(err) ?? "")) throw err;
        }
      }
      // Better than upstream: a subnet too full for the ENI with all its addresses may still
      // hold the ENI alone; later cycles add what is left one by one (see assign).
      if (!created && count > 0 && ec2Code(lastErr) === "InsufficientFreeAddressesInSubnet") {
        try {
          created = await create(target.subnetIds[0]!, 0);
        } catch (err) {
          lastErr = err;
        }
      }
      if (!created) {
        this.noteInsufficient(lastErr);
        throw lastErr;
      }
      let attachmentId: string;
      try {
        if (device === 0) device = await freeDevice();
        attachmentId = await ec2.attachEni(created.id, facts.instanceId, device);
      } catch (err) {
        this.deviceRead = undefined; // e.g. the device was taken by someone else: read EC2 again
        // Never attached: delete it now, or in a later cycle (it must not leak).
        await this.deleteOrQueue(created.id, `created, not attached (${ec2Code(err) ?? "error"})`);
        throw err;
      }
      return this.adoptCreated(created, device, attachmentId);
    } finally {
      this.attaching.delete(device);
    }
  }

  /** A created and attached ENI into the pool (not ready until IMDS shows it). */
  private adoptCreated(created: Eni, device: number, attachmentId: string): ManagedEni {
    const { model, opts } = this.d;
    // Without DeleteOnTermination the ENI outlives the instance. It is set by `repair`, once the
    // pool is no longer short (the pods' addresses come first from the account's shared
    // budget), and retried each cycle until set.
    const deleteOnTermination = false;
    const cidrs = [
      ...created.secondaryIps.map((ip) => poolCidr(`${ip}/32`, "address")),
      ...created.ipv4Prefixes.map((p) => poolCidr(p, "prefix")),
      ...created.ipv6Prefixes.map((p) => poolCidr(p, "prefix")),
    ];
    const m: ManagedEni = {
      pool: { id: created.id, deviceNumber: device, subnetId: created.subnetId, primary: false, trunk: false, efa: false, excluded: false, createdAtMs: opts.now(), cidrs },
      mac: created.mac,
      primaryIp: created.primaryIp,
      subnetCidr: "",
      securityGroups: created.securityGroups,
      attachmentId,
      deleteOnTermination,
      ready: false,
    };
    model.enis.set(created.id, m);
    model.bump();
    return m;
  }

  /** Waits for the ENI in IMDS (100 ms → 60 s, ×2, 15% jitter, 12 tries), then net-config. */
  async finishSetup(m: ManagedEni, override: { tries?: number } = {}): Promise<void> {
    const w = { ...(this.d.opts.imdsWait ?? { firstMs: 100, maxMs: 60_000, tries: 12 }), ...override };
    let delay = w.firstMs;
    for (let i = 0; ; i++) {
      const seen = (await this.d.imds.interfaces().catch(() => [])).find((x) => x.mac === m.mac);
      if (seen?.subnetCidr) {
        m.subnetCidr = seen.subnetCidr;
        break;
      }
      if (i + 1 >= w.tries) throw new Error(`ENI ${m.pool.id} (${m.mac}) did not show in IMDS after ${w.tries} tries`);
      await this.d.opts.sleep(Math.round(delay * (1 + ((this.d.opts.random ?? Math.random)() * 0.3 - 0.15))));
      delay = Math.min(delay * 2, w.maxMs);
    }
    await this.d.net.setupEni(eniSetupOf(m));
    m.ready = true;
    this.d.model.bump();
  }

  /** Drain handshake: mark draining, ask addr-broker, keep only what it granted. */
  private async drained(eniId: string, cidrs: string[]): Promise<{ granted: string[]; refused: string[] }> {
    const { model, broker } = this.d;
    if (cidrs.length === 0) return { granted: [], refused: [] };
    model.setDraining(eniId, cidrs, true);
    let answer;
    try {
      answer = await broker.drain(cidrs);
    } catch (err) {
      model.setDraining(eniId, cidrs, false);
      throw err;
    }
    const granted = answer.granted.filter((c) => cidrs.includes(c));
    const refused = cidrs.filter((c) => !granted.includes(c));
    if (refused.length) model.setDraining(eniId, refused, false);
    return { granted, refused };
  }

  private async release(eniId: string, cidrs: string[]): Promise<void> {
    const { model, ec2, settings, opts } = this.d;
    const m = model.enis.get(eniId);
    if (!m) return;
    model.extra.lastShrinkAtMs = opts.now();
    const { granted } = await this.drained(eniId, cidrs);
    for (const kind of ["address", "prefix"] as const) {
      const of = granted.filter((c) => m.pool.cidrs.find((x) => x.cidr === c)?.kind === kind);
      if (of.length === 0) continue;
      try {
        await ec2.unassign(eniId, settings.family, kind, of);
      } catch (err) {
        model.setDraining(eniId, of, false);
        throw err;
      }
      m.pool.cidrs = m.pool.cidrs.filter((c) => !of.includes(c.cidr));
      for (const c of of) this.d.recentlyFreed.set(c, opts.now());
    }
    model.bump();
  }

  private async deleteEni(eniId: string): Promise<void> {
    const { model, ec2, net } = this.d;
    const m = model.enis.get(eniId);
    if (!m || m.pool.primary) return;
    const all = m.pool.cidrs.map((c) => c.cidr);
    const { refused } = await this.drained(eniId, all);
    if (refused.length) {
      model.setDraining(eniId, all, false);
      return;
    }
    m.removing = true;
    model.bump();
    if (m.ready) await net.teardownEni(eniSetupOf(m)).catch(() => undefined);
    const attachment = m.attachmentId ?? (await ec2.eni(eniId))?.attachment?.id;
    if (attachment) {
      this.deviceRead = undefined;
      try {
        await ec2.detachEni(attachment);
      } catch (err) {
        if (!/NotFound/.test(ec2Code(err) ?? "")) {
          m.removing = false;
          model.setDraining(eniId, all, false);
          throw err;
        }
      }
    }
    try {
      await this.deleteDetached(eniId);
    } catch (err) {
      // Detached but not deleted: out of the pool, deleted in a later cycle.
      this.queueDelete(eniId, "detached by a pool shrink", err);
      model.enis.delete(eniId);
      model.bump();
      throw err;
    }
    model.enis.delete(eniId);
    model.bump();
  }

  /** DeleteNetworkInterface, retrying "in use" (normal right after a detach); NotFound is success. */
  async deleteDetached(eniId: string): Promise<void> {
    const tries = this.d.opts.deleteTries ?? 20;
    for (let i = 0; ; i++) {
      try {
        await this.d.ec2.deleteEni(eniId);
        return;
      } catch (err) {
        const code = ec2Code(err) ?? "";
        if (code === "InvalidNetworkInterfaceID.NotFound") return;
        if (!isInUse(err) || i + 1 >= tries) throw err;
        await this.d.opts.sleep(Math.min(100 * 2 ** i, 5_000));
      }
    }
  }
}

function isInUse(err: unknown): boolean {
  return ec2Code(err) === "InvalidNetworkInterface.InUse" || /in use/i.test(String((err as Error)?.message ?? ""));
}

function isThrottle(err: unknown): boolean {
  return THROTTLE_CODES.has(ec2Code(err) ?? "");
}

const THROTTLE_CODES = new Set(["RequestLimitExceeded", "Throttling", "ThrottlingException"]);

/** Throttling, a 5xx or no answer: the account or the network, not the request, failed. */
function isRetryable(err: unknown): boolean {
  const code = ec2Code(err) ?? "";
  const status = (err as { status?: number })?.status;
  return isThrottle(err) || RETRYABLE_CODES.has(code) || (status !== undefined && status >= 500);
}

const RETRYABLE_CODES = new Set(["InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable", "NETWORK"]);
