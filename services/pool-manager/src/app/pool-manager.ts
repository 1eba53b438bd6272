/**
 * The pool-manager's life: start-up as upstream (IMDS, limits, ENIs from EC2, unmanaged
 * and excluded ENIs, tags, net-config, usage, pre-scale), retried with a jittered back-off,
 * then a pool cycle every 5 s (at once on a miss), a reconcile every 60 s and the leaked-ENI
 * clean-up. After a cycle whose EC2 work failed (throttled, 5xx), cycles back off (1 s → 60 s,
 * jittered, reset by a cycle that went through): timers, usage pushes and misses cannot
 * start one before the back-off ends, so a throttled account is not hammered by every node.
 */
import { describeAction, type PlanAction } from "../core/actions.ts";
import { backoffDelayMs, CYCLE_BACKOFF, STARTUP_BACKOFF, type BackoffSpec } from "../core/backoff.ts";
import type { Plan } from "../core/planner.ts";
import { planPool } from "../core/pool-policy.ts";
import { EMPTY_HISTORY, recordDemand, recordScheduled } from "../core/demand-history.ts";
import { DEMAND_TUNING, historyKeepMs } from "../core/demand-policy.ts";
import { ec2Code, type Ec2Port, type Eni, type ImdsPort } from "../core/ports.ts";
import { deriveLimits, type PoolLimits, type PoolSettings } from "../core/settings.ts";
import { ec2Cidrs, imdsDiffers, isLeakedEni, reconcileCidrs } from "./ec2-reconcile.ts";
import { Executor, type ExecutorOptions, type NodeFacts } from "./executor.ts";
import type { PoolMetrics } from "./metrics.ts";
import { PoolModel, eniSetupOf, poolCidr, type ManagedEni } from "./pool-model.ts";
import type { BrokerPort, KubePort, NetConfigPort } from "./service-ports.ts";

export interface PoolManagerOptions extends ExecutorOptions {
  /** DISABLE_NETWORK_RESOURCE_PROVISIONING: IMDS/EC2 reads only, no EC2 mutation. */
  disableProvisioning: boolean;
  disableLeakedEniCleanup: boolean;
  /** Kubelet max pods (Node capacity); upstream falls back to 110. */
  maxPods?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** Back-off between pool cycles after a failed action (default CYCLE_BACKOFF). */
  cycleBackoff?: BackoffSpec;
  /** Back-off between start-up attempts (default STARTUP_BACKOFF). */
  startupBackoff?: BackoffSpec;
  /** Jitter source (default Math.random). */
  random?: () => number;
}

/** EC2 answers the planner handles itself (insufficient-CIDR windows): no back-off for them. */
const NO_BACKOFF = new Set(["InsufficientFreeAddressesInSubnet", "InsufficientCidrBlocks"]);

export interface Decision {
  at: number;
  reason: string;
  actions: string[];
  shortage?: string;
  errors?: string[];
}

export class PoolManager {
  readonly model: PoolModel;
  limits: PoolLimits | undefined;
  facts: NodeFacts | undefined;
  executor: Executor | undefined;
  readonly decisions: Decision[] = [];
  readonly recentlyFreed = new Map<string, number>();
  private chain: Promise<unknown> = Promise.resolve();
  private lastPoolActionAt = 0;
  /** Cycle back-off: failed cycles in a row, and no cycle before `untilMs`. */
  readonly backoff = { failures: 0, untilMs: 0, lastError: "" };
  private wakePending = false;
  /** Whether a usage report reached this process yet (the first one sets the miss baseline). */
  private usageSeen = false;
  /** When start() found a pool kept by an earlier process (this process's demand history begins then). */
  private inheritedPoolAtMs: number | undefined;
  private shrinkHoldNoted = false;
  /** The pre-scale cycle of the last start (awaited by start() under compat only). */
  preScale: Promise<Plan | undefined> = Promise.resolve(undefined);
  private stopped = false;
  private timers: ReturnType<typeof setInterval>[] = [];

