/**
 * A pod's wiring as upstream's routed-ENI plugin does it (the layout is listed in
 * docs/ARCHITECTURE.md, "Kernel state"), planned as kernel operations; and CHECK as a
 * comparison of the plan with what the kernel holds. Pure.
 */
import { hostVethName } from "../../../../shared/naming.ts";
import { canonicalIp } from "../../../../shared/ip.ts";
import {
  MAIN_TABLE, describeRoute, describeRule, familyOf, hostPrefix, sameRoute, sameRule,
  type AddrSpec, type Family, type LinkInfo, type NeighSpec, type RouteSpec, type RuleSpec, type Step,
} from "./kernel-ops.ts";
import type { NetConfigSettings } from "./settings.ts";
import { checkIfName, checkIp, checkNetnsPath, checkTable, checkVethPrefix } from "./validation.ts";
import { invalid } from "./errors.ts";

/** Priority of `to <pod IP> lookup main` and of `from <pod IP> lookup <ENI table>` (upstream values). */
export const TO_POD_PRIORITY = 512;
export const FROM_POD_PRIORITY = 1536;
/** Priority of a multi-homed pod's `from <address> lookup <n>` inside the pod, for its n-th extra interface (upstream's). */
export const POD_FROM_IF_PRIORITY = 1;

export interface PodRequest {
  containerId: string;
  ifName: string;
  /** Path of the pod's network namespace; "" on DEL when the runtime has none any more. */
  netns: string;
  podNamespace?: string;
  podName?: string;
  address: string;
  routeTable: number;
  /** The host veth's prefix when it is not the node's (a conflist's vethPrefix). */
  vethPrefix?: string;
  /** The pair's MTU when the conflist names one; else the node's POD_MTU. */
  mtu?: number;
  /** A multi-homed pod's interface: 0 (absent) the first, n ≥ 1 the n-th on another network card. */
  index?: number;
}

/** The pod's next hop on its interface `index` (upstream's 169.254.1.<index+1>, fe80::<index+1>). */
export function gatewayFor(family: Family, index = 0): string {
  if (!Number.isInteger(index) || index < 0 || index > 31) throw invalid("index", `${index} is not an integer 0-31`);
  return family === 4 ? `169.254.1.${index + 1}` : `fe80::${(index + 1).toString(16)}`;
}

/** The kernel objects a wired pod has, on each side. */
export interface PodLayout {
  family: Family;
  hostVeth: string;
  podIf: string;
  podCidr: string;
  gateway: string;
  hostRoute: RouteSpec;
  rules: RuleSpec[];
  podAddr: AddrSpec;
  podRoutes: RouteSpec[];
  /** Rules inside the pod: a multi-homed pod's extra interface sends from its address through its own table. */
  podRules: RuleSpec[];
}

export function podLayout(req: PodRequest, settings: Pick<NetConfigSettings, "vethPrefix">): PodLayout {
  const prefix = checkVethPrefix(req.vethPrefix ?? settings.vethPrefix);
  checkIfName(req.ifName, "ifName");
  checkIp(req.address, "address");
  checkTable(req.routeTable);
  const family = familyOf(req.address);
  const ip = canonicalIp(req.address) ?? req.address;
  const podCidr = `${ip}/${hostPrefix(family)}`;
  const index = req.index ?? 0;
  // Upstream names interface n's host veth after "<namespace>.<pod>.<n>".
  const hostVeth = hostVethName(prefix, {
    namespace: req.podNamespace,
    name: req.podName !== undefined && index > 0 ? `${req.podName}.${index}` : req.podName,
    containerId: req.containerId,
    ifName: req.ifName,
  });
  checkIfName(hostVeth, "hostVeth");
  const gateway = gatewayFor(family, index);
  // Interface 0 routes through the pod's main table; interface n through table n, chosen by its source address.
  const podTable = index === 0 ? MAIN_TABLE : index;
  return {
    family,
    hostVeth,
    podIf: req.ifName,
    podCidr,
    gateway,
    ...hostSide(family, podCidr, hostVeth, req.routeTable),
    podAddr: { family, dev: req.ifName, cidr: podCidr },
    podRoutes: [
      { family, dst: `${gateway}/${hostPrefix(family)}`, dev: req.ifName, scope: "link", table: podTable },
      { family, dst: "default", gateway, dev: req.ifName, scope: "universe", table: podTable },
    ],
    podRules: index === 0 ? [] : [{ family, priority: POD_FROM_IF_PRIORITY, table: podTable, src: podCidr }],
  };
}

