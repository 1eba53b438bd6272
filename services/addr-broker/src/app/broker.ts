/**
 * The broker's state holder: the current BrokerState, the capacity, the checkpoint. Every
 * change goes through `commit` under one lock: the new state is written (tmp + fsync +
 * rename) before it becomes current, so a failed write leaves the old state in force and
 * an answered ADD is always on disk.
 */
import type { CapacitySnapshot } from "../../../../shared/contracts/capacity.ts";
import type { UsageReport } from "../../../../shared/contracts/usage.ts";
import { contains, parseCidr } from "../../../../shared/ip.ts";
import type { CheckpointStore } from "../adapters/checkpoint-store.ts";
import type { KernelScan } from "../adapters/kernel-scan.ts";
import { CorruptCheckpoint, decodeCheckpoint, encodeCheckpoint } from "../core/checkpoint-format.ts";
import { EMPTY_STATE, coolUndone, pruneCooling, type Allocation, type BrokerState, type Reserved } from "../core/state.ts";
import { forgetReleasedDrains, usageReport } from "../core/usage.ts";
import type { Log, PoolManagerPort } from "../core/ports.ts";
import type { BrokerSettings } from "./settings-from-config.ts";

export type CheckpointSource = "fresh" | "restored" | "adopted-upstream" | "rebuilt-from-kernel";

export interface Decision {
  at: string;
  what: string;
  [k: string]: unknown;
}

/** Shortest cooldown of an address whose assignment a failed checkpoint write undid (covers undoing its wiring). */
export const UNDONE_COOLDOWN_MS = 5_000;