  constructor(
    readonly settings: PoolSettings,
    private readonly ports: { ec2: Ec2Port; imds: ImdsPort; net: NetConfigPort; broker: BrokerPort; kube?: KubePort },
    readonly opts: PoolManagerOptions,
    private readonly metrics?: PoolMetrics,
  ) {
    this.model = new PoolModel(settings);
  }

  private log(msg: string, f?: Record<string, unknown>): void {
    this.opts.log?.(msg, f);
  }

  /** Serialises pool work: one cycle, reconcile or clean-up at a time. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  async start(): Promise<void> {
    const t0 = performance.now();
    const { imds, ec2, net } = this.ports;
    const [instanceId, instanceType, az, primaryMac, localIp, ifs] = await Promise.all([imds.instanceId(), imds.instanceType(), imds.availabilityZone(), imds.primaryMac(), imds.localIpv4(), imds.interfaces()]);
    const primaryIf = ifs.find((i) => i.mac === primaryMac);
    if (!primaryIf) throw new Error(`IMDS lists no interface for the primary MAC ${primaryMac}`);
    const lim = await ec2.instanceLimits(instanceType);
    this.limits = { instanceType, maxEnis: lim.maxEnis, ipv4PerEni: lim.ipv4PerEni, ipv6PerEni: lim.ipv6PerEni, trunking: lim.trunking, maxPods: this.opts.maxPods ?? 110 };
    const d = deriveLimits(this.settings, this.limits);
    this.model.vpcCidrs = primaryIf.vpcCidrs;
    await net.setupHost({ vpcCidrs: primaryIf.vpcCidrs, primaryIp: localIp, primaryMac });
    const enis = await ec2.instanceEnis(instanceId);
    const primary = enis.find((e) => e.id === primaryIf.interfaceId);
    this.facts = { instanceId, vpcId: primary?.vpcId ?? "", az, primarySubnetId: primaryIf.subnetId, primarySecurityGroups: primaryIf.securityGroupIds };
    this.executor = new Executor({ ...this.ports, model: this.model, settings: this.settings, facts: this.facts, opts: this.opts, recentlyFreed: this.recentlyFreed });
    if (!this.opts.upstreamCallOrder) this.executor.noteDeviceIndexes(enis.flatMap((e) => (e.attachment ? [e.attachment.deviceIndex] : [])));
    const subnetCidrs = new Map(ifs.map((i) => [i.interfaceId, i.subnetCidr]));
    const excluded = await this.excludedSubnets();
    for (const e of enis) await this.adopt(e, primaryIf.interfaceId, subnetCidrs.get(e.id), excluded);
    this.metrics?.eniMax.set(d.maxEni - this.model.unmanaged);
    this.metrics?.ipMax.set(d.maxIpsPerEni * (d.maxEni - this.model.unmanaged));
    await this.refreshUsage();
    await this.refreshKube();
    // A pool found already holding addresses was kept by a process before this one.
    if ([...this.model.enis.values()].some((m) => m.pool.cidrs.length > 0)) this.inheritedPoolAtMs = this.opts.now();
    this.model.ready = true;
    this.model.bump();
    this.metrics?.startup.observe((performance.now() - t0) / 1000);
    this.log("pool-manager started", { instanceId, instanceType, enis: this.model.enis.size, unmanaged: this.model.unmanaged });
    // Pre-scale. Upstream's ipamd finishes it before it serves ADDs (compat keeps that); the
    // demand policy grows for pods as they are scheduled, so the node is up once its ENIs
    // are read, and the first cycle does not hold start-up on the account's shared budget.
    this.preScale = this.cycle();
    if (this.settings.policy !== "demand") await this.preScale;
  }

  /**
   * start(), retried until it goes through (IMDS or EC2 failing, e.g. DescribeInstanceTypes
   * throttled) after a jittered exponential back-off; the shortage tells pods why.
   */
  async startWithRetry(onFailure?: (err: unknown, retryInMs: number) => void): Promise<void> {
    for (let failures = 1; ; failures++) {
      try {
        await this.start();
        return;
      } catch (err) {
        const ms = backoffDelayMs(failures, this.opts.startupBackoff ?? STARTUP_BACKOFF, (this.opts.random ?? Math.random)());
        this.model.shortage = `start-up failed, retrying in ${(ms / 1000).toFixed(1)} s: ${String((err as Error)?.message ?? err)}`;
        this.model.bump();
        onFailure?.(err, ms);
        await this.opts.sleep(ms);
      }
    }
  }