/** The node side of a pod's wiring: its /32 (/128) route on the host veth and its two rules (one in the main table). */
export function hostSide(family: Family, podCidr: string, hostVeth: string, routeTable: number): Pick<PodLayout, "hostRoute" | "rules"> {
  const rules: RuleSpec[] = [{ family, priority: TO_POD_PRIORITY, table: MAIN_TABLE, dst: podCidr }];
  if (routeTable !== MAIN_TABLE) rules.push({ family, priority: FROM_POD_PRIORITY, table: routeTable, src: podCidr });
  return { hostRoute: { family, dst: podCidr, dev: hostVeth, scope: "link", table: MAIN_TABLE }, rules };
}

/** ADD: create the pair from the pod side with the host end placed directly in the node namespace. */
export function planWire(req: PodRequest, settings: NetConfigSettings, hostMac: string): { layout: PodLayout; steps: Step[] } {
  checkNetnsPath(req.netns);
  const l = podLayout(req, settings);
  const steps = vethSteps(l, req.mtu ?? settings.podMtu, hostMac);
  steps.push({ side: "node", op: { op: "route.replace", route: l.hostRoute } });
  for (const rule of l.rules) steps.push({ side: "node", op: { op: "rule.add", rule } });
  return { layout: l, steps };
}

/** The pair and the pod's side of it (address, routes, gateway neighbour): every pod, ordinary or branch-ENI, is wired so. */
export function vethSteps(l: PodLayout, mtu: number, hostMac: string): Step[] {
  const steps: Step[] = [
    // A retried ADD finds the old pair: remove it first, as upstream does.
    { side: "node", op: { op: "link.del", dev: l.hostVeth, missingOk: true } },
    { side: "pod", op: { op: "veth.create", podIf: l.podIf, hostVeth: l.hostVeth, mtu, hostMac } },
    { side: "node", op: { op: "link.set", dev: l.hostVeth, up: true } },
    { side: "node", op: { op: "sysctl", key: `net/ipv6/conf/${l.hostVeth}/accept_ra`, value: "0", missingOk: true } },
    { side: "node", op: { op: "sysctl", key: `net/ipv6/conf/${l.hostVeth}/forwarding`, value: "0", missingOk: true } },
  ];
  if (l.family === 6) steps.push({ side: "pod", op: { op: "sysctl", key: `net/ipv6/conf/${l.podIf}/accept_dad`, value: "0", missingOk: true } });
  for (const route of l.podRoutes) steps.push({ side: "pod", op: { op: "route.replace", route } });
  for (const rule of l.podRules) steps.push({ side: "pod", op: { op: "rule.add", rule } });
  steps.push({ side: "pod", op: { op: "addr.add", addr: l.podAddr, nodad: l.family === 6 } });
  const neigh: NeighSpec = { family: l.family, dev: l.podIf, ip: l.gateway, mac: hostMac };
  steps.push({ side: "pod", op: { op: "neigh.replace", neigh } });
  return steps;
}

