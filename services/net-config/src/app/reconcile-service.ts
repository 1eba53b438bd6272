/**
 * The reconcile loop: fetch the desired state (each source may be down: that part is
 * skipped and said so), observe the node namespace, plan, repair; every repair counted
 * and journaled. Observation, plan and repair run without an await in between, and what
 * was wired or unwired during the fetch is left alone this round.
 */
import type { Assignment, Reservation } from "../../../../shared/contracts/assignments.ts";
import type { BranchWiring } from "../../../../shared/contracts/branch.ts";
import type { CapacitySnapshot } from "../../../../shared/contracts/capacity.ts";
import { planReconcile, type Desired, type InFlight } from "../core/reconcile.ts";
import type { NetConfigSettings } from "../core/settings.ts";
import { Journal } from "../../../../shared/journal.ts";
import type { NetlinkKernel } from "../adapters/netlink-kernel.ts";
import type { HostService } from "./host-service.ts";

export interface DesiredSources {
  assignments(): Promise<{ assignments: Assignment[]; reserved?: Reservation[] | undefined; branch?: BranchWiring[] | undefined; restored: boolean }>;
  capacity(): Promise<CapacitySnapshot>;
}

export interface RepairRecord {
  at: string;
  kind: string;
  what: string;
  error?: string;
}

export interface ReconcileReport {
  at: string;
  pods: "checked" | string;
  enis: "checked" | string;
  host: "checked" | string;
  repairs: number;
  errors: number;
}

export class Reconciler {
  private readonly repairs = new Journal<RepairRecord>(200);
  private readonly rounds = new Journal<ReconcileReport>(20);
  private inFlight: InFlight | undefined;
  private running: Promise<ReconcileReport> | undefined;

  constructor(
    private readonly kernel: NetlinkKernel,
    private readonly host: HostService,
    private readonly sources: DesiredSources,
    private readonly settings: () => NetConfigSettings,
    private readonly countRepair: (kind: string) => void = () => {},
  ) {}

  /** PodService reports each wiring/unwiring here so a running round leaves it alone. */
  touched(hostVeth: string, podCidr: string): void {
    this.inFlight?.veths.add(hostVeth);
    this.inFlight?.cidrs.add(podCidr);
  }

  /** The latest repairs, oldest first. */
  recentRepairs(): RepairRecord[] {
    return this.repairs.list();
  }

  /** The latest rounds' reports, oldest first. */
  recentRounds(): ReconcileReport[] {
    return this.rounds.list();
  }

  /** One round; concurrent callers share the running one. */
  run(): Promise<ReconcileReport> {
    this.running ??= this.round().finally(() => (this.running = undefined));
    return this.running;
  }

  private async round(): Promise<ReconcileReport> {
    const busy: InFlight = { veths: new Set(), cidrs: new Set() };
    this.inFlight = busy;
    const report: ReconcileReport = { at: new Date().toISOString(), pods: "checked", enis: "checked", host: "checked", repairs: 0, errors: 0 };
    const want: Desired = {};
    let capacitySnapshot: CapacitySnapshot | undefined;
    try {
      const [a, c] = await Promise.allSettled([this.sources.assignments(), this.sources.capacity()]);
      if (a.status === "rejected") report.pods = `skipped: addr-broker unreachable (${why(a.reason)})`;
      else if (!a.value.restored) report.pods = "skipped: addr-broker has not restored its checkpoint yet";
      else {
        want.pods = a.value.assignments;
        want.reserved = a.value.reserved ?? [];
        want.branch = a.value.branch ?? [];
      }
      if (c.status === "fulfilled" && c.value.ready) capacitySnapshot = c.value;
      if (c.status === "rejected") report.enis = `skipped: pool-manager unreachable (${why(c.reason)})`;
      else if (!c.value.ready) report.enis = "skipped: pool-manager not ready";
      else want.enis = c.value.enis.map((e) => ({ eniId: e.id, mac: e.mac, deviceNumber: e.deviceNumber, primaryIp: e.primaryIp, subnetCidr: e.subnetCidr, gateway: e.gateway, routeTable: e.routeTable, primary: e.primary, ...(e.trunk ? { trunk: true } : {}) }));

      const n = this.kernel.node;
      const seen = { links: n.links(), routes: [...n.routes(4), ...n.routes(6)], rules: [...n.rules(4), ...n.rules(6)] };
      for (const r of planReconcile(this.settings(), want, seen, busy)) {
        this.record(report, r.kind, r.what, () => this.kernel.run([r.step, ...(r.then ?? [])]));
      }
    } finally {
      this.inFlight = undefined;
    }
    // After a restart nobody may have asked for the host set-up yet: derive it from the capacity.
    const last = this.host.lastHost ?? hostFromCapacity(capacitySnapshot);
    if (!last) report.host = "skipped: no host set-up requested yet";
    else {
      try {
        const { changed, iptablesChanged } = await this.host.setupHost(last);
        for (const what of changed) this.record(report, iptablesChanged.includes(what) ? "iptables" : "host-rule", what, () => {});
      } catch (err) {
        report.host = `failed: ${why(err)}`;
        report.errors++;
      }
    }
    this.rounds.add(report);
    return report;
  }

  private record(report: ReconcileReport, kind: string, what: string, act: () => void): void {
    const rec: RepairRecord = { at: new Date().toISOString(), kind, what };
    try {
      act();
      report.repairs++;
      this.countRepair(kind);
    } catch (err) {
      rec.error = why(err);
      report.errors++;
    }
    this.repairs.add(rec);
  }
}

/** The node's host set-up as pool-manager would ask for it: VPC CIDRs and the primary ENI. */
export function hostFromCapacity(c: CapacitySnapshot | undefined): { vpcCidrs: string[]; primaryIp: string; primaryMac: string } | undefined {
  const primary = c?.enis.find((e) => e.primary);
  if (!c || !primary || c.vpcCidrs.length === 0) return undefined;
  return { vpcCidrs: c.vpcCidrs, primaryIp: primary.primaryIp, primaryMac: primary.mac };
}

function why(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
