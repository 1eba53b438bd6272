/**
 * The SNAT and connmark rules upstream programs (docs/ARCHITECTURE.md, "Kernel state"), as the
 * lines iptables-save prints for them, so the same text is written (iptables-restore) and
 * recognised when read back. Pure.
 */
import type { NetConfigSettings } from "./settings.ts";
import { checkCidr, checkIfName, checkIp } from "./validation.ts";

export const SNAT_CHAIN = "AWS-SNAT-CHAIN-0";
export const CONNMARK_CHAIN = "AWS-CONNMARK-CHAIN-0";
/** Chains of this project or of upstream versions before it (one chain per CIDR then). */
export const OWN_CHAIN = /^AWS-(SNAT|CONNMARK)-CHAIN-\d+$/;
/** Comments of rules the project (and upstream) puts into built-in chains. */
export const OWN_COMMENTS = ["AWS SNAT CHAIN", "AWS, primary ENI", "AWS, outbound connections", "AWS, CONNMARK"];

export type IptTable = "nat" | "mangle";

export interface IptablesLayout {
  /** Own chains and their complete contents, per table. */
  chains: Record<IptTable, Record<string, string[]>>;
  /** The project's rules in built-in chains, in order, per table and chain. */
  builtin: Record<IptTable, Record<string, string[]>>;
}

export interface SnatInput {
  vpcCidrs: string[];
  primaryIp: string;
  /** Name of the primary interface (found by its MAC). */
  primaryIf: string;
  /** `iptables` supports --random-fully (≥ 1.6.2); else prng falls back to --random. */
  randomFullySupported: boolean;
  /**
   * Where the connmark rules live: "iptables" (AWS-CONNMARK-CHAIN-0 in nat) or "nftables"
   * (the `ip aws-cni` table, core/nft-connmark.ts: upstream's choice when iptables is the
   * nf_tables one), so the nat table holds none of them. Default "iptables".
   */
  connmarkBackend?: ConnmarkBackend;
}

export type ConnmarkBackend = "iptables" | "nftables";

const hex = (n: number) => `0x${n.toString(16)}`;
/** `-d <cidr> `, or nothing for 0.0.0.0/0 (iptables drops a match-everything destination). */
const dst = (cidr: string) => (cidr === "0.0.0.0/0" ? "" : `-d ${cidr} `);

export function snatLayout(s: NetConfigSettings, input: SnatInput): IptablesLayout {
  input.vpcCidrs.forEach((c, i) => checkCidr(c, `vpcCidrs.${i}`));
  checkIp(input.primaryIp, "primaryIp");
  checkIfName(input.primaryIf, "primaryIf");
  const mark = `${hex(s.connmark)}/${hex(s.connmark)}`;
  const mask = hex(s.connmark);
  const veths = `${s.vethPrefix}+`;
  const layout: IptablesLayout = { chains: { nat: {}, mangle: {} }, builtin: { nat: {}, mangle: {} } };
  const mangle: string[] = [];
  if (s.nodePortSupport) {
    mangle.push(`-i ${input.primaryIf} -m comment --comment "AWS, primary ENI" -m addrtype --dst-type LOCAL --limit-iface-in -j CONNMARK --set-xmark ${mark}`);
  }
  if (s.nodePortSupport || !s.externalSnat) {
    mangle.push(`-i ${veths} -m comment --comment "AWS, primary ENI" -j CONNMARK --restore-mark --nfmask ${mask} --ctmask ${mask}`);
  }
  if (mangle.length) layout.builtin.mangle.PREROUTING = mangle;
  if (s.externalSnat) return layout;

  let random = "";
  if (s.randomizeSnat === "hashrandom") random = " --random";
  if (s.randomizeSnat === "prng") random = input.randomFullySupported ? " --random-fully" : " --random";
  layout.chains.nat[SNAT_CHAIN] = [
    ...input.vpcCidrs.map((c) => `-d ${c} -m comment --comment "AWS SNAT CHAIN" -j RETURN`),
    ...s.excludeSnatCidrs.map((c) => `${dst(c)}-m comment --comment "AWS SNAT CHAIN EXCLUSION" -j RETURN`),
    `! -o vlan+ -m comment --comment "AWS, SNAT" -m addrtype ! --dst-type LOCAL -j SNAT --to-source ${input.primaryIp}${random}`,
  ];
  layout.builtin.nat.POSTROUTING = [`-m comment --comment "AWS SNAT CHAIN" -j ${SNAT_CHAIN}`];
  if (input.connmarkBackend === "nftables") return layout;
  // Upstream (v1.23.1) inserts each exempt CIDR at the head of the chain, VPC CIDRs then
  // exclusions, once each: a fresh chain lists them last-first, then the set-mark rule.
  const exempt = [...new Set([...input.vpcCidrs, ...s.excludeSnatCidrs])].reverse();
  layout.chains.nat[CONNMARK_CHAIN] = [
    ...exempt.map((c) => `${dst(c)}-m comment --comment "AWS CONNMARK CHAIN" -j RETURN`),
    `-m comment --comment "AWS, CONNMARK" -j CONNMARK --set-xmark ${mark}`,
  ];
  layout.builtin.nat.PREROUTING = [
    `-i ${veths} -m comment --comment "AWS, outbound connections" -j ${CONNMARK_CHAIN}`,
    // Last in PREROUTING: the mark of the first packet, restored after the chain set it.
    `-m comment --comment "AWS, CONNMARK" -j CONNMARK --restore-mark --nfmask ${mask} --ctmask ${mask}`,
  ];
  return layout;
}
