/**
 * The pool-manager's live model: managed ENIs with their CIDRs and link set-up, the
 * usage last reported by addr-broker, and the versioned capacity snapshot built from
 * them (long-polled by addr-broker).
 */
import type { CapacityEni, CapacitySnapshot, EniSetup, UsageReport } from "../../../../shared/contracts/index.ts";
import { nth, parseCidr } from "../../../../shared/ip.ts";
import { routeTableFor } from "../../../../shared/naming.ts";
import { effectiveSettings, isSwitchedKind } from "../core/pool-policy.ts";
import { eniServesPods } from "../core/pool-stats.ts";
import type { CidrKind, PoolCidr, PoolEni, PoolState, PoolUsage } from "../core/pool-state.ts";
import type { Eni } from "../core/ports.ts";
import type { PoolSettings } from "../core/settings.ts";
import { PoolConditionsTracker } from "./pool-conditions.ts";

export interface ManagedEni {
  pool: PoolEni;
  mac: string;
  primaryIp: string;
  subnetCidr: string;
  securityGroups: string[];
  attachmentId?: string;
  /** net-config has set up its link and route table (always true for the primary). */
  ready: boolean;
  removing?: boolean;
  /** Created here: true once DeleteOnTermination is set, false while it still must be (retried each cycle). */
  deleteOnTermination?: boolean;
}

/** An ENI this node created and must delete (never attached, or detached by a shrink) whose delete failed. */
export interface PendingDelete {
  sinceMs: number;
  why: string;
  tries: number;
  lastError?: string;
  lastTryAtMs?: number;
}

export function gatewayOf(subnetCidr: string): string {
  const c = parseCidr(subnetCidr, false);
  if (!c) throw new Error(`bad subnet CIDR ${subnetCidr}`);
  return nth({ ...c, base: c.base & ~((1n << BigInt((c.family === 4 ? 32 : 128) - c.prefix)) - 1n) }, 1);
}

export function eniSetupOf(m: ManagedEni): EniSetup {
  return {
    eniId: m.pool.id,
    mac: m.mac,
    deviceNumber: m.pool.deviceNumber,
    primaryIp: m.primaryIp,
    subnetCidr: m.subnetCidr,
    gateway: gatewayOf(m.subnetCidr),
    routeTable: routeTableFor(m.pool.deviceNumber),
    ...(m.pool.trunk ? { trunk: true } : {}),
  };
}

export function poolCidr(cidr: string, kind: CidrKind): PoolCidr {
  const prefixLen = Number(cidr.split("/")[1]);
  // A /80 holds 2^48 addresses (upstream counts them so too: awscni_total_ip_addresses); exact in a double.
  const size = kind === "address" ? 1 : 2 ** ((cidr.includes(":") ? 128 : 32) - prefixLen);
  return { cidr, kind, size };
}

/** An ENI's secondary addresses and delegated prefixes as EC2 reports them, as pool CIDRs. */
export function eniPoolCidrs(e: Pick<Eni, "secondaryIps" | "ipv4Prefixes" | "ipv6Prefixes">): PoolCidr[] {
  return [
    ...e.secondaryIps.map((ip) => poolCidr(`${ip}/32`, "address")),
    ...e.ipv4Prefixes.map((p) => poolCidr(p, "prefix")),
    ...e.ipv6Prefixes.map((p) => poolCidr(p, "prefix")),
  ];
}

export class PoolModel {
  readonly enis = new Map<string, ManagedEni>();
  /** Card 0's ENIs not managed (no_manage, efa-only): they take slots of card 0's limit. */
  unmanaged = 0;
  /** ENIs attached on network cards other than 0: never adopted, given addresses, deleted or counted. */
  readonly otherCardEnis = new Set<string>();
  /** ENABLE_MULTI_NIC: the set-up ENIs of the other cards' pools (card-pools.ts), published for net-config; no ordinary pod takes their addresses. */
  cardEnis: () => CapacityEni[] = () => [];
  /** ENABLE_MULTI_NIC: the managed cards above 0 (card-pools.ts); undefined when the option is off. */
  managedCards: () => number[] | undefined = () => undefined;
  /** ENIs to delete, retried each cycle until gone (the hourly leaked-ENI clean-up is the safety net). */
  readonly pendingDeletes = new Map<string, PendingDelete>();
  vpcCidrs: string[] = [];
  /** The node's primary addresses from IMDS (egress-cni SNATs to them). */
  nodeIps: { ipv4?: string; ipv6?: string } = {};
  usage: UsageReport | undefined;
  /** Misses already acted upon. */
  missesSeen = 0;
  private pending = 0;
  /**
   * addr-broker's assigned count when `pendingPods` was read: stamped by the setter of
   * `pendingPods`, so a caller that sets the count alone cannot leave a stale stamp (one
   * left at 0 took every pod holding an address off the pending count: pods scheduled to a
   * node already running pods were never seen, and waited for EC2 at their ADD).
   */
  assignedAtPendingRead = 0;

