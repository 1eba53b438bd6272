/**
 * Desired kernel state (addr-broker's assignments, pool-manager's ENIs, the settings)
 * against what the kernel holds → repairs. Only objects that match the project's own
 * patterns are ever removed: rules at 512/1536/32765, /32 (/128) routes in main on veths
 * named `<prefix><11 hex>`, and such veths. Pure.
 */
import { canonicalIp } from "../../../../shared/ip.ts";
import { ENI_RULE_PRIORITY, eniLayout, type EniRequest } from "./eni-setup.ts";
import { MAIN_TABLE, describeRoute, describeRule, hostPrefix, sameRoute, sameRule, type LinkInfo, type RouteSpec, type RuleSpec, type Step } from "./kernel-ops.ts";
import { FROM_POD_PRIORITY, TO_POD_PRIORITY, hostSide, podLayout, type PodRequest } from "./pod-wiring.ts";
import type { NetConfigSettings } from "./settings.ts";
import { checkTable } from "./validation.ts";
import { branchLayout, branchRepairs, type BranchRequest } from "./branch-wiring.ts";

export type RepairKind = "branch-wiring" | "pod-route" | "pod-rule" | "stale-rule" | "stale-route" | "stale-veth" | "eni-route" | "eni-rule" | "stale-eni-rule";

export interface Repair {
  kind: RepairKind;
  what: string;
  step: Step;
  /** Steps run right after `step` (a branch pod's VLAN link made again with its table). */
  then?: Step[];
}

export interface Observed {
  links: LinkInfo[];
  /** Routes of every table, both families. */
  routes: RouteSpec[];
  rules: RuleSpec[];
}

export interface Desired {
  /** undefined: addr-broker could not be asked (or has not restored yet): pods are left alone. */
  pods?: PodRequest[];
  /**
   * Live pods addr-broker knows only from the kernel (rebuilt after a corrupt checkpoint):
   * nothing of theirs is removed — their rules, their /32 route, their veth; and when the
   * reservation names the host veth and route table, a missing route or rule is re-created.
   */
  reserved?: Array<{ address: string; hostVeth?: string | undefined; routeTable?: number | undefined }>;
  /** undefined: pool-manager could not be asked: ENIs are left alone. */
  enis?: Array<EniRequest & { primary: boolean }>;
  /** Branch-ENI pods (security groups for pods): their wiring is repaired and never removed. */
  branch?: BranchRequest[];
}

/** Names and addresses wired or unwired while the desired state was being fetched: not touched this round. */
export interface InFlight {
  veths: Set<string>;
  cidrs: Set<string>;
}

export function planReconcile(s: NetConfigSettings, want: Desired, seen: Observed, busy: InFlight): Repair[] {
  const repairs: Repair[] = [];
  if (want.pods) {
    const branch = (want.branch ?? []).flatMap((b) => {
      try {
        return [{ req: b, layout: branchLayout(b, s) }];
      } catch {
        return []; // not ours to act on
      }
    });
    const kept = [...(want.reserved ?? []), ...branch.map((b) => ({ address: b.req.address, hostVeth: b.layout.hostVeth }))];
    repairs.push(...podRepairs(s, want.pods, seen, keptAlive(busy, kept)));
    repairs.push(...reservedRepairs(want.reserved ?? [], seen, busy));
    for (const b of branch) {
      if (busy.veths.has(b.layout.hostVeth)) continue;
      for (const r of branchRepairs(b.layout, b.req, seen, s.branchLinkKind)) {
        const [step, ...then] = r.steps;
        if (step) repairs.push({ kind: "branch-wiring", what: r.what, step, ...(then.length ? { then } : {}) });
      }
    }
  }
  if (want.enis) repairs.push(...eniRepairs(want.enis, seen));
  return repairs;
}

/** The reserved pods' veths and addresses join what is not touched this round. */
function keptAlive(busy: InFlight, reserved: NonNullable<Desired["reserved"]>): InFlight {
  if (reserved.length === 0) return busy;
  const veths = new Set(busy.veths);
  const cidrs = new Set(busy.cidrs);
  for (const r of reserved) {
    const ip = canonicalIp(r.address);
    if (ip) cidrs.add(`${ip}/${ip.includes(":") ? 128 : 32}`);
    if (r.hostVeth) veths.add(r.hostVeth);
  }
  return { veths, cidrs };
}

/** A reserved pod whose veth is there gets back a missing host route or rule (nothing is known to remove). */
function reservedRepairs(reserved: NonNullable<Desired["reserved"]>, seen: Observed, busy: InFlight): Repair[] {
  const out: Repair[] = [];
  const links = new Set(seen.links.map((l) => l.name));
  for (const r of reserved) {
    const ip = canonicalIp(r.address);
    // Only a veth the kernel shows (so its name is a real link's) and a table net-config accepts.
    if (!ip || !r.hostVeth || r.routeTable === undefined || !validTable(r.routeTable) || !links.has(r.hostVeth) || busy.veths.has(r.hostVeth)) continue;
    const family = ip.includes(":") ? 6 : 4;
    const cidr = `${ip}/${hostPrefix(family)}`;
    if (busy.cidrs.has(cidr)) continue;
    const want = hostSide(family, cidr, r.hostVeth, r.routeTable);
    if (!seen.routes.some((x) => sameRoute(x, want.hostRoute))) out.push({ kind: "pod-route", what: `route ${describeRoute(want.hostRoute)} (reserved)`, step: { side: "node", op: { op: "route.replace", route: want.hostRoute } } });
    for (const rule of want.rules) {
      if (!seen.rules.some((x) => sameRule(x, rule))) out.push({ kind: "pod-rule", what: `rule ${describeRule(rule)} (reserved)`, step: { side: "node", op: { op: "rule.add", rule } } });
    }
  }
  return out;
}

