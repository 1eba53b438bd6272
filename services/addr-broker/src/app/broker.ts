/**
 * The broker's state and its one owner: the current BrokerState, the capacity, the
 * checkpoint's status, the count of ADDs that missed or are waiting for an address, and the
 * ADDs in flight. Other modules read these and change them only through the methods below.
 *
 * Assignment decisions run one at a time under `serial`. `apply(next)` makes a new state
 * current in memory at once and returns a promise that resolves when a checkpoint write
 * (tmp + fsync + rename) carries it; changes made while a write is in progress share the
 * next write (group commit). ADD wires while that write is in flight and answers only once
 * both are done, so an answered ADD is always on disk. When a write fails, every change not
 * yet on disk is undone (the state returns to what the disk holds; the addresses of undone
 * assignments cool down) and the waiting promises reject. `commit(next)` is `apply` awaited.
 * A few changes are made in memory only and ride on the next write: a route table learnt
 * from the capacity, and an allocation's netns or host veth (`updateAllocation`).
 */
import type { CapacitySnapshot } from "../../../../shared/contracts/capacity.ts";
import type { UsageReport } from "../../../../shared/contracts/usage.ts";
import { contains, parseCidr } from "../../../../shared/ip.ts";
import type { CheckpointStore } from "../adapters/checkpoint-store.ts";
import type { KernelScan } from "../adapters/kernel-scan.ts";
import { CorruptCheckpoint, decodeCheckpoint, encodeCheckpoint } from "../core/checkpoint-format.ts";
import type { Miss } from "../core/assign.ts";
import { EMPTY_STATE, coolUndone, findAllocation, pruneCooling, settleCooling, touch, type Allocation, type BrokerState, type PodKey, type Reserved } from "../core/state.ts";
import { forgetReleasedDrains, usageReport } from "../core/usage.ts";
import { withCardUsage } from "../core/multi-nic.ts";
import type { Log, PoolManagerPort } from "../core/ports.ts";
import type { BrokerSettings } from "./settings-from-config.ts";
import { UsagePush } from "./usage-push.ts";

export type CheckpointSource = "fresh" | "restored" | "adopted-upstream" | "rebuilt-from-kernel";

export interface Decision {
  at: string;
  what: string;
  [k: string]: unknown;
}

/** Shortest cooldown of an address whose assignment a failed checkpoint write undid (covers undoing its wiring). */
export const UNDONE_COOLDOWN_MS = 5_000;

export interface CheckpointStatus {
  source: CheckpointSource;
  detail: string;
  lastWriteAt?: string;
  lastError?: string;
  writes: number;
}

export class Broker {
  private current: BrokerState = EMPTY_STATE;
  private latestCapacity: CapacitySnapshot | undefined;
  private missCount = 0;
  private waitingCount = 0;
  /** Keys with an ADD between its assignment and its answer: GC and the sweep leave them alone. */
  private readonly addsInFlight = new Set<string>();
  private checkpointStatus: CheckpointStatus = { source: "fresh", detail: "", writes: 0 };
  private readonly decisions: Decision[] = [];
  private lock: Promise<unknown> = Promise.resolve();
  /** What the checkpoint on disk holds, and generations of applied vs written changes. */
  private durableState: BrokerState = EMPTY_STATE;
  private generation = 0;
  private durableGeneration = 0;
  private writing = false;
  private writeWaiters: Array<{ gen: number; resolve: () => void; reject: (err: unknown) => void }> = [];
  private capacityWaiters: Array<() => void> = [];
  private readonly usagePush: UsagePush;
  /** ENABLE_MULTI_NIC: the states of the cards above 0 (card-ledger.ts), counted in the usage of their CIDRs. */
  cardStates: (() => BrokerState[]) | undefined;

  constructor(
    readonly settings: BrokerSettings,
    readonly store: CheckpointStore,
    readonly kernel: KernelScan,
    readonly pool: PoolManagerPort | undefined,
    readonly log: Log,
    readonly now: () => number = Date.now,
  ) {
    this.usagePush = new UsagePush(pool, () => this.usage(), log, now);
  }

  /** The current state (in memory; `whenDurable` says when it is on disk). */
  get state(): BrokerState {
    return this.current;
  }

  /** The latest capacity pool-manager published; undefined until the first. */
  get capacity(): CapacitySnapshot | undefined {
    return this.latestCapacity;
  }

  /** ADDs that found no address (counted when they meet the miss and when they give up). */
  get misses(): number {
    return this.missCount;
  }

  /** ADDs waiting for capacity right now. */
  get waiting(): number {
    return this.waitingCount;
  }