  /** Pods scheduled to the node without an IP yet, as the pod watch last read them. */
  get pendingPods(): number {
    return this.pending;
  }
  set pendingPods(count: number) {
    this.pending = count;
    this.assignedAtPendingRead = this.usage?.assigned ?? 0;
  }
  /** The pod watch is live, so `pendingPods` sees pods when they are scheduled. */
  podsWatched = false;
  /** What the rules read about the node besides its ENIs (the one owner of that state). */
  readonly conditions = new PoolConditionsTracker();
  shortage: string | undefined;
  ready = false;
  version = 0;
  readonly epoch = crypto.randomUUID();
  private waiters = new Set<() => void>();

  constructor(
    readonly settings: PoolSettings,
    private readonly now: () => number = Date.now,
  ) {}

  bump(): void {
    this.version++;
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  /** Resolves when the version passes `since` (or the epoch differs), or after waitMs. */
  async waitFor(since: number, epoch: string | undefined, waitMs: number): Promise<void> {
    if (this.version > since || (epoch !== undefined && epoch !== this.epoch) || waitMs === 0) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.waiters.delete(done);
        resolve();
      }, waitMs);
      const done = () => {
        clearTimeout(t);
        resolve();
      };
      this.waiters.add(done);
    });
  }

  poolState(): PoolState {
    return { enis: [...this.enis.values()].filter((m) => !m.removing).map((m) => m.pool), unmanagedEnis: this.unmanaged, ...this.conditions.view() };
  }

  /** Usage for the planner; `consume` marks the current misses as acted upon. */
  poolUsage(consume: boolean): PoolUsage {
    const u = this.usage;
    const byCidr: PoolUsage["byCidr"] = {};
    for (const c of u?.cidrs ?? []) byCidr[c.cidr] = { assigned: c.assigned, cooling: c.cooling };
    const misses = u?.misses ?? 0;
    // A restarted addr-broker counts from 0 again: then every miss of its count is new.
    const newMisses = misses >= this.missesSeen ? misses - this.missesSeen : misses;
    if (consume) this.missesSeen = misses;
    // Pods that got an address since the pending count was read were among those pending
    // (with the watch, every pod is seen scheduled before its ADD): not pending any more.
    const addressedSince = this.podsWatched ? Math.max((u?.assigned ?? 0) - this.assignedAtPendingRead, 0) : 0;
    return { byCidr, newMisses, waiting: u?.waiting ?? 0, pendingPods: Math.max(this.pendingPods - addressedSince, 0), podsWatched: this.podsWatched };
  }

  setDraining(eniId: string, cidrs: string[], draining: boolean): void {
    const m = this.enis.get(eniId);
    if (!m) return;
    for (const c of m.pool.cidrs) if (cidrs.includes(c.cidr)) c.draining = draining;
    this.bump();
  }

  snapshot(): CapacitySnapshot {
    const s = effectiveSettings(this.settings, this.conditions.view(), this.now());
    return {
      version: this.version,
      epoch: this.epoch,
      family: s.family,
      prefixDelegation: s.prefixDelegation,
      vpcCidrs: this.vpcCidrs,
      nodeIps: this.nodeIps,
      // An ENI whose subnet is not known yet (not in IMDS so far) is not set up and serves
      // no pod: it joins the snapshot once its set-up finishes.
      enis: [...this.enis.values()]
        .filter((m) => m.subnetCidr !== "")
        .sort((a, b) => a.pool.deviceNumber - b.pool.deviceNumber)
        .map((m) => ({
          id: m.pool.id,
          deviceNumber: m.pool.deviceNumber,
          networkCard: 0,
          routeTable: routeTableFor(m.pool.deviceNumber),
          mac: m.mac,
          subnetId: m.pool.subnetId,
          subnetCidr: m.subnetCidr,
          gateway: gatewayOf(m.subnetCidr),
          primaryIp: m.primaryIp,
          primary: m.pool.primary,
          usable: m.ready && !m.removing && eniServesPods(s, m.pool),
          // The VLAN parent of branch-ENI pods (security groups for pods).
          ...(m.pool.trunk ? { trunk: true } : {}),
          // A CIDR of the kind no longer used (ENABLE_PREFIX_DELEGATION switched) is handed out no more: its pods keep theirs.
          cidrs: m.pool.cidrs.map((c) => ({ cidr: c.cidr, kind: c.kind, draining: !!c.draining || !!m.removing || isSwitchedKind(s, c) })),
        }))
        .concat(this.cardEnis()),
      ...(this.managedCards() ? { networkCards: this.managedCards() } : {}),
      ...(this.shortage ? { shortage: this.shortage } : {}),
      ready: this.ready,
    };
  }
}
