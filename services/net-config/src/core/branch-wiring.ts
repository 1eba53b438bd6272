/**
 * A branch-ENI pod (security groups for pods) wired as upstream's plugin does it
 * (SetupBranchENIPodNetwork / TeardownBranchENIPodNetwork): the pod's veth pair as for any
 * pod, an 802.1Q link `vlan.eth.<vlanId>` on the trunk ENI's link carrying the branch ENI's
 * MAC, route table 100 + vlanId with the subnet gateway, and per enforcing mode:
 * - strict: the pod's /32 in that table and two rules at priority 10 (`iif vlan.eth.N`,
 *   `iif <host veth>`), so everything the pod sends leaves through the branch ENI;
 * - standard: the pod's /32 in main, `to <pod> lookup main` at 512 and
 *   `from <pod> lookup 100+N` at 1536, as for ordinary pods.
 * The strict host veth is named with the prefix `vlan`, standard's with the node's prefix. Pure.
 */
import { hostVethName } from "../../../../shared/naming.ts";
import { MAIN_TABLE, describeRoute, describeRule, hostPrefix, sameRoute, sameRule, type LinkInfo, type RouteSpec, type RuleSpec, type Step } from "./kernel-ops.ts";
import { FROM_POD_PRIORITY, TO_POD_PRIORITY, checkPodSide, podLayout, vethSteps, type PodLayout, type PodObservation, type PodRequest } from "./pod-wiring.ts";
import type { NetConfigSettings } from "./settings.ts";
import { checkIfName, checkIp, checkMac, checkNetnsPath } from "./validation.ts";
import { invalid } from "./errors.ts";

/** Upstream's VlanRulePriority: before the local table's rule (moved to 20 in strict mode). */
export const VLAN_RULE_PRIORITY = 10;
/** Route table of a branch ENI: 100 + its VLAN id. */
export const VLAN_TABLE_BASE = 100;
/** Host veth prefix of strict-mode branch pods (upstream's sgpp.BuildHostVethNamePrefix). */
export const STRICT_VETH_PREFIX = "vlan";
/** VLAN ids the resource controller hands out (0 is reserved). */
export const MAX_VLAN_ID = 120;

export type EnforcingMode = "strict" | "standard";
/** What `vlan.eth.<id>` is made as: an 802.1Q link in service; a macvlan stand-in only in tests on kernels without 802.1Q. */
export type BranchLinkKind = "vlan" | "macvlan";

export interface BranchRequest extends Omit<PodRequest, "routeTable"> {
  vlanId: number;
  /** The branch ENI's MAC (the annotation's `ifAddress`), given to the VLAN link. */
  branchMac: string;
  /** The trunk ENI's MAC: its link is the VLAN's parent. */
  trunkMac: string;
  /** IPv4: the branch subnet's network address + 1; IPv6: fe80:ec2::1. */
  subnetGateway: string;
  enforcingMode: EnforcingMode;
}

export interface BranchLayout extends PodLayout {
  vlanLink: string;
  table: number;
  vlanRoutes: RouteSpec[];
  mode: EnforcingMode;
}

export const vlanLinkName = (vlanId: number): string => `vlan.eth.${vlanId}`;

export function checkVlanId(n: number, field = "vlanId"): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_VLAN_ID) throw invalid(field, `${n} must be an integer from 1 to ${MAX_VLAN_ID}`);
  return n;
}

export function branchLayout(req: BranchRequest, settings: Pick<NetConfigSettings, "vethPrefix">): BranchLayout {
  const vlanId = checkVlanId(req.vlanId);
  checkMac(req.branchMac, "branchMac");
  checkMac(req.trunkMac, "trunkMac");
  checkIp(req.subnetGateway, "subnetGateway");
  if (req.enforcingMode !== "strict" && req.enforcingMode !== "standard") throw invalid("enforcingMode", `${JSON.stringify(req.enforcingMode)} must be strict or standard`);
  const table = VLAN_TABLE_BASE + vlanId;
  const base = podLayout({ ...req, routeTable: table }, settings);
  const vlanLink = vlanLinkName(vlanId);
  const family = base.family;
  const gwCidr = `${req.subnetGateway}/${hostPrefix(family)}`;
  const vlanRoutes: RouteSpec[] = [
    { family, dst: gwCidr, dev: vlanLink, scope: "link", table },
    { family, dst: "default", gateway: req.subnetGateway, dev: vlanLink, scope: "universe", table },
  ];
  if (req.enforcingMode === "standard") return { ...base, vlanLink, table, vlanRoutes, mode: "standard" };
  const hostVeth = checkIfName(hostVethName(STRICT_VETH_PREFIX, { namespace: req.podNamespace, name: req.podName, containerId: req.containerId, ifName: req.ifName }), "hostVeth");
  const rules: RuleSpec[] = [
    { family, priority: VLAN_RULE_PRIORITY, table, iif: vlanLink },
    { family, priority: VLAN_RULE_PRIORITY, table, iif: hostVeth },
  ];
  return { ...base, hostVeth, hostRoute: { family, dst: base.podCidr, dev: hostVeth, scope: "link", table }, rules, vlanLink, table, vlanRoutes, mode: "strict" };
}

