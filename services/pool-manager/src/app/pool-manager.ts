/**
 * The pool-manager's life: start-up as upstream (IMDS, limits, ENIs from EC2, unmanaged
 * and excluded ENIs, tags, net-config, usage, pre-scale), retried with a jittered back-off,
 * then a pool cycle every 5 s (at once on a miss), a reconcile every 60 s, the VPC CIDRs
 * re-read every 30 s (vpc-cidr-refresh.ts) and the leaked-ENI
 * clean-up. After a cycle whose EC2 work failed (throttled, 5xx), cycles back off (1 s → 60 s,
 * jittered, reset by a cycle that went through): timers, usage pushes and misses cannot
 * start one before the back-off ends, so a throttled account is not hammered by every node.
 *
 * Beside it: eni-adoption.ts (ENIs found attached: start-up and reconcile), shrink-hold.ts
 * (what a restart must not give back), usage-intake.ts (addr-broker's usage reports),
 * kube-refresh.ts (Kubernetes readings), plan-execution.ts (a plan's actions through the
 * executor), pool-debug.ts (/debug and the pool gauges).
 */
import { describeAction } from "../core/actions.ts";
import { backoffDelayMs, CYCLE_BACKOFF, STARTUP_BACKOFF, type BackoffSpec } from "../core/backoff.ts";
import { trunkSlotAvailable, type Plan } from "../core/planner.ts";
import { planPool } from "../core/pool-policy.ts";
import type { Ec2Port, ImdsPort } from "../core/ports.ts";
import { deriveLimits, type PoolLimits, type PoolSettings } from "../core/settings.ts";
import { isLeakedEni } from "./ec2-reconcile.ts";
import { enisFromImds, limitsWithoutEc2 } from "./imds-only.ts";
import { ipv6Host } from "./ipv6-host.ts";
import { CardPools } from "./card-pools.ts";
import { adoptEni, excludedSubnets, onUnmanagedCard, reconcileWithEc2, type AdoptionContext } from "./eni-adoption.ts";
import { Executor, type ExecutorOptions, type NodeFacts } from "./executor.ts";
import { refreshKube } from "./kube-refresh.ts";
import type { PoolMetrics } from "./metrics.ts";
import { poolDebug, updatePoolGauges } from "./pool-debug.ts";
import { executePlan } from "./plan-execution.ts";
import { PoolModel } from "./pool-model.ts";
import type { BrokerPort, KubePort, NetConfigPort } from "./service-ports.ts";
import { ShrinkHold } from "./shrink-hold.ts";
import { UsageIntake } from "./usage-intake.ts";
import { VPC_CIDR_REFRESH_MS, VpcCidrRefresh } from "./vpc-cidr-refresh.ts";