  /** Subnets tagged kubernetes.io/role/cni=0 (subnet discovery only). */
  private async excludedSubnets(): Promise<Set<string>> {
    if (!this.opts.subnetDiscovery || !this.facts) return new Set();
    try {
      const subnets = await this.ports.ec2.subnets(this.facts.vpcId, this.facts.az);
      return new Set(subnets.filter((s) => s.tags["kubernetes.io/role/cni"] === "0" && s.id !== this.facts!.primarySubnetId).map((s) => s.id));
    } catch {
      return new Set();
    }
  }

  /** Takes an attached ENI into the pool: unmanaged are only counted; others tagged and set up. */
  private async adopt(e: Eni, primaryId: string, subnetCidr: string | undefined, excluded: Set<string>): Promise<void> {
    const isPrimary = e.id === primaryId;
    if (!isPrimary && e.tags["node.k8s.amazonaws.com/no_manage"] === "true") {
      this.model.unmanaged++;
      return;
    }
    const trunk = e.interfaceType === "trunk";
    const efa = e.interfaceType === "efa";
    const want = { "node.k8s.amazonaws.com/instance_id": this.facts!.instanceId, ...(this.opts.clusterName ? { "cluster.k8s.amazonaws.com/name": this.opts.clusterName } : {}) };
    const missing = Object.fromEntries(Object.entries(want).filter(([k, v]) => e.tags[k] !== v));
    if (!trunk && !this.opts.disableProvisioning && Object.keys(missing).length > 0) await this.ports.ec2.createTags([e.id], missing);
    const cidrs = [
      ...e.secondaryIps.map((ip) => poolCidr(`${ip}/32`, "address")),
      ...e.ipv4Prefixes.map((p) => poolCidr(p, "prefix")),
      ...e.ipv6Prefixes.map((p) => poolCidr(p, "prefix")),
    ];
    const m: ManagedEni = {
      pool: { id: e.id, deviceNumber: e.attachment?.deviceIndex ?? 0, subnetId: e.subnetId, primary: isPrimary, trunk, efa, excluded: excluded.has(e.subnetId), createdAtMs: e.attachment?.attachedAtMs ?? this.opts.now(), cidrs },
      mac: e.mac,
      primaryIp: e.primaryIp,
      subnetCidr: subnetCidr ?? "",
      securityGroups: e.securityGroups,
      ...(e.attachment ? { attachmentId: e.attachment.id } : {}),
      ready: isPrimary,
    };
    this.model.enis.set(e.id, m);
    if (!isPrimary) {
      if (m.subnetCidr) {
        await this.ports.net.setupEni(eniSetupOf(m));
        m.ready = true;
      } else await this.executor!.finishSetup(m).catch((err) => this.log("ENI set-up deferred", { eni: e.id, err: String(err) }));
    }
  }

  async refreshUsage(): Promise<void> {
    try {
      this.takeUsage(await this.ports.broker.getUsage());
    } catch (err) {
      this.log("addr-broker usage unavailable", { err: String(err) });
    }
  }

