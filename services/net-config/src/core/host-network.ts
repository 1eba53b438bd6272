/**
 * Host-wide routing settings, as upstream sets them: AWS_VPC_ENI_MTU on the primary ENI, the
 * fwmark rule at 1024, `to <CIDR> lookup main` at 1535 for AWS_EXTERNAL_SERVICE_CIDRS,
 * rp_filter loose on the primary interface, tcp_early_demux. Pure: plans from the rules the kernel holds.
 */
import { LOCAL_TABLE, MAIN_TABLE, sameRule, type Family, type LinkInfo, type RuleSpec, type Step } from "./kernel-ops.ts";
import type { NetConfigSettings } from "./settings.ts";
import { checkIfName } from "./validation.ts";

export const FWMARK_PRIORITY = 1024;
export const EXTERNAL_SERVICE_PRIORITY = 1535;
/** Strict security groups for pods: `lookup local` moves from 0 to here, behind the branch pods' iif rules at 10. */
export const LOCAL_RULE_PRIORITY = 20;
const ICMPV6 = 58;

/**
 * Upstream's SetupHostNetwork with ENABLE_POD_ENI and strict enforcement: `lookup local` at
 * 20 and the one at 0 deleted (of the node's family); IPv6 also sends ICMPv6 from the branch
 * gateway fe80:ec2::1 to the local table at 0, so branch interfaces resolve it. Leaving strict
 * restores nothing, as upstream (its gateway-rule deletion is never reached).
 */
export function strictLocalSteps(s: NetConfigSettings, seenRules: RuleSpec[]): Step[] {
  if (!s.podEni || (s.podSgEnforcingMode ?? "strict") !== "strict") return [];
  const family: Family = s.ipv6 ? 6 : 4;
  const steps: Step[] = [];
  const local: RuleSpec = { family, priority: LOCAL_RULE_PRIORITY, table: LOCAL_TABLE };
  if (!seenRules.some((r) => sameRule(r, local))) steps.push({ side: "node", op: { op: "rule.add", rule: local } });
  // Only when the kernel shows it: a delete at priority 0 would match any priority.
  const atZero = seenRules.find((r) => r.family === family && r.priority === 0 && r.table === LOCAL_TABLE && !r.src && !r.dst && !r.iif && r.ipproto === undefined);
  if (atZero) steps.push({ side: "node", op: { op: "rule.del", rule: atZero, all: false } });
  if (family === 6) {
    const gw: RuleSpec = { family: 6, priority: 0, table: LOCAL_TABLE, src: "fe80:ec2::1/128", ipproto: ICMPV6 };
    if (!seenRules.some((r) => sameRule(r, gw))) steps.push({ side: "node", op: { op: "rule.add", rule: gw } });
  }
  return steps;
}

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
  steps.push(...strictLocalSteps(s, seenRules));
  // Unconditional, as upstream's init container sets it (AWS_VPC_K8S_CNI_CONFIGURE_RPFILTER is a no-op).
  steps.push({ side: "node", op: { op: "sysctl", key: `net/ipv4/conf/${primaryIf}/rp_filter`, value: "2", missingOk: false } });
  if (s.disableTcpEarlyDemux) steps.push({ side: "node", op: { op: "sysctl", key: "net/ipv4/tcp_early_demux", value: "0", missingOk: false } });
  if (s.ipv6) steps.push({ side: "node", op: { op: "sysctl", key: "net/ipv6/conf/all/forwarding", value: "1", missingOk: false } });
  return steps;
}