function validTable(n: number): boolean {
  try {
    checkTable(n);
    return true;
  } catch {
    return false;
  }
}

function podRepairs(s: NetConfigSettings, pods: PodRequest[], seen: Observed, busy: InFlight): Repair[] {
  const out: Repair[] = [];
  // The node's prefix and any other a desired pod's veth was named with (a conflist's vethPrefix).
  const prefixes = new Set([s.vethPrefix, ...pods.flatMap((p) => (p.vethPrefix && /^[A-Za-z0-9]{1,4}$/.test(p.vethPrefix) ? [p.vethPrefix] : []))]);
  const vethPattern = new RegExp(`^(${[...prefixes].join("|")})[0-9a-f]{11}$`);
  const links = new Set(seen.links.map((l) => l.name));
  const layouts = pods.flatMap((p) => {
    try {
      return [podLayout(p, s)];
    } catch {
      return []; // an assignment net-config cannot lay out is not ours to act on
    }
  });
  const byCidr = new Map(layouts.map((l) => [l.podCidr, l]));
  const veths = new Set(layouts.map((l) => l.hostVeth));
  for (const l of layouts) {
    if (!links.has(l.hostVeth) || busy.veths.has(l.hostVeth)) continue;
    if (!seen.routes.some((r) => sameRoute(r, l.hostRoute))) {
      out.push({ kind: "pod-route", what: `route ${describeRoute(l.hostRoute)}`, step: { side: "node", op: { op: "route.replace", route: l.hostRoute } } });
    }
    for (const rule of l.rules) {
      if (!seen.rules.some((r) => sameRule(r, rule))) out.push({ kind: "pod-rule", what: `rule ${describeRule(rule)}`, step: { side: "node", op: { op: "rule.add", rule } } });
    }
  }
  for (const r of seen.rules) {
    const cidr = r.priority === TO_POD_PRIORITY ? r.dst : r.priority === FROM_POD_PRIORITY ? r.src : undefined;
    if (!cidr || busy.cidrs.has(cidr)) continue;
    const owner = byCidr.get(cidr);
    const wanted = owner?.rules.some((w) => sameRule(w, r));
    if (!wanted) out.push({ kind: "stale-rule", what: `rule ${describeRule(r)}`, step: { side: "node", op: { op: "rule.del", rule: r, all: false } } });
  }
  for (const r of seen.routes) {
    if (r.table !== MAIN_TABLE || !r.dev || !vethPattern.test(r.dev) || busy.veths.has(r.dev) || busy.cidrs.has(r.dst)) continue;
    if (!r.dst.endsWith(r.family === 4 ? "/32" : "/128")) continue;
    const owner = byCidr.get(r.dst);
    if (owner && owner.hostVeth === r.dev) continue;
    out.push({ kind: "stale-route", what: `route ${describeRoute(r)}`, step: { side: "node", op: { op: "route.del", route: r, missingOk: true } } });
  }
  for (const l of seen.links) {
    if (!vethPattern.test(l.name) || veths.has(l.name) || busy.veths.has(l.name)) continue;
    if (l.kind !== undefined && l.kind !== "veth") continue;
    out.push({ kind: "stale-veth", what: `link ${l.name}`, step: { side: "node", op: { op: "link.del", dev: l.name, missingOk: true } } });
  }
  return out;
}

function eniRepairs(enis: Array<EniRequest & { primary: boolean }>, seen: Observed): Repair[] {
  const out: Repair[] = [];
  const wantedRules: RuleSpec[] = [];
  for (const e of enis) {
    if (e.primary || e.routeTable === MAIN_TABLE) continue;
    const link = seen.links.find((l) => l.mac === e.mac);
    if (!link) continue; // not attached (yet): pool-manager's set-up call handles it
    const l = eniLayout(e, link.name);
    if (!e.trunk) wantedRules.push(l.rule);
    for (const route of l.routes) {
      if (!seen.routes.some((r) => sameRoute(r, route))) out.push({ kind: "eni-route", what: `route ${describeRoute(route)}`, step: { side: "node", op: { op: "route.replace", route } } });
    }
    if (!e.trunk && !seen.rules.some((r) => sameRule(r, l.rule))) out.push({ kind: "eni-rule", what: `rule ${describeRule(l.rule)}`, step: { side: "node", op: { op: "rule.add", rule: l.rule } } });
  }
  for (const r of seen.rules) {
    if (r.priority !== ENI_RULE_PRIORITY || !r.src || r.table === MAIN_TABLE) continue;
    if (wantedRules.some((w) => sameRule(w, r))) continue;
    const eni = enis.find((e) => `${canonicalIp(e.primaryIp)}/${e.primaryIp.includes(":") ? 128 : 32}` === r.src);
    // A known ENI whose link is not visible (detaching, not yet up): leave its rule to pool-manager.
    if (eni && !seen.links.some((l) => l.mac === eni.mac)) continue;
    out.push({ kind: "stale-eni-rule", what: `rule ${describeRule(r)}`, step: { side: "node", op: { op: "rule.del", rule: r, all: false } } });
  }
  return out;
}