/** The VLAN link and its table, on the trunk's link `trunkLink`: removed and made again, as upstream does. */
export function vlanSteps(l: BranchLayout, trunkLink: string, branchMac: string, vlanId: number, kind: BranchLinkKind = "vlan"): Step[] {
  const steps: Step[] = [
    { side: "node", op: { op: "link.del", dev: l.vlanLink, missingOk: true } },
    { side: "node", op: { op: "vlan.create", dev: l.vlanLink, parent: trunkLink, vlanId, mac: branchMac, kind } },
  ];
  for (const [key, value] of [["accept_ra", "0"], ["accept_redirects", "1"], ["forwarding", "0"]] as const) {
    steps.push({ side: "node", op: { op: "sysctl", key: `net/ipv6/conf/${l.vlanLink}/${key}`, value, missingOk: true } });
  }
  steps.push({ side: "node", op: { op: "link.set", dev: l.vlanLink, up: true } });
  for (const route of l.vlanRoutes) steps.push({ side: "node", op: { op: "route.replace", route } });
  return steps;
}

/** ADD: the pair (as any pod), the VLAN link and table, then the mode's route and rules. */
export function planBranchWire(req: BranchRequest, settings: NetConfigSettings, hostMac: string, trunkLink: string, kind: BranchLinkKind = "vlan"): { layout: BranchLayout; steps: Step[] } {
  checkNetnsPath(req.netns);
  const l = branchLayout(req, settings);
  checkIfName(trunkLink, "trunk link");
  const steps = vethSteps(l, req.mtu ?? settings.podMtu, hostMac);
  steps.push({ side: "node", op: { op: "sysctl", key: `net/ipv6/conf/${l.hostVeth}/accept_redirects`, value: "1", missingOk: true } });
  // Rules a previous pod left on a veth of the same name.
  steps.push({ side: "node", op: { op: "rule.del", rule: { family: l.family, priority: VLAN_RULE_PRIORITY, table: 0, iif: l.hostVeth }, all: true } });
  steps.push(...vlanSteps(l, trunkLink, req.branchMac, req.vlanId, kind));
  steps.push({ side: "node", op: { op: "route.replace", route: l.hostRoute } });
  for (const rule of l.rules) steps.push({ side: "node", op: { op: "rule.add", rule } });
  return { layout: l, steps };
}

/**
 * DEL: what either mode's ADD made (the mode may have changed since): the VLAN link (its
 * table's routes go with it), every priority-10 rule of the table, the 512/1536 rules and
 * the main /32, and the host veth (upstream leaves it to the namespace's removal).
 */
export function planBranchUnwire(
  given: Omit<BranchRequest, "branchMac" | "trunkMac" | "subnetGateway" | "enforcingMode"> & Partial<BranchRequest>,
  settings: NetConfigSettings,
): { layout: BranchLayout; steps: Step[] } {
  if (given.netns !== "") checkNetnsPath(given.netns);
  // Only names matter here: the MACs and gateway stand in when a DEL from prevResult does not know them.
  const req: BranchRequest = { branchMac: UNKNOWN_MAC, trunkMac: UNKNOWN_MAC, subnetGateway: given.address, enforcingMode: "strict", ...given };
  const l = branchLayout(req, settings);
  // The veth of either mode: the mode may have changed since the ADD.
  const other = branchLayout({ ...req, enforcingMode: l.mode === "strict" ? "standard" : "strict" }, settings).hostVeth;
  const f = l.family;
  const steps: Step[] = [
    { side: "node", op: { op: "link.del", dev: l.vlanLink, missingOk: true } },
    { side: "node", op: { op: "rule.del", rule: { family: f, priority: VLAN_RULE_PRIORITY, table: l.table }, all: true } },
    { side: "node", op: { op: "rule.del", rule: { family: f, priority: TO_POD_PRIORITY, table: MAIN_TABLE, dst: l.podCidr }, all: true } },
    { side: "node", op: { op: "rule.del", rule: { family: f, priority: FROM_POD_PRIORITY, table: 0, src: l.podCidr }, all: true } },
    { side: "node", op: { op: "route.del", route: { family: f, dst: l.podCidr, scope: "link", table: MAIN_TABLE }, missingOk: true } },
    { side: "node", op: { op: "link.del", dev: l.hostVeth, missingOk: true } },
    { side: "node", op: { op: "link.del", dev: other, missingOk: true } },
  ];
  return { layout: l, steps };
}

