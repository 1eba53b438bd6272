/**
 * The VPC's IPv4 CIDRs, re-read from IMDS every 30 s as upstream's ipamd does
 * (updateCIDRsRulesOnChange): a CIDR block associated with the VPC (or disassociated) after
 * start-up reaches the capacity snapshot and net-config's host set-up (SNAT and connmark
 * exemptions) without a restart. A failed IMDS read keeps the CIDRs known; a host set-up that
 * failed is tried again at the next round (upstream waits for the next change).
 */
import type { ImdsPort } from "../core/ports.ts";
import type { PoolModel } from "./pool-model.ts";
import type { NetConfigPort } from "./service-ports.ts";

export const VPC_CIDR_REFRESH_MS = 30_000;

export interface PrimaryFacts {
  primaryMac: string;
  /** The address the host set-up names: the primary IPv4, or in IPv6 mode the primary IPv6. */
  primaryIp: string;
  /** IPv6 mode re-reads the VPC's IPv6 CIDRs (what the host set-up was given), not the IPv4 ones. */
  family?: "ipv4" | "ipv6";
}

export class VpcCidrRefresh {
  /** The CIDRs net-config last set the host up with. */
  private applied: string[];

  constructor(
    private readonly ports: { imds: ImdsPort; net: NetConfigPort },
    private readonly model: PoolModel,
    private readonly primary: PrimaryFacts,
    private readonly log: (msg: string, fields?: Record<string, unknown>) => void = () => {},
  ) {
    this.applied = [...model.vpcCidrs];
  }

  private async readCidrs(): Promise<string[]> {
    if (this.primary.family === "ipv6") return this.ports.imds.vpcIpv6Cidrs(this.primary.primaryMac);
    const ifs = await this.ports.imds.interfaces();
    return ifs.find((i) => i.mac === this.primary.primaryMac)?.vpcCidrs ?? [];
  }

  /** One round; returns whether the CIDRs changed. */
  async run(): Promise<boolean> {
    let fresh: string[];
    try {
      fresh = await this.readCidrs();
      if (fresh.length === 0) throw new Error(`IMDS shows no VPC CIDR for the primary MAC ${this.primary.primaryMac}`);
    } catch (err) {
      this.log("skipping the periodic update of the VPC CIDRs", { err: String((err as Error)?.message ?? err) });
      return false;
    }
    const changed = !sameSet(fresh, this.model.vpcCidrs);
    if (changed) {
      this.log("VPC CIDRs changed", { from: this.model.vpcCidrs, to: fresh });
      this.model.vpcCidrs = [...fresh];
      this.model.bump();
    }
    if (changed || !sameSet(fresh, this.applied)) {
      try {
        await this.ports.net.setupHost({ vpcCidrs: fresh, primaryIp: this.primary.primaryIp, primaryMac: this.primary.primaryMac });
        this.applied = [...fresh];
      } catch (err) {
        this.log("host rules for the new VPC CIDRs not applied; retrying at the next round", { err: String((err as Error)?.message ?? err) });
      }
    }
    return changed;
  }
}

function sameSet(a: string[], b: string[]): boolean {
  const sa = new Set(a);
  return sa.size === new Set(b).size && b.every((x) => sa.has(x));
}