  private async refreshKube(): Promise<void> {
    const kube = this.ports.kube;
    if (!kube) return;
    // Each reading on its own: one failing (API away) must not skip the others.
    const read = async (what: string, fn: () => Promise<void>) => fn().catch((err) => this.log(`Kubernetes: ${what} not read`, { err: String(err) }));
    await read("node taints", async () => void (this.model.extra.node.unschedulable = await kube.nodeUnschedulable()));
    // Upstream sizes the pool by the kubelet's max pods (Node capacity), else 110.
    if (this.limits && this.opts.maxPods === undefined && kube.nodeMaxPods) {
      await read("node capacity", async () => {
        const pods = await kube.nodeMaxPods!();
        if (pods !== undefined && this.limits && this.limits.maxPods !== pods) this.limits = { ...this.limits, maxPods: pods };
      });
    }
    if (this.settings.demandAware) {
      this.model.podsWatched = false;
      await read("pending pods", async () => {
        const before = this.model.pendingPods;
        this.model.pendingPods = await kube.pendingPods(); // stamps the assigned count of this read
        this.model.podsWatched = kube.podsWatched?.() ?? false;
        // With the watch, a burst is the pods scheduled together (the pending count's rise).
        if (this.model.podsWatched) this.model.extra.demand = recordScheduled(this.model.extra.demand, this.opts.now(), this.model.pendingPods - before, historyKeepMs());
      });
    }
    if (this.settings.customNetwork) {
      await read("ENIConfig", async () => {
        const cfg = await kube.myEniConfig();
        if ("missing" in cfg) this.model.extra.newEniBlocked = cfg.missing;
        else delete this.model.extra.newEniBlocked;
      });
    }
    if (this.settings.podEni && this.limits?.trunking && kube.ensureSecurityGroupsForPods) await read("trunk label / CNINode", () => kube.ensureSecurityGroupsForPods!());
  }

  /** The Kubernetes adapter saw a change (pods scheduled, node relabelled, API back): re-plan now. */
  onKubeChange(): void {
    if (this.model.ready) void this.refreshKube().then(() => this.cycle()).catch(() => undefined);
  }

  /** One pool check: plan, carry out, publish. Returns the plan. */
  cycle(): Promise<Plan | undefined> {
    return this.serial(() => this.cycleNow());
  }

  private async cycleNow(): Promise<Plan | undefined> {
    if (!this.model.ready || !this.limits || !this.executor) return undefined;
    const now = this.opts.now();
    if (now < this.backoff.untilMs) {
      this.wakeAfterBackoff(now);
      return undefined;
    }
    if (this.settings.customNetwork && !this.ports.kube && this.model.extra.newEniBlocked === undefined) {
      this.model.extra.newEniBlocked = "custom networking is on but the Kubernetes API is not configured: no ENIConfig can be read";
    }
    const errors: string[] = [];
    // An ENI whose set-up was deferred (not in IMDS yet at adoption, net-config down) is retried each cycle.
    for (const m of this.model.enis.values()) {
      if (m.ready || m.removing || m.pool.primary) continue;
      await this.executor.finishSetup(m, { tries: 1 }).catch((err) => errors.push(`setup ${m.pool.id}: ${String((err as Error).message ?? err)}`));
    }
    let failed = false;
    // Read by the demand policy (and its DeleteOnTermination deferral) only; compat plans as upstream.
    this.model.extra.ec2Busy = this.ports.ec2.addressingBusy?.() ?? false;
    this.model.extra.ec2BusyLately = this.ports.ec2.addressingBusy?.(600_000) ?? false;
    const p = this.holdShrinkAfterStart(planPool(this.model.poolState(), this.model.poolUsage(true), this.settings, this.limits, now), now);
    if (!this.opts.disableProvisioning) {
      const failedAction = (a: PlanAction, err: unknown) => {
        errors.push(`${a.kind}: ${String((err as Error)?.message ?? err)}`);
        this.metrics?.ipamdErrors.inc({ fn: a.kind });
        const code = ec2Code(err) ?? "";
        if (!NO_BACKOFF.has(code)) failed = true;
        if (code === "InsufficientCidrBlocks" && this.settings.pdFallbackToIps) queueMicrotask(() => void this.cycle());
      };
      // Assigns, releases and deletes one after another; the ENIs of a grow together.
      for (const a of p.actions) {
        if (a.kind === "createEni") continue;
        if (failed) break;
        this.metrics?.inProgress.inc({ fn: a.kind });
        try {
          await this.executor.run(a);
          this.lastPoolActionAt = this.opts.now();
        } catch (err) {
          failedAction(a, err);
        } finally {
          this.metrics?.inProgress.dec({ fn: a.kind });
        }
      }
      const creates = p.actions.filter((a) => a.kind === "createEni");
      if (creates.length > 0 && !failed) {
        this.metrics?.inProgress.inc({ fn: "createEni" }, creates.length);
        const errs = await this.executor.createEnis(creates).finally(() => this.metrics?.inProgress.dec({ fn: "createEni" }, creates.length));
        errs.forEach((err, i) => (err === undefined ? undefined : failedAction(creates[i]!, err)));
        if (errs.some((e) => e === undefined)) this.lastPoolActionAt = this.opts.now();
      }
      // Then what grows left for later or what failed (after the pool's own work: pods first;
      // DeleteOnTermination once the pool is not short).
      if (!failed) {
        const r = await this.executor.repair({ deleteOnTermination: !p.low, ec2Busy: this.settings.policy === "demand" && (this.model.extra.ec2Busy ?? false) });
        errors.push(...r.errors);
        failed ||= r.failed;
      }
    }
    this.noteCycleOutcome(failed, errors);
    const shortage = p.shortage ?? (this.settings.customNetwork && this.model.extra.newEniBlocked && p.stats.total === 0 ? this.model.extra.newEniBlocked : undefined);
    if (shortage !== this.model.shortage) {
      this.model.shortage = shortage;
      this.model.bump();
    }
    if (p.actions.length > 0 || errors.length > 0 || shortage) {
      this.decisions.push({ at: now, reason: p.reason, actions: p.actions.map(describeAction), ...(shortage ? { shortage } : {}), ...(errors.length ? { errors } : {}) });
      if (this.decisions.length > 100) this.decisions.shift();
    }
    this.updateGauges();
    return p;
  }

