/**
 * Host-wide routing settings, as upstream sets them: AWS_VPC_ENI_MTU on the primary ENI, the
 * fwmark rule at 1024, `to <CIDR> lookup main` at 1535 for AWS_EXTERNAL_SERVICE_CIDRS,
 * rp_filter loose on the primary interface, tcp_early_demux. Pure: plans from the rules the kernel holds.
 */
import { MAIN_TABLE, sameRule, type LinkInfo, type RuleSpec, type Step } from "./kernel-ops.ts";
import type { NetConfigSettings } from "./settings.ts";
import { checkIfName } from "./validation.ts";

export const FWMARK_PRIORITY = 1024;
export const EXTERNAL_SERVICE_PRIORITY = 1535;

export function wantedHostRules(s: NetConfigSettings): RuleSpec[] {
  const rules: RuleSpec[] = [];
  if (!s.ipv6 && (s.nodePortSupport || !s.externalSnat)) {
    rules.push({ family: 4, priority: FWMARK_PRIORITY, table: MAIN_TABLE, fwmark: s.connmark, fwmask: s.connmark });
  }
  for (const cidr of s.externalServiceCidrs) {
    rules.push({ family: cidr.includes(":") ? 6 : 4, priority: EXTERNAL_SERVICE_PRIORITY, table: MAIN_TABLE, dst: cidr });
  }
  return rules;
}

/** A rule at 1024 or 1535 looking up main is the project's (upstream's) own. */
export function isOwnHostRule(r: RuleSpec): boolean {
  return (r.priority === FWMARK_PRIORITY || r.priority === EXTERNAL_SERVICE_PRIORITY) && r.table === MAIN_TABLE;
}

export function planHostNetwork(s: NetConfigSettings, primary: Pick<LinkInfo, "name" | "mtu">, seenRules: RuleSpec[]): Step[] {
  const primaryIf = checkIfName(primary.name, "primaryIf");
  const want = wantedHostRules(s);
  const steps: Step[] = [];
  // Upstream's SetupHostNetwork sets AWS_VPC_ENI_MTU on the primary ENI as on the others.
  if (primary.mtu !== s.eniMtu) steps.push({ side: "node", op: { op: "link.set", dev: primaryIf, mtu: s.eniMtu } });
  for (const r of seenRules.filter(isOwnHostRule)) {
    if (!want.some((w) => sameRule(w, r))) steps.push({ side: "node", op: { op: "rule.del", rule: r, all: false } });
  }
  for (const w of want) if (!seenRules.some((r) => sameRule(w, r))) steps.push({ side: "node", op: { op: "rule.add", rule: w } });
  // Unconditional, as upstream's init container sets it (AWS_VPC_K8S_CNI_CONFIGURE_RPFILTER is a no-op).
  steps.push({ side: "node", op: { op: "sysctl", key: `net/ipv4/conf/${primaryIf}/rp_filter`, value: "2", missingOk: false } });
  if (s.disableTcpEarlyDemux) steps.push({ side: "node", op: { op: "sysctl", key: "net/ipv4/tcp_early_demux", value: "0", missingOk: false } });
  if (s.ipv6) steps.push({ side: "node", op: { op: "sysctl", key: "net/ipv6/conf/all/forwarding", value: "1", missingOk: false } });
  return steps;
}
