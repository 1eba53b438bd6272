/**
 * Kernel objects net-config manages and the operations on them, as plain data. The core
 * plans lists of operations; an adapter (rtnetlink over FFI, or `ip` processes) performs
 * them. The same objects describe what a dump observed, so plans and checks are diffs.
 */

export type Family = 4 | 6;
export type Scope = "universe" | "link" | "host";
/** Where an operation runs: the node (host) namespace or the pod's. */
export type Side = "node" | "pod";

export const MAIN_TABLE = 254;
export const LOCAL_TABLE = 255;

export interface LinkInfo {
  name: string;
  index: number;
  mac: string;
  mtu: number;
  up: boolean;
  kind?: string;
}

export interface AddrSpec {
  dev: string;
  /** address/prefix length, e.g. 10.0.1.5/32 */
  cidr: string;
  family: Family;
}

export interface RouteSpec {
  family: Family;
  /** CIDR, or "default" (0.0.0.0/0, ::/0). */
  dst: string;
  dev?: string;
  gateway?: string;
  scope: Scope;
  table: number;
}

export interface NeighSpec {
  family: Family;
  dev: string;
  ip: string;
  mac: string;
}

export interface RuleSpec {
  family: Family;
  priority: number;
  /** Lookup table; 0 in a delete means "any table". */
  table: number;
  src?: string;
  dst?: string;
  fwmark?: number;
  fwmask?: number;
  /** Incoming interface (`iif <name>`): branch-ENI pods' rules in strict mode. */
  iif?: string;
  /** IP protocol (`ipproto`): 58 for strict mode's IPv6 gateway rule. */
  ipproto?: number;
}

export type KernelOp =
  | { op: "veth.create"; podIf: string; hostVeth: string; mtu: number; hostMac: string }
  | { op: "link.set"; dev: string; mtu?: number; up?: boolean }
  | { op: "link.del"; dev: string; missingOk: true }
  /** An 802.1Q link `dev` on `parent` (a branch ENI over the trunk), with the branch's MAC; created down. */
  | { op: "vlan.create"; dev: string; parent: string; vlanId: number; mac: string; kind: "vlan" | "macvlan" }
  | { op: "addr.add"; addr: AddrSpec; nodad: boolean }
  | { op: "addr.del"; addr: AddrSpec; missingOk: true }
  | { op: "route.replace"; route: RouteSpec }
  | { op: "route.del"; route: RouteSpec; missingOk: true }
  | { op: "neigh.replace"; neigh: NeighSpec }
  | { op: "rule.add"; rule: RuleSpec }
  /** Deletes every rule matching (all of them when `all`). */
  | { op: "rule.del"; rule: RuleSpec; all: boolean }
  | { op: "sysctl"; key: string; value: string; missingOk: boolean };

export interface Step {
  side: Side;
  op: KernelOp;
}

export function familyOf(ip: string): Family {
  return ip.includes(":") ? 6 : 4;
}

export function hostPrefix(family: Family): number {
  return family === 4 ? 32 : 128;
}

/** A short text for logs, /debug and CHECK answers, close to the `ip` command it stands for. */
export function describeRoute(r: RouteSpec): string {
  return `${r.dst}${r.gateway ? ` via ${r.gateway}` : ""}${r.dev ? ` dev ${r.dev}` : ""}${r.scope !== "universe" ? ` scope ${r.scope}` : ""} table ${r.table}`;
}

export function describeRule(r: RuleSpec): string {
  const parts = [`priority ${r.priority}`];
  if (r.iif) parts.push(`iif ${r.iif}`);
  if (r.ipproto !== undefined) parts.push(`ipproto ${r.ipproto}`);
  if (r.src) parts.push(`from ${r.src}`);
  if (r.dst) parts.push(`to ${r.dst}`);
  if (r.fwmark !== undefined) parts.push(`fwmark 0x${r.fwmark.toString(16)}/0x${(r.fwmask ?? 0xffffffff).toString(16)}`);
  parts.push(`lookup ${r.table === MAIN_TABLE ? "main" : r.table === LOCAL_TABLE ? "local" : r.table}`);
  return (r.family === 6 ? "-6 " : "") + parts.join(" ");
}

export function sameRule(a: RuleSpec, b: RuleSpec): boolean {
  return (
    a.family === b.family &&
    a.priority === b.priority &&
    a.table === b.table &&
    (a.src ?? "") === (b.src ?? "") &&
    (a.dst ?? "") === (b.dst ?? "") &&
    (a.iif ?? "") === (b.iif ?? "") &&
    (a.ipproto ?? 0) === (b.ipproto ?? 0) &&
    (a.fwmark ?? 0) === (b.fwmark ?? 0) &&
    (a.fwmark === undefined ? true : (a.fwmask ?? 0xffffffff) === (b.fwmask ?? 0xffffffff))
  );
}

export function sameRoute(a: RouteSpec, b: RouteSpec): boolean {
  return (
    a.family === b.family &&
    a.dst === b.dst &&
    a.table === b.table &&
    (a.gateway ?? "") === (b.gateway ?? "") &&
    (a.dev === undefined || b.dev === undefined || a.dev === b.dev) &&
    // IPv6 routes carry no scope in the kernel.
    (a.family === 6 || a.scope === b.scope)
  );
}