  /**
   * Demand policy, after a restart (start-up found addresses on the ENIs): what the process
   * before this one kept free on purpose (room for the
   * pods' recent burst, the addresses of pods that just left) was in its demand history, and
   * that died with it; this process rebuilds the history from addr-broker's reports. Until the
   * history covers the span a release looks back over (the release delay with the pod watch,
   * the arrival horizon without) no release, and until it covers the ENI delay no ENI delete
   * (but an empty ENI of an excluded subnet, which needs no history): else every restart would
   * give back what the pool was keeping, and grow it again at the next burst. Compat plans
   * from the warm targets alone and is never held.
   */
  private holdShrinkAfterStart(p: Plan, now: number): Plan {
    const shrinking = (a: PlanAction) => a.kind === "release" || (a.kind === "deleteEni" && !this.model.enis.get(a.eniId)?.pool.excluded);
    // Any policy: a usage report that counts pods' addresses under no CIDR of it (addr-broker
    // without the pool's capacity yet: it restarted, or holds a not-ready snapshot) shows their
    // addresses free. Nothing is given back on that view; the next report is complete.
    const u = this.model.usage;
    if (u && u.assigned > u.cidrs.reduce((n, c) => n + c.assigned, 0) && p.actions.some(shrinking)) {
      this.log("pool shrink held: addr-broker's usage does not place every assigned address yet", { assigned: u.assigned, held: p.actions.filter(shrinking).map(describeAction) });
      return { ...p, actions: p.actions.filter((a) => !shrinking(a)) };
    }
    if (this.settings.policy !== "demand" || this.inheritedPoolAtMs === undefined) return p;
    const age = now - this.inheritedPoolAtMs;
    const releaseSpan = this.model.podsWatched ? DEMAND_TUNING.releaseDelayMs : DEMAND_TUNING.horizonMs;
    const held = p.actions.filter((a) => shrinking(a) && age < (a.kind === "release" ? releaseSpan : DEMAND_TUNING.eniReleaseDelayMs));
    if (held.length === 0) return p;
    if (!this.shrinkHoldNoted) {
      this.shrinkHoldNoted = true;
      this.log("pool shrink held: the demand history restarts with this process", { held: held.map(describeAction), startedSecondsAgo: Math.round(age / 1000) });
    }
    return { ...p, actions: p.actions.filter((a) => !held.includes(a)) };
  }

  /** A failed cycle starts or lengthens the back-off; one that went through ends it. */
  private noteCycleOutcome(failed: boolean, errors: string[]): void {
    const b = this.backoff;
    if (!failed) {
      b.failures = 0;
      b.untilMs = 0;
      return;
    }
    b.failures++;
    const ms = backoffDelayMs(b.failures, this.opts.cycleBackoff ?? CYCLE_BACKOFF, (this.opts.random ?? Math.random)());
    b.untilMs = this.opts.now() + ms;
    b.lastError = errors[errors.length - 1] ?? "";
    this.log("pool cycle failed, backing off", { failures: b.failures, ms, err: b.lastError });
  }

