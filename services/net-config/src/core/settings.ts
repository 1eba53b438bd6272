/** What net-config needs to know, mapped once from the project's config (shared/config). */
import { checkCidr, checkMtu, checkVethPrefix } from "./validation.ts";
import { invalid } from "./errors.ts";

export type RandomizeSnat = "prng" | "hashrandom" | "none";

export interface NetConfigSettings {
  /** AWS_VPC_K8S_CNI_VETHPREFIX */
  vethPrefix: string;
  /** POD_MTU */
  podMtu: number;
  /** What branch-ENI pods' `vlan.eth.<id>` is made as (core/branch-wiring.ts): 802.1Q unless a test asks for its stand-in. */
  branchLinkKind?: "vlan" | "macvlan";
  /** AWS_VPC_ENI_MTU */
  eniMtu: number;
  /** ENABLE_IPv6 */
  ipv6: boolean;
  /** AWS_VPC_K8S_CNI_EXTERNALSNAT */
  externalSnat: boolean;
  /** AWS_VPC_K8S_CNI_RANDOMIZESNAT */
  randomizeSnat: RandomizeSnat;
  /** AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS */
  excludeSnatCidrs: string[];
  /** AWS_VPC_CNI_NODE_PORT_SUPPORT */
  nodePortSupport: boolean;
  /** AWS_VPC_K8S_CNI_CONNMARK */
  connmark: number;
  /** AWS_EXTERNAL_SERVICE_CIDRS */
  externalServiceCidrs: string[];
  /** ENABLE_POD_ENI: with strict enforcement the local table's rule moves behind the branch pods' rules. */
  podEni?: boolean;
  /** POD_SECURITY_GROUP_ENFORCING_MODE */
  podSgEnforcingMode?: "strict" | "standard";
  /** DISABLE_TCP_EARLY_DEMUX */
  disableTcpEarlyDemux: boolean;
  /** How often the kernel is reconciled (0 = only at start). */
  reconcileIntervalMs: number;
}

export const DEFAULT_SETTINGS: NetConfigSettings = {
  vethPrefix: "eni",
  podMtu: 9001,
  eniMtu: 9001,
  ipv6: false,
  externalSnat: false,
  randomizeSnat: "prng",
  excludeSnatCidrs: [],
  nodePortSupport: true,
  connmark: 0x80,
  externalServiceCidrs: [],
  disableTcpEarlyDemux: false,
  reconcileIntervalMs: 60_000,
};

/** Settings with every field checked; throws an error naming the first bad field. */
export function checkSettings(s: NetConfigSettings): NetConfigSettings {
  checkVethPrefix(s.vethPrefix);
  checkMtu(s.podMtu, "podMtu");
  checkMtu(s.eniMtu, "eniMtu");
  s.excludeSnatCidrs.forEach((c, i) => checkCidr(c, `excludeSnatCidrs.${i}`));
  s.externalServiceCidrs.forEach((c, i) => checkCidr(c, `externalServiceCidrs.${i}`));
  if (!["prng", "hashrandom", "none"].includes(s.randomizeSnat)) throw invalid("randomizeSnat", `${s.randomizeSnat} must be prng, hashrandom or none`);
  if (!Number.isInteger(s.connmark) || s.connmark < 1 || s.connmark > 0xffffffff) throw invalid("connmark", `${s.connmark} must be 1..0xffffffff`);
  if (!Number.isInteger(s.reconcileIntervalMs) || s.reconcileIntervalMs < 0) throw invalid("reconcileIntervalMs", "must be a non-negative integer");
  return s;
}
