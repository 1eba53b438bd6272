/**
 * The connmark rules' second home: with iptables in nf_tables mode (kube-proxy in nftables
 * mode, or any nft node) upstream keeps them in an nftables table of their own
 * (core/nft-connmark.ts); with legacy iptables they stay in the nat table (core/snat-rules.ts)
 * and this only removes a table an nft run left behind. The backend follows the iptables
 * mode, as upstream's follows `iptables --version`. Every Setup/Cleanup is counted by result
 * (awscni_connmark_reconcile_total); the backend is a gauge (awscni_connmark_backend).
 */
import { Counter, Gauge, type Registry } from "../../../../shared/metrics/index.ts";
import { UPSTREAM_METRIC_HELP as HELP } from "../../../../shared/upstream-metric-help.ts";
import { NFT_TABLE, nftDeleteScript, parseNftTable, planNftConnmark, type NftConnmarkWant } from "../core/nft-connmark.ts";
import type { ConnmarkBackend } from "../core/snat-rules.ts";
import type { Nft } from "../adapters/nft.ts";

export interface ConnmarkMetrics {
  reconciled(result: "success" | "error"): void;
}

export function connmarkMetrics(registry: Registry, backend: ConnmarkBackend): ConnmarkMetrics {
  const gauge = new Gauge({ name: "awscni_connmark_backend", help: HELP.awscni_connmark_backend, labelNames: ["backend"], registers: [registry] });
  gauge.set({ backend }, 1);
  const total = new Counter({ name: "awscni_connmark_reconcile_total", help: HELP.awscni_connmark_reconcile_total, labelNames: ["result"], registers: [registry] });
  return { reconciled: (result) => total.inc({ result }) };
}

export class ConnmarkService {
  private staleOtherBackendGone = false;

  constructor(
    readonly backend: ConnmarkBackend,
    private readonly nft: Nft,
    private readonly metrics: ConnmarkMetrics = { reconciled: () => {} },
    private readonly warn: (msg: string) => void = () => {},
  ) {}

  /** The rules for these exempt CIDRs; returns what changed. */
  async setup(want: NftConnmarkWant): Promise<string[]> {
    return this.counted(async () => {
      if (this.backend === "iptables") return this.removeNftTableOnce();
      const seen = await this.nft.listTable("ip", NFT_TABLE);
      const plan = planNftConnmark(want, seen === undefined ? undefined : parseNftTable(seen));
      if (plan.script) await this.nft.apply(plan.script);
      return plan.changes;
    });
  }

  /** External SNAT: no connmark rules at all (the iptables ones go with the SNAT layout). */
  async cleanup(): Promise<string[]> {
    return this.counted(async () => {
      if (this.backend === "iptables") return this.removeNftTableOnce();
      return this.removeNftTable();
    });
  }

  private async counted(fn: () => Promise<string[]>): Promise<string[]> {
    try {
      const changes = await fn();
      this.metrics.reconciled("success");
      return changes;
    } catch (err) {
      this.metrics.reconciled("error");
      throw err;
    }
  }

  private async removeNftTable(): Promise<string[]> {
    if ((await this.nft.listTable("ip", NFT_TABLE)) === undefined) return [];
    await this.nft.apply(nftDeleteScript());
    return [`nft table ${NFT_TABLE} removed`];
  }

  /** Upstream's iptables backend deletes the nft table once per process; nft missing is only a warning. */
  private async removeNftTableOnce(): Promise<string[]> {
    if (this.staleOtherBackendGone) return [];
    let changes: string[] = [];
    try {
      changes = await this.removeNftTable();
    } catch (err) {
      this.warn(`skipping the clean-up of the nft table ${NFT_TABLE}: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.staleOtherBackendGone = true;
    return changes;
  }
}