  /** One cycle right when the back-off ends (the triggers during it were skipped). */
  private wakeAfterBackoff(now: number): void {
    if (this.wakePending || this.stopped) return;
    this.wakePending = true;
    void this.opts.sleep(Math.max(this.backoff.untilMs - now, 1)).then(() => {
      this.wakePending = false;
      if (!this.stopped) void this.cycle();
    });
  }

  private updateGauges(): void {
    if (!this.metrics) return;
    const st = this.model.poolState();
    const usage = this.model.poolUsage(false);
    this.metrics.eniAllocated.set(st.enis.length);
    this.metrics.totalIps.set(st.enis.flatMap((e) => e.cidrs).reduce((n, c) => n + (c.kind === "address" ? 1 : c.size), 0));
    this.metrics.totalPrefixes.set(st.enis.flatMap((e) => e.cidrs).filter((c) => c.kind === "prefix").length);
    this.metrics.assignedPerEni.reset(); // an ENI that left the pool leaves the gauge too
    for (const e of st.enis) this.metrics.assignedPerEni.set({ eni: e.id }, e.cidrs.reduce((n, c) => n + (usage.byCidr[c.cidr]?.assigned ?? 0), 0));
  }

  /** Re-reads EC2 for the node's ENIs and fixes the model (upstream nodeIPPoolReconcile). */
  reconcile(force = false): Promise<void> {
    return this.serial(async () => {
      if (!this.model.ready || !this.facts) return;
      const now = this.opts.now();
      if (!force && now - this.lastPoolActionAt <= 60_000) return;
      const imdsIfs = await this.ports.imds.interfaces();
      const differs = imdsDiffers(this.model.enis, this.model.unmanaged, imdsIfs);
      if (!differs) return;
      // IMDS is a hint; EC2 is the truth (verifyImdsWithEc2), as upstream does on a mismatch.
      const enis = await this.ports.ec2.instanceEnis(this.facts.instanceId);
      const seenIds = new Set(enis.map((e) => e.id));
      for (const [id, m] of this.model.enis) {
        if (seenIds.has(id) || m.pool.primary) continue;
        const usage = this.model.poolUsage(false);
        const assigned = m.pool.cidrs.reduce((n, c) => n + (usage.byCidr[c.cidr]?.assigned ?? 0), 0);
        if (assigned > 0) {
          this.metrics?.forceRemovedEnis.inc();
          this.metrics?.forceRemovedIps.inc(assigned);
        }
        this.model.enis.delete(id);
        this.metrics?.reconcile.inc({ fn: "eniReconcileDel" });
      }
      const cidrsOf = new Map(imdsIfs.map((i) => [i.interfaceId, i.subnetCidr]));
      for (const e of enis) {
        const m = this.model.enis.get(e.id);
        if (!m) {
          if (e.tags["node.k8s.amazonaws.com/no_manage"] === "true") continue;
          await this.adopt(e, "", cidrsOf.get(e.id), new Set());
          this.metrics?.reconcile.inc({ fn: "eniReconcileAdd" });
          continue;
        }
        const r = reconcileCidrs(m.pool.cidrs, ec2Cidrs(e), this.recentlyFreed, now);
        m.pool.cidrs = r.cidrs;
        if (r.removed > 0) this.metrics?.reconcile.inc({ fn: "eniIPPoolReconcileDel" });
        if (r.added > 0) this.metrics?.reconcile.inc({ fn: "eniIPPoolReconcileAdd" }, r.added);
      }
      this.model.bump();
    });
  }

  /** Deletes detached ENIs this project created and leaked (older than 5 min, description aws-K8S-). */
  cleanLeakedEnis(): Promise<number> {
    return this.serial(async () => {
      if (this.opts.disableLeakedEniCleanup || this.opts.disableProvisioning || this.settings.family === "ipv6" || !this.facts || !this.executor) return 0;
      const now = this.opts.now();
      const candidates = await this.ports.ec2.leakedEniCandidates(this.facts.vpcId, this.opts.clusterName);
      let deleted = 0;
      for (const e of candidates) {
        if (!isLeakedEni(e, now)) continue;
        await this.executor.deleteDetached(e.id).then(() => deleted++, (err) => this.log("leaked ENI not deleted", { eni: e.id, err: String(err) }));
      }
      return deleted;
    });
  }