  get checkpoint(): Readonly<CheckpointStatus> {
    return this.checkpointStatus;
  }

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
    this.current = pruneCooling(next, this.now());
    const gen = ++this.generation;
    const done = new Promise<void>((resolve, reject) => this.writeWaiters.push({ gen, resolve, reject }));
    // Started on the next turn of the event loop, not here: the caller's next step (an ADD's
    // wire request) leaves first, and the write's encoding, open and write run while
    // net-config wires instead of before it (bench/README.md, "the ADD and DEL path, measured step by step").
    if (!this.writing) {
      this.writing = true;
      setImmediate(() => void this.flush());
    }
    return done;
  }

  /** Writes `next` and makes it current; throws (state unchanged) when the write fails. */
  async commit(next: BrokerState): Promise<void> {
    await this.apply(next);
  }

  /**
   * Changes an allocation's netns or host veth in memory only: the next write carries it (a
   * retried ADD refreshing its netns, net-config naming the veth it made).
   */
  updateAllocation(k: PodKey, fields: Partial<Pick<Allocation, "netns" | "hostVeth">>): Allocation | undefined {
    this.current = touch(this.current, k, fields);
    return findAllocation(this.current, k);
  }

  /**
   * In memory only (the next write carries it): the address released at `releasedAt`, held
   * cooling while its unwire was in flight, now cools for `cooldownMs` from this moment
   * (no longer, when it is 0). Nothing changes when the entry is not that release's.
   */
  settleCooling(address: string, releasedAt: number, cooldownMs: number): void {
    this.current = settleCooling(this.current, address, releasedAt, this.now(), cooldownMs);
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
        const snapshot = this.current;
        try {
          await this.store.write(encodeCheckpoint(snapshot));
        } catch (err) {
          this.checkpointStatus.lastError = `${new Date(this.now()).toISOString()}: ${err instanceof Error ? err.message : String(err)}`;
          this.log.error({ err: String(err), location: this.store.location, undone: this.writeWaiters.length }, "checkpoint write failed; changes not on disk are undone");
          // Addresses of undone assignments cool down: their wiring may be in flight (pod-add.ts).
          this.current = coolUndone(this.durableState, this.current, this.now(), Math.max(this.cooldownMs, UNDONE_COOLDOWN_MS));
          this.generation = this.durableGeneration;
          for (const w of this.writeWaiters.splice(0)) w.reject(err);
          return;
        }
        this.durableState = snapshot;
        this.durableGeneration = gen;
        this.checkpointStatus.writes++;
        this.checkpointStatus.lastWriteAt = new Date(this.now()).toISOString();
        const ready = this.writeWaiters.filter((w) => w.gen <= gen);
        this.writeWaiters = this.writeWaiters.filter((w) => w.gen > gen);
        for (const w of ready) w.resolve();
        this.usagePush.changed();
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
      this.checkpointStatus = { source: "fresh", detail: `no checkpoint at ${this.store.location}`, writes: 0 };
      return;
    }
    try {
      const decoded = decodeCheckpoint(text);
      this.current = decoded.state;
      this.durableState = decoded.state;
      const n = decoded.state.allocations.size;
      this.checkpointStatus = decoded.upstream
        ? { source: "adopted-upstream", detail: `adopted ${n} allocation(s) written by the upstream daemon; their addresses stay reserved`, writes: 0 }
        : { source: "restored", detail: `restored ${n} allocation(s), ${decoded.state.cooling.size} cooling`, writes: 0 };
      this.log.info({ location: this.store.location, allocations: n, source: this.checkpointStatus.source }, "checkpoint loaded");
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
    this.checkpointStatus = {
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
    const previous = this.latestCapacity;
    this.latestCapacity = snapshot;
    let state = forgetReleasedDrains(this.current, snapshot);
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
    this.current = state;
    if (previous?.version !== snapshot.version || previous?.epoch !== snapshot.epoch) {
      this.decide("capacity", { version: snapshot.version, epoch: snapshot.epoch, ready: snapshot.ready, shortage: snapshot.shortage, placed });
    }
    for (const w of this.capacityWaiters.splice(0)) w();
    this.usagePush.changed();
  }

  /**
   * An ADD found no address: counted, recorded, and pushed to pool-manager at once so it
   * can grow the pool.
   */
  recordMiss(key: string, miss: Miss): void {
    this.missCount++;
    this.decide("no address", { key, kind: miss.kind, why: miss.message });
    this.usagePush.changed(true);
  }

  /**
   * An ADD waits (counted in `waiting`) for the next capacity update, or `ms` at most.
   * `reportNow` pushes usage at once, so pool-manager sees the waiting ADD before its next cycle.
   */
  async waitForCapacity(ms: number, reportNow: boolean): Promise<void> {
    this.waitingCount++;
    if (reportNow) this.usagePush.changed(true);
    try {
      await this.nextCapacity(ms);
    } finally {
      this.waitingCount--;
    }
  }

  /** Marks an ADD as between its assignment and its answer; the returned function ends that. */
  beginAdd(key: string): () => void {
    this.addsInFlight.add(key);
    return () => this.addsInFlight.delete(key);
  }

  /** Whether an ADD for `key` is between its assignment and its answer. */
  isInFlight(key: string): boolean {
    return this.addsInFlight.has(key);
  }

  inFlightKeys(): string[] {
    return [...this.addsInFlight];
  }

  /** Resolves at the next capacity update, or after `ms` (not counted as a waiting ADD: see waitForCapacity). */
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
    const report = usageReport(this.current, this.latestCapacity, this.now(), this.missCount, this.waitingCount);
    return this.cardStates ? withCardUsage(report, this.latestCapacity, this.cardStates(), this.now()) : report;
  }

  /** Usage changed outside this state (a card above 0): pushed to pool-manager as any change. */
  usageChanged(): void {
    this.usagePush.changed();
  }

  stop(): void {
    this.usagePush.stop();
    for (const w of this.capacityWaiters.splice(0)) w();
  }

  allocations(): Allocation[] {
    return [...this.current.allocations.values()];
  }

  /** Route table for an allocation: recorded, else from the capacity, else main. */
  routeTableFor(a: Pick<Allocation, "address" | "routeTable">): number {
    return a.routeTable ?? (this.latestCapacity ? routeTableOf(this.latestCapacity, a.address) : undefined) ?? 254;
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