/** DEL: rules, route, then the pair (from the node side; deleting one end deletes both). */
export function planUnwire(req: PodRequest, settings: NetConfigSettings): { layout: PodLayout; steps: Step[] } {
  if (req.netns !== "") checkNetnsPath(req.netns);
  const l = podLayout(req, settings);
  const steps: Step[] = [
    { side: "node", op: { op: "rule.del", rule: { family: l.family, priority: TO_POD_PRIORITY, table: MAIN_TABLE, dst: l.podCidr }, all: true } },
    // Any table: the pod's ENI may have changed since the rule was made.
    { side: "node", op: { op: "rule.del", rule: { family: l.family, priority: FROM_POD_PRIORITY, table: 0, src: l.podCidr }, all: true } },
    { side: "node", op: { op: "route.del", route: { ...l.hostRoute, dev: undefined }, missingOk: true } },
    { side: "node", op: { op: "link.del", dev: l.hostVeth, missingOk: true } },
  ];
  return { layout: l, steps };
}

export interface NodeObservation {
  hostLink?: LinkInfo;
  routes: RouteSpec[];
  rules: RuleSpec[];
}
export interface PodObservation {
  podLink?: LinkInfo;
  addrs: AddrSpec[];
  routes: RouteSpec[];
  neighbours: Array<NeighSpec & { permanent: boolean }>;
  /** The pod's rules (read only for a layout that has some). */
  rules?: RuleSpec[];
}

/** CHECK: every object of the layout that the kernel lacks or holds differently, named. */
export function checkWiring(l: PodLayout, mtu: number, node: NodeObservation, pod: PodObservation | undefined): string[] {
  const problems: string[] = [];
  if (!node.hostLink) problems.push(`host veth ${l.hostVeth} is missing`);
  else {
    if (!node.hostLink.up) problems.push(`host veth ${l.hostVeth} is down`);
    if (node.hostLink.mtu !== mtu) problems.push(`host veth ${l.hostVeth} has MTU ${node.hostLink.mtu}, expected ${mtu}`);
  }
  if (!node.routes.some((r) => sameRoute(r, l.hostRoute))) problems.push(`host route ${describeRoute(l.hostRoute)} is missing`);
  for (const rule of l.rules) if (!node.rules.some((r) => sameRule(r, rule))) problems.push(`rule ${describeRule(rule)} is missing`);
  problems.push(...checkPodSide(l, mtu, node.hostLink?.mac, pod));
  return problems;
}

/** CHECK of the pod's namespace: its interface, address, routes and the gateway's permanent neighbour (the host veth's MAC). */
export function checkPodSide(l: PodLayout, mtu: number, hostMac: string | undefined, pod: PodObservation | undefined): string[] {
  const problems: string[] = [];
  if (!pod) {
    problems.push("pod network namespace is missing");
    return problems;
  }
  if (!pod.podLink) problems.push(`pod interface ${l.podIf} is missing`);
  else {
    if (!pod.podLink.up) problems.push(`pod interface ${l.podIf} is down`);
    if (pod.podLink.mtu !== mtu) problems.push(`pod interface ${l.podIf} has MTU ${pod.podLink.mtu}, expected ${mtu}`);
  }
  if (!pod.addrs.some((a) => a.dev === l.podIf && a.cidr === l.podCidr)) problems.push(`pod address ${l.podCidr} on ${l.podIf} is missing`);
  for (const route of l.podRoutes) if (!pod.routes.some((r) => sameRoute(r, route))) problems.push(`pod route ${describeRoute(route)} is missing`);
  for (const rule of l.podRules) if (!(pod.rules ?? []).some((r) => sameRule(r, rule))) problems.push(`pod rule ${describeRule(rule)} is missing`);
  const mac = hostMac;
  const n = pod.neighbours.find((x) => x.dev === l.podIf && x.ip === l.gateway);
  if (!n || !n.permanent) problems.push(`permanent neighbour ${l.gateway} on ${l.podIf} is missing`);
  else if (mac && n.mac !== mac) problems.push(`neighbour ${l.gateway} points to ${n.mac}, host veth has ${mac}`);
  return problems;
}