export interface PoolManagerOptions extends ExecutorOptions {
  /** DISABLE_NETWORK_RESOURCE_PROVISIONING: IMDS/EC2 reads only, no EC2 mutation. */
  disableProvisioning: boolean;
  disableLeakedEniCleanup: boolean;
  /**
   * ENABLE_IMDS_ONLY_MODE: no EC2 call (beyond DescribeInstanceTypes for a type the project's
   * table lacks): the pool is the ENIs and addresses IMDS shows at start-up; implies both
   * options above. No reconcile against EC2 afterwards.
   */
  imdsOnly?: boolean;
  /** MANAGE_UNTAGGED_ENI (default true): false leaves ENIs without this CNI's tags unmanaged. */
  manageUntaggedEnis?: boolean;
  /** Kubelet max pods (Node capacity); upstream falls back to 110. */
  maxPods?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** Back-off between pool cycles after a failed action (default CYCLE_BACKOFF). */
  cycleBackoff?: BackoffSpec;
  /** Back-off between start-up attempts (default STARTUP_BACKOFF). */
  startupBackoff?: BackoffSpec;
  /** Jitter source (default Math.random). */
  random?: () => number;
  /** How often the VPC CIDRs are re-read from IMDS (default 30 s, as upstream). */
  vpcCidrRefreshMs?: number;
  /** ENABLE_MULTI_NIC: the eligible network cards above 0 get their own pools (card-pools.ts). Not with IMDS-only mode. */
  multiNic?: boolean;
}

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
  private readonly usageIntake: UsageIntake;
  private readonly shrinkHold: ShrinkHold;
  /** The pre-scale cycle of the last start (awaited by start() under compat only). */
  preScale: Promise<Plan | undefined> = Promise.resolve(undefined);
  private stopped = false;
  /** Made at start, once the primary ENI is known. */
  vpcCidrRefresh: VpcCidrRefresh | undefined;
  /** With multiNic: the pools of the network cards above 0 (made at start). */
  cardPools: CardPools | undefined;
  private timers: ReturnType<typeof setInterval>[] = [];

  constructor(
    readonly settings: PoolSettings,
    private readonly ports: { ec2: Ec2Port; imds: ImdsPort; net: NetConfigPort; broker: BrokerPort; kube?: KubePort },
    readonly opts: PoolManagerOptions,
    private readonly metrics?: PoolMetrics,
  ) {
    this.model = new PoolModel(settings, opts.now);
    this.usageIntake = new UsageIntake(this.model, opts);
    this.shrinkHold = new ShrinkHold(this.model, settings, (msg, f) => this.log(msg, f));
  }

  /** No EC2 mutation: DISABLE_NETWORK_RESOURCE_PROVISIONING, or forced by ENABLE_IMDS_ONLY_MODE. */
  private get noProvisioning(): boolean {
    return this.opts.disableProvisioning || this.opts.imdsOnly === true;
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
    const imdsOnly = this.opts.imdsOnly === true;
    const lim = imdsOnly ? await limitsWithoutEc2(ec2, instanceType) : await ec2.instanceLimits(instanceType);
    this.limits = { instanceType, maxEnis: lim.maxEnis, ipv4PerEni: lim.ipv4PerEni, ipv6PerEni: lim.ipv6PerEni, trunking: lim.trunking, maxPods: this.opts.maxPods ?? 110 };
    const d = deriveLimits(this.settings, this.limits);
    const host = this.settings.family === "ipv6" ? await ipv6Host(imds, primaryMac) : { vpcCidrs: primaryIf.vpcCidrs, primaryIp: localIp };
    this.model.vpcCidrs = host.vpcCidrs;
    this.model.nodeIps = { ipv4: localIp, ...(primaryIf.ipv6s[0] ? { ipv6: primaryIf.ipv6s[0] } : {}) };
    await net.setupHost({ ...host, primaryMac });
    this.vpcCidrRefresh = new VpcCidrRefresh(this.ports, this.model, { primaryMac, primaryIp: host.primaryIp, family: this.settings.family }, (msg, f) => this.log(msg, f));
    const enis = imdsOnly ? enisFromImds(ifs, instanceId) : await ec2.instanceEnis(instanceId);
    const primary = enis.find((e) => e.id === primaryIf.interfaceId);
    this.facts = { instanceId, vpcId: primary?.vpcId ?? "", az, primarySubnetId: primaryIf.subnetId, primarySecurityGroups: primaryIf.securityGroupIds };
    const awsUtilsError = (fn: string, err: unknown) => this.metrics?.awsUtilsErrors.inc({ fn, error: errorText(err) });
    this.executor = new Executor({ ...this.ports, model: this.model, settings: this.settings, facts: this.facts, opts: { awsUtilsError, ...this.opts }, recentlyFreed: this.recentlyFreed });
    // Device indexes are per network card: only card 0's are this node's to pick from.
    this.executor.noteDeviceIndexes(enis.flatMap((e) => (e.attachment && !onUnmanagedCard(e) ? [e.attachment.deviceIndex] : [])));
    const subnetCidrs = new Map(ifs.map((i) => [i.interfaceId, i.subnetCidr]));
    const adoption = this.adoption();
    // Subnet exclusion needs the subnets' tags (DescribeSubnets): not read without EC2.
    const excluded = imdsOnly ? new Set<string>() : await excludedSubnets(adoption);
    for (const e of enis) await adoptEni(adoption, e, primaryIf.interfaceId, subnetCidrs.get(e.id), excluded);
    if (this.opts.multiNic && !imdsOnly) {
      const cards = new CardPools({ ec2, imds, net, changed: () => this.model.bump(), facts: this.facts, opts: { ...this.opts, disableProvisioning: this.noProvisioning }, log: (msg, f) => this.log(msg, f) });
      cards.adopt(enis, lim.networkCards, lim.cardMaxEnis);
      this.model.cardEnis = () => cards.capacityEnis();
      this.model.managedCards = () => [...cards.pools.keys()].sort((a, b) => a - b);
      this.cardPools = cards;
    }
    this.metrics?.eniMax.set(d.maxEni - this.model.unmanaged);
    this.metrics?.ipMax.set(d.maxIpsPerEni * (d.maxEni - this.model.unmanaged));
    await this.refreshUsage();
    await this.refreshKube();
    // A pool found already holding addresses was kept by a process before this one.
    if ([...this.model.enis.values()].some((m) => m.pool.cidrs.length > 0)) this.shrinkHold.inheritedPoolAtMs = this.opts.now();
    this.model.ready = true;
    this.model.bump();
    // Upstream's two start-up histograms: node initialisation (this attempt), and from process start to ready.
    this.metrics?.nodeInit.observe({ success: "true" }, (performance.now() - t0) / 1000);
    this.metrics?.startup.observe({ success: "true", with_api_server: String(this.withApiServer()), failure_reason: "" }, performance.now() / 1000);
    this.log("pool-manager started", { instanceId, instanceType, enis: this.model.enis.size, unmanaged: this.model.unmanaged, otherNetworkCards: this.model.otherCardEnis.size });
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
      const t0 = performance.now();
      try {
        await this.start();
        return;
      } catch (err) {
        // Upstream exits on a failed start (and the kubelet restarts it): each attempt is observed once.
        this.metrics?.nodeInit.observe({ success: "false" }, (performance.now() - t0) / 1000);
        this.metrics?.startup.observe({ success: "false", with_api_server: String(this.withApiServer()), failure_reason: "node_initialization" }, performance.now() / 1000);
        const ms = backoffDelayMs(failures, this.opts.startupBackoff ?? STARTUP_BACKOFF, (this.opts.random ?? Math.random)());
        this.model.shortage = `start-up failed, retrying in ${(ms / 1000).toFixed(1)} s: ${String((err as Error)?.message ?? err)}`;
        this.model.bump();
        onFailure?.(err, ms);
        await this.opts.sleep(ms);
      }
    }
  }

  /** The Kubernetes API is configured and answered (upstream's withApiServer). */
  private withApiServer(): boolean {
    return this.ports.kube?.connected?.() ?? false;
  }

  /** What adoption and the reconcile work with (once start() has read the node's facts). */
  private adoption(): AdoptionContext {
    return { model: this.model, opts: this.opts, ports: this.ports, facts: this.facts!, executor: this.executor!, metrics: this.metrics, recentlyFreed: this.recentlyFreed, verifyImdsWithEc2: this.settings.verifyImdsWithEc2, log: (msg, f) => this.log(msg, f) };
  }

  async refreshUsage(): Promise<void> {
    try {
      this.usageIntake.takeUsage(await this.ports.broker.getUsage());
    } catch (err) {
      this.log("addr-broker usage unavailable", { err: String(err) });
    }
  }

  private async refreshKube(): Promise<void> {
    const readMaxPods = this.limits !== undefined && this.opts.maxPods === undefined;
    const { maxPods } = await refreshKube(this.ports.kube, { model: this.model, settings: this.settings, now: this.opts.now, readMaxPods, trunking: this.limits !== undefined && trunkSlotAvailable(this.model.poolState(), this.settings, this.limits), log: (msg, f) => this.log(msg, f), starting: !this.model.ready, podEniError: (fn) => this.metrics?.podEniErrors.inc({ fn }) });
    if (maxPods !== undefined && this.limits && this.limits.maxPods !== maxPods) this.limits = { ...this.limits, maxPods };
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
    if (this.settings.customNetwork && !this.ports.kube && this.model.conditions.newEniBlocked === undefined) {
      this.model.conditions.blockNewEnis("custom networking is on but the Kubernetes API is not configured: no ENIConfig can be read");
    }
    const errors: string[] = [];
    // An ENI whose set-up was deferred (not in IMDS yet at adoption, net-config down) is retried each cycle.
    for (const m of this.model.enis.values()) {
      if (m.ready || m.removing || m.pool.primary) continue;
      await this.executor.finishSetup(m, { tries: 1 }).catch((err) => errors.push(`setup ${m.pool.id}: ${String((err as Error).message ?? err)}`));
    }
    let failed = false;
    // Read by the demand policy (and its DeleteOnTermination deferral) only; compat plans as upstream.
    this.model.conditions.accountThrottling(this.ports.ec2.addressingBusy?.() ?? false, this.ports.ec2.addressingBusy?.(600_000) ?? false);
    const p = this.shrinkHold.holdShrinkAfterStart(planPool(this.model.poolState(), this.model.poolUsage(true), this.settings, this.limits, now), now);
    if (!this.noProvisioning) {
      const acted = () => void (this.lastPoolActionAt = this.opts.now());
      const r = await executePlan(p, { executor: this.executor, settings: this.settings, model: this.model, metrics: this.metrics, acted, cycleSoon: () => void this.cycle() });
      errors.push(...r.errors);
      failed = r.failed;
    }
    if (this.cardPools) {
      if (this.model.usage) this.cardPools.takeUsage(this.model.usage.cidrs);
      errors.push(...(await this.cardPools.cycle()));
    }
    this.noteCycleOutcome(failed, errors);
    const shortage = p.shortage ?? (this.settings.customNetwork && this.model.conditions.newEniBlocked && p.stats.total === 0 ? this.model.conditions.newEniBlocked : undefined);
    if (shortage !== this.model.shortage) {
      this.model.shortage = shortage;
      this.model.bump();
    }
    if (p.actions.length > 0 || errors.length > 0 || shortage) {
      this.decisions.push({ at: now, reason: p.reason, actions: p.actions.map(describeAction), ...(shortage ? { shortage } : {}), ...(errors.length ? { errors } : {}) });
      if (this.decisions.length > 100) this.decisions.shift();
    }
    updatePoolGauges(this.model, this.metrics);
    return p;
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

  /** ENABLE_POD_ENI on a trunking instance type and no trunk ENI known yet. */
  private needsTrunk(): boolean {
    return this.settings.podEni && this.limits?.trunking === true && !this.model.poolState().enis.some((e) => e.trunk);
  }

  /** Re-reads EC2 for the node's ENIs and fixes the model (upstream nodeIPPoolReconcile). */
  reconcile(force = false): Promise<void> {
    return this.serial(async () => {
      // IMDS-only: the pool is what IMDS showed at start-up; EC2 is not asked to confirm it.
      if (!this.model.ready || !this.facts || this.opts.imdsOnly) return;
      const now = this.opts.now();
      if (!force && now - this.lastPoolActionAt <= 60_000) return;
      await reconcileWithEc2(this.adoption(), now);
    });
  }

  /** Deletes detached ENIs this project created and leaked (older than 5 min, description aws-K8S-). */
  cleanLeakedEnis(): Promise<number> {
    return this.serial(async () => {
      if (this.opts.disableLeakedEniCleanup || this.noProvisioning || this.settings.family === "ipv6" || !this.facts || !this.executor) return 0;
      const now = this.opts.now();
      const candidates = await this.ports.ec2.leakedEniCandidates(this.facts.vpcId, this.opts.clusterName);
      let deleted = 0;
      for (const e of candidates) {
        if (!isLeakedEni(e, now)) continue;
        await this.executor.deleteDetached(e.id).then(
          () => deleted++,
          (err) => {
            this.metrics?.awsUtilsErrors.inc({ fn: "cleanUpLeakedENIDeleteErr", error: errorText(err) });
            this.log("leaked ENI not deleted", { eni: e.id, err: String(err) });
          },
        );
      }
      return deleted;
    });
  }

  /** Called when addr-broker pushes usage: a new miss triggers a cycle at once. */
  onUsage(u: NonNullable<PoolModel["usage"]>): void {
    const { newMiss } = this.usageIntake.takeUsage(u);
    if (newMiss || u.waiting > 0) void this.cycle();
  }

  startLoops(): void {
    this.stopped = false;
    this.timers.push(setInterval(() => void this.refreshKube().then(() => this.cycle()).catch(() => undefined), 5_000));
    this.timers.push(setInterval(() => void this.reconcile().catch((e) => this.log("reconcile failed", { err: String(e) })), 60_000));
    // Upstream's reconcile runs every 5 s and skips its 60 s throttle while pod ENIs are on and no
    // trunk is known (needsTrunkEni): the trunk the resource controller attaches is found in seconds.
    this.timers.push(setInterval(() => void (this.needsTrunk() ? this.reconcile(true).catch((e) => this.log("reconcile failed", { err: String(e) })) : undefined), 5_000));
    this.timers.push(setInterval(() => void this.vpcCidrRefresh?.run(), this.opts.vpcCidrRefreshMs ?? VPC_CIDR_REFRESH_MS));
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
    return poolDebug(this, this.ports.kube);
  }
}

/** Upstream labels awscni_aws_utils_error_count with the error's text. */
function errorText(err: unknown): string {
  return String((err as Error)?.message ?? err);
}
