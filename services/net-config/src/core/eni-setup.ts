/**
 * A secondary ENI's link and route table as upstream sets them up: MTU, up,
 * only the primary address (with the subnet mask), `gw/32 scope link` and `default via gw`
 * in the ENI's table, the kernel's subnet route gone from main, rule `from <primary IP>
 * lookup <table>` at 32765. Pure: plans from what the kernel holds.
 */
import { canonicalIp, formatCidr, parseCidr, prefixLength } from "../../../../shared/ip.ts";
import { MAIN_TABLE, familyOf, hostPrefix, sameRoute, sameRule, type AddrSpec, type LinkInfo, type RouteSpec, type RuleSpec, type Step } from "./kernel-ops.ts";
import { checkCidr, checkIp, checkMac, checkTable } from "./validation.ts";
import { invalid } from "./errors.ts";

export const ENI_RULE_PRIORITY = 32765;

export interface EniRequest {
  eniId: string;
  mac: string;
  deviceNumber: number;
  primaryIp: string;
  subnetCidr: string;
  gateway: string;
  routeTable: number;
  /** The trunk ENI: no `from <primary IP>` rule. */
  trunk?: boolean;
}

export interface EniLayout {
  addr: AddrSpec;
  routes: RouteSpec[];
  rule: RuleSpec;
  subnetRoute: RouteSpec;
}

export function eniLayout(e: EniRequest, dev: string): EniLayout {
  checkMac(e.mac);
  checkIp(e.primaryIp, "primaryIp");
  checkIp(e.gateway, "gateway");
  checkCidr(e.subnetCidr, "subnetCidr");
  checkTable(e.routeTable);
  const subnet = parseCidr(e.subnetCidr, false);
  if (!subnet) throw invalid("subnetCidr", "not a CIDR");
  const family = familyOf(e.primaryIp);
  const ip = canonicalIp(e.primaryIp) ?? e.primaryIp;
  const gw = canonicalIp(e.gateway) ?? e.gateway;
  const subnetBase = formatCidr(subnet);
  return {
    addr: { family, dev, cidr: `${ip}/${prefixLength(e.subnetCidr)}` },
    routes: [
      { family, dst: `${gw}/${hostPrefix(family)}`, dev, scope: "link", table: e.routeTable },
      { family, dst: "default", gateway: gw, dev, scope: "universe", table: e.routeTable },
    ],
    rule: { family, priority: ENI_RULE_PRIORITY, table: e.routeTable, src: `${ip}/${hostPrefix(family)}` },
    subnetRoute: { family, dst: subnetBase, dev, scope: "link", table: MAIN_TABLE },
  };
}

export interface EniObservation {
  link: LinkInfo;
  /** Global addresses on the link. */
  addrs: AddrSpec[];
  routes: RouteSpec[];
  rules: RuleSpec[];
}

/** Steps that bring the ENI to its layout; empty when it is already there. */
export function planEniSetup(e: EniRequest, mtu: number, seen: EniObservation): Step[] {
  if (e.routeTable === MAIN_TABLE) {
    // The primary ENI (device 0) is the node's own interface: upstream leaves it alone.
    return [];
  }
  const l = eniLayout(e, seen.link.name);
  const dev = seen.link.name;
  const steps: Step[] = [];
  if (seen.link.mtu !== mtu || !seen.link.up) steps.push({ side: "node", op: { op: "link.set", dev, mtu, up: true } });
  for (const a of seen.addrs) if (a.cidr !== l.addr.cidr) steps.push({ side: "node", op: { op: "addr.del", addr: a, missingOk: true } });
  if (!seen.addrs.some((a) => a.cidr === l.addr.cidr)) steps.push({ side: "node", op: { op: "addr.add", addr: l.addr, nodad: true } });
  for (const r of l.routes) if (!seen.routes.some((x) => sameRoute(x, r))) steps.push({ side: "node", op: { op: "route.replace", route: r } });
  // The kernel adds the subnet route to main with the address (and again when the link comes up).
  if (seen.routes.some((x) => sameRoute(x, l.subnetRoute)) || steps.some((s) => s.op.op === "addr.add" || s.op.op === "link.set")) {
    steps.push({ side: "node", op: { op: "route.del", route: l.subnetRoute, missingOk: true } });
  }
  // The trunk ENI gets no rule of its own (upstream's setupENINetwork with isTrunkENI).
  if (!e.trunk && !seen.rules.some((x) => sameRule(x, l.rule))) steps.push({ side: "node", op: { op: "rule.add", rule: l.rule } });
  return steps;
}

/** The ENI is going: its rule and the routes of its table (the link itself belongs to EC2). */
export function planEniTeardown(e: EniRequest, dev: string | undefined, tableRoutes: RouteSpec[]): Step[] {
  checkTable(e.routeTable);
  if (e.routeTable === MAIN_TABLE) return [];
  const family = familyOf(e.primaryIp);
  const ip = canonicalIp(e.primaryIp) ?? e.primaryIp;
  const steps: Step[] = [
    { side: "node", op: { op: "rule.del", rule: { family, priority: ENI_RULE_PRIORITY, table: 0, src: `${ip}/${hostPrefix(family)}` }, all: true } },
  ];
  for (const r of tableRoutes) steps.push({ side: "node", op: { op: "route.del", route: r, missingOk: true } });
  if (dev) steps.push({ side: "node", op: { op: "addr.del", addr: { family, dev, cidr: `${ip}/${prefixLength(e.subnetCidr)}` }, missingOk: true } });
  return steps;
}