const UNKNOWN_MAC = "02:00:00:00:00:00";

export interface BranchNodeObservation {
  links: LinkInfo[];
  routes: RouteSpec[];
  rules: RuleSpec[];
}

/** CHECK: every object of the layout that the kernel lacks or holds differently, named. */
export function checkBranchWiring(l: BranchLayout, req: Pick<BranchRequest, "branchMac" | "trunkMac">, mtu: number, node: BranchNodeObservation, pod: PodObservation | undefined): string[] {
  const problems: string[] = [];
  const host = node.links.find((x) => x.name === l.hostVeth);
  if (!host) problems.push(`host veth ${l.hostVeth} is missing`);
  else {
    if (!host.up) problems.push(`host veth ${l.hostVeth} is down`);
    if (host.mtu !== mtu) problems.push(`host veth ${l.hostVeth} has MTU ${host.mtu}, expected ${mtu}`);
  }
  const vlan = node.links.find((x) => x.name === l.vlanLink);
  if (!vlan) problems.push(`VLAN link ${l.vlanLink} is missing`);
  else {
    if (!vlan.up) problems.push(`VLAN link ${l.vlanLink} is down`);
    if (vlan.mac !== req.branchMac) problems.push(`VLAN link ${l.vlanLink} has MAC ${vlan.mac}, expected the branch ENI's ${req.branchMac}`);
  }
  if (!node.links.some((x) => x.mac === req.trunkMac)) problems.push(`no link has the trunk ENI's MAC ${req.trunkMac}`);
  for (const route of [...l.vlanRoutes, l.hostRoute]) if (!node.routes.some((r) => sameRoute(r, route))) problems.push(`route ${describeRoute(route)} is missing`);
  for (const rule of l.rules) if (!node.rules.some((r) => sameRule(r, rule))) problems.push(`rule ${describeRule(rule)} is missing`);
  problems.push(...checkPodSide(l, mtu, host?.mac, pod));
  return problems;
}

/**
 * Reconcile: what a wired branch pod lacks on the node's side, as steps that put it back
 * (a missing VLAN link is made again on the trunk's link, when that link is there).
 */
export function branchRepairs(
  l: BranchLayout,
  req: Pick<BranchRequest, "branchMac" | "vlanId" | "trunkMac">,
  node: BranchNodeObservation,
  kind: BranchLinkKind = "vlan",
): Array<{ what: string; steps: Step[] }> {
  const out: Array<{ what: string; steps: Step[] }> = [];
  if (!node.links.some((x) => x.name === l.hostVeth)) return out; // the pod is gone or not wired yet: addr-broker's DEL/sweep decides
  const trunk = node.links.find((x) => x.mac === req.trunkMac && x.kind !== "vlan" && x.kind !== "macvlan");
  if (!node.links.some((x) => x.name === l.vlanLink)) {
    if (trunk) out.push({ what: `link ${l.vlanLink}`, steps: vlanSteps(l, trunk.name, req.branchMac, req.vlanId, kind) });
  } else {
    for (const route of l.vlanRoutes) if (!node.routes.some((r) => sameRoute(r, route))) out.push({ what: `route ${describeRoute(route)}`, steps: [{ side: "node", op: { op: "route.replace", route } }] });
  }
  if (!node.routes.some((r) => sameRoute(r, l.hostRoute))) out.push({ what: `route ${describeRoute(l.hostRoute)}`, steps: [{ side: "node", op: { op: "route.replace", route: l.hostRoute } }] });
  for (const rule of l.rules) if (!node.rules.some((r) => sameRule(r, rule))) out.push({ what: `rule ${describeRule(rule)}`, steps: [{ side: "node", op: { op: "rule.add", rule } }] });
  return out;
}