  /** The demand policy's input: the assigned count and misses over time (the planner reads no clock). */
  private recordDemand(): void {
    const u = this.model.usage;
    if (u) this.model.extra.demand = recordDemand(this.model.extra.demand, this.opts.now(), u.assigned, u.misses, historyKeepMs(), !this.model.podsWatched);
  }

  /**
   * A usage report, pulled or pushed. addr-broker's miss counter is cumulative over its own
   * life, not this process's: the first report this process sees is its baseline, so the
   * misses counted before it started (acted upon by the process before it, or long served)
   * are neither grown for again nor recorded as a burst. Without that, every pool-manager
   * restart on a node that ever had a miss assigned that many addresses again. Pods still
   * short show up as ADDs waiting now, or miss again when retried.
   */
  private takeUsage(u: NonNullable<PoolModel["usage"]>): { newMiss: boolean } {
    if (!this.usageSeen) {
      this.usageSeen = true;
      this.model.missesSeen = u.misses;
      this.model.extra.demand = { ...(this.model.extra.demand ?? EMPTY_HISTORY), missesSeen: u.misses };
    }
    // A restarted addr-broker counts from 0 again: any miss of the new count is new.
    const newMiss = u.misses < this.model.missesSeen ? u.misses > 0 : u.misses > this.model.missesSeen;
    this.model.usage = u;
    this.recordDemand();
    return { newMiss };
  }

  /** Called when addr-broker pushes usage: a new miss triggers a cycle at once. */
  onUsage(u: NonNullable<PoolModel["usage"]>): void {
    const { newMiss } = this.takeUsage(u);
    if (newMiss || u.waiting > 0) void this.cycle();
  }

  startLoops(): void {
    this.stopped = false;
    this.timers.push(setInterval(() => void this.refreshKube().then(() => this.cycle()).catch(() => undefined), 5_000));
    this.timers.push(setInterval(() => void this.reconcile().catch((e) => this.log("reconcile failed", { err: String(e) })), 60_000));
    const leak = () => void this.cleanLeakedEnis().catch((e) => this.log("leaked-ENI clean-up failed", { err: String(e) }));
    const first = setTimeout(() => {
      leak();
      this.timers.push(setInterval(leak, 3_600_000));
    }, Math.random() * 300_000);
    this.timers.push(first as unknown as ReturnType<typeof setInterval>);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  debug(): Record<string, unknown> {
    return {
      ready: this.model.ready,
      settings: this.settings,
      limits: this.limits && { ...this.limits, ...deriveLimits(this.settings, this.limits) },
      facts: this.facts,
      shortage: this.model.shortage,
      enis: [...this.model.enis.values()].map((m) => ({ ...m.pool, mac: m.mac, ready: m.ready, usage: m.pool.cidrs.map((c) => ({ ...(this.model.usage?.cidrs.find((u) => u.cidr === c.cidr) ?? { assigned: 0, cooling: 0 }), cidr: c.cidr })) })),
      unmanagedEnis: this.model.unmanaged,
      // ENIs created here still lacking DeleteOnTermination, ENIs still to delete, and the cycle back-off.
      deleteOnTerminationPending: [...this.model.enis.values()].filter((m) => m.deleteOnTermination === false).map((m) => m.pool.id),
      pendingEniDeletes: Object.fromEntries(this.model.pendingDeletes),
      cycleBackoff: this.backoff.untilMs > this.opts.now() ? { ...this.backoff, remainingMs: this.backoff.untilMs - this.opts.now() } : { failures: 0 },
      kubernetes: this.ports.kube?.debug?.() ?? { status: this.ports.kube ? "kubernetes: configured" : "kubernetes: not configured (no KUBECONFIG, no in-cluster API server)" },
      usage: this.model.usage,
      decisions: this.decisions.slice(-30),
    };
  }
}