export class Broker {
  state: BrokerState = EMPTY_STATE;
  capacity: CapacitySnapshot | undefined;
  misses = 0;
  waiting = 0;
  /** Keys with an ADD between its assignment and its answer: GC and the sweep leave them alone. */
  readonly inFlight = new Set<string>();
  checkpoint: { source: CheckpointSource; detail: string; lastWriteAt?: string; lastError?: string; writes: number } = { source: "fresh", detail: "", writes: 0 };
  private readonly decisions: Decision[] = [];
  private lock: Promise<unknown> = Promise.resolve();
  /** What the checkpoint on disk holds, and generations of applied vs written changes. */
  private durableState: BrokerState = EMPTY_STATE;
  private generation = 0;
  private durableGeneration = 0;
  private writing = false;
  private writeWaiters: Array<{ gen: number; resolve: () => void; reject: (err: unknown) => void }> = [];
  private capacityWaiters: Array<() => void> = [];
  private usageTimer: ReturnType<typeof setTimeout> | undefined;
  private coolingTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly settings: BrokerSettings,
    readonly store: CheckpointStore,
    readonly kernel: KernelScan,
    readonly pool: PoolManagerPort | undefined,
    readonly log: Log,
    readonly now: () => number = Date.now,
  ) {}

  get cooldownMs(): number {
    return this.settings.cooldownSeconds * 1000;
  }

  /** Runs `fn` alone: assignment decisions never interleave. */
  serial<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /**
   * Makes `next` current in memory (call under `serial`) and returns a promise that
   * resolves once it is on disk. Changes made while a write is in progress are written
   * together by the next one (group commit: one fsync'd write covers every ADD waiting for
   * it). If a write fails, every change not yet on disk is undone (the state returns to
   * what the disk holds; addresses of undone assignments cool down in memory, at least
   * UNDONE_COOLDOWN_MS, since ADD wires while the write is in flight) and each waiter's
   * promise rejects.
   */
  apply(next: BrokerState): Promise<void> {
    this.state = pruneCooling(next, this.now());
    const gen = ++this.generation;
    const done = new Promise<void>((resolve, reject) => this.writeWaiters.push({ gen, resolve, reject }));
    if (!this.writing) void this.flush();
    return done;
  }

  /** Writes `next` and makes it current; throws (state unchanged) when the write fails. */
  async commit(next: BrokerState): Promise<void> {
    await this.apply(next);
  }

  /** Resolves once everything applied so far is on disk. */
  whenDurable(): Promise<void> {
    if (this.durableGeneration >= this.generation) return Promise.resolve();
    const gen = this.generation;
    return new Promise<void>((resolve, reject) => this.writeWaiters.push({ gen, resolve, reject }));
  }

  private async flush(): Promise<void> {
    this.writing = true;
    try {
      while (this.durableGeneration < this.generation) {
        const gen = this.generation;
        const snapshot = this.state;
        try {
          await this.store.write(encodeCheckpoint(snapshot));
        } catch (err) {
          this.checkpoint.lastError = `${new Date(this.now()).toISOString()}: ${err instanceof Error ? err.message : String(err)}`;
          this.log.error({ err: String(err), location: this.store.location, undone: this.writeWaiters.length }, "checkpoint write failed; changes not on disk are undone");
          // Addresses of undone assignments cool down: their wiring may be in flight (pod-add.ts).
          this.state = coolUndone(this.durableState, this.state, this.now(), Math.max(this.cooldownMs, UNDONE_COOLDOWN_MS));
          this.generation = this.durableGeneration;
          for (const w of this.writeWaiters.splice(0)) w.reject(err);
          return;
        }
        this.durableState = snapshot;
        this.durableGeneration = gen;
        this.checkpoint.writes++;
        this.checkpoint.lastWriteAt = new Date(this.now()).toISOString();
        const ready = this.writeWaiters.filter((w) => w.gen <= gen);
        this.writeWaiters = this.writeWaiters.filter((w) => w.gen > gen);
        for (const w of ready) w.resolve();
        this.usageChanged();
      }
    } finally {
      this.writing = false;
    }
  }

  decide(what: string, fields: Record<string, unknown> = {}): void {
    this.decisions.push({ at: new Date(this.now()).toISOString(), what, ...fields });
    if (this.decisions.length > 200) this.decisions.shift();
  }

  recentDecisions(): Decision[] {
    return [...this.decisions];
  }

  /** Loads the checkpoint: a missing file is a fresh node; an upstream file is adopted; a corrupt one is set aside and rebuilt from the kernel. */
  async load(): Promise<void> {
    const text = await this.store.read();
    if (text === undefined) {
      this.checkpoint = { source: "fresh", detail: `no checkpoint at ${this.store.location}`, writes: 0 };
      return;
    }
    try {
      const decoded = decodeCheckpoint(text);
      this.state = decoded.state;
      this.durableState = decoded.state;
      const n = decoded.state.allocations.size;
      this.checkpoint = decoded.upstream
        ? { source: "adopted-upstream", detail: `adopted ${n} allocation(s) written by the upstream daemon; their addresses stay reserved`, writes: 0 }
        : { source: "restored", detail: `restored ${n} allocation(s), ${decoded.state.cooling.size} cooling`, writes: 0 };
      this.log.info({ location: this.store.location, allocations: n, source: this.checkpoint.source }, "checkpoint loaded");
    } catch (err) {
      if (!(err instanceof CorruptCheckpoint)) throw err;
      await this.rebuildFromKernel(err.message);
    }
  }

  private async rebuildFromKernel(why: string): Promise<void> {
    const aside = await this.store.setAside(`corrupt-${this.now()}`);
    const { pods } = await this.kernel.scan(this.settings.vethPrefix);
    const reserved = new Map<string, Reserved>();
    for (const p of pods) {
      const r: Reserved = { address: p.address, why: "rebuilt from the kernel after a corrupt checkpoint" };
      if (p.hostVeth) r.hostVeth = p.hostVeth;
      if (p.routeTable) r.routeTable = p.routeTable;
      reserved.set(p.address, r);
    }
    const next: BrokerState = { ...EMPTY_STATE, reserved };
    this.checkpoint = {
      source: "rebuilt-from-kernel",
      detail: `checkpoint was corrupt (${why}); moved to ${aside ?? "(gone)"}; ${reserved.size} address(es) found in the kernel are reserved until their pods are gone`,
      writes: 0,
    };
    this.log.error({ why, aside, reserved: reserved.size }, "corrupt checkpoint: rebuilt reservations from the kernel");
    this.decide("checkpoint rebuilt from kernel", { why, reserved: reserved.size });
    await this.serial(() => this.commit(next));
  }

  /** A new capacity snapshot: placed allocations get their route table; waiting ADDs retry. */
  setCapacity(snapshot: CapacitySnapshot): void {
    const previous = this.capacity;
    this.capacity = snapshot;
    let state = forgetReleasedDrains(this.state, snapshot);
    const allocations = new Map(state.allocations);
    let placed = 0;
    for (const [k, a] of allocations) {
      if (a.routeTable !== undefined) continue;
      const table = routeTableOf(snapshot, a.address);
      if (table !== undefined) {
        allocations.set(k, { ...a, routeTable: table });
        placed++;
      }
    }
    if (placed > 0) state = { ...state, allocations };
    // In memory only: the next write carries it (a lost route table is found again from the capacity).
    this.state = state;
    if (previous?.version !== snapshot.version || previous?.epoch !== snapshot.epoch) {
      this.decide("capacity", { version: snapshot.version, epoch: snapshot.epoch, ready: snapshot.ready, shortage: snapshot.shortage, placed });
    }
    for (const w of this.capacityWaiters.splice(0)) w();
    this.usageChanged();
  }

  /** Resolves at the next capacity update, or after `ms`. */
  nextCapacity(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.capacityWaiters = this.capacityWaiters.filter((w) => w !== done);
        resolve();
      }, ms);
      const done = () => {
        clearTimeout(t);
        resolve();
      };
      this.capacityWaiters.push(done);
    });
  }

  usage(): UsageReport {
    return usageReport(this.state, this.capacity, this.now(), this.misses, this.waiting);
  }

  /** Pushes usage to pool-manager: at once on a miss, else coalesced. pool-manager down is tolerated. */
  usageChanged(immediate = false): void {
    if (!this.pool) return;
    if (immediate) {
      if (this.usageTimer) clearTimeout(this.usageTimer);
      this.usageTimer = undefined;
      this.pushUsage();
      return;
    }
    this.usageTimer ??= setTimeout(() => {
      this.usageTimer = undefined;
      this.pushUsage();
    }, 100);
  }

  private pushUsage(): void {
    const report = this.usage();
    this.pool?.postUsage(report).catch((err) => this.log.debug({ err: String(err) }, "usage not delivered to pool-manager"));
    this.pushWhenCoolingEnds(report);
  }

  /**
   * A cooldown running out changes usage without any event: push again once the earliest
   * reported cooling end has passed, or pool-manager keeps counting those addresses as
   * cooling and never shrinks the pool after the pods are gone.
   */
  private pushWhenCoolingEnds(report: UsageReport): void {
    const ends = report.cidrs.flatMap((c) => (c.coolingUntil !== undefined ? [c.coolingUntil] : []));
    if (this.coolingTimer) clearTimeout(this.coolingTimer);
    this.coolingTimer = undefined;
    if (ends.length === 0) return;
    const inMs = Math.max(0, Math.min(...ends) - this.now()) + 50;
    this.coolingTimer = setTimeout(() => {
      this.coolingTimer = undefined;
      this.usageChanged();
    }, inMs);
    this.coolingTimer.unref?.();
  }

  stop(): void {
    if (this.usageTimer) clearTimeout(this.usageTimer);
    if (this.coolingTimer) clearTimeout(this.coolingTimer);
    for (const w of this.capacityWaiters.splice(0)) w();
  }

  allocations(): Allocation[] {
    return [...this.state.allocations.values()];
  }

  /** Route table for an allocation: recorded, else from the capacity, else main. */
  routeTableFor(a: Pick<Allocation, "address" | "routeTable">): number {
    return a.routeTable ?? (this.capacity ? routeTableOf(this.capacity, a.address) : undefined) ?? 254;
  }
}

export function routeTableOf(capacity: CapacitySnapshot, address: string): number | undefined {
  for (const eni of capacity.enis) {
    for (const c of eni.cidrs) {
      const cidr = parseCidr(c.cidr, false);
      if (cidr && contains(cidr, address)) return eni.routeTable;
    }
  }
  return undefined;
}
