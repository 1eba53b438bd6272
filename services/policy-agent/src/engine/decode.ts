/**
 * Reads the agent's table back from `nft -j list table` into the canonical form of model.ts
 * (pure). Only what render.ts writes is understood: a pod chain holding anything else is
 * reported unreadable (a hand edit) and apply rewrites it. nft prints a one-element set as
 * a bare value and may show an interval as a prefix or a range; all forms decode to spans.
 */
import { parseIp, type Family } from "../../../../shared/ip.ts";
import { ALL_PORTS, canonicalGroups, mergeSpans, PROTOS, type DirectionModel, type PodModel, type Proto, type RuleGroup, type Span } from "./model.ts";
import { type Direction } from "./render.ts";

type Json = any;

export interface KernelPod {
  hostVeth: string;
  /** The pod as the kernel holds it, or undefined with `problem` when its chains are not ours as written. */
  model?: PodModel;
  problem?: string;
}

export interface KernelTable {
  /** Every chain of the table, by name. */
  chains: Map<string, Json[]>;
  pods: Map<string, KernelPod>;
  /** veth → chain the dispatch map jumps to. */
  dispatch: Record<Direction, Map<string, string>>;
  /** The node's addresses as the sets hold them; undefined when a set is missing or unreadable. */
  node: { v4?: Span[]; v6?: Span[] };
  /**
   * Veth prefixes of the catch-all drops that end base chain `dir` (strict), in order;
   * undefined when the chain is missing or a rule after its dispatch map is not a catch-all.
   */
  catchAll: Record<Direction, string[] | undefined>;
}

/** Rules of a base chain before its catch-all drops (render.ts baseChainRules). */
const BASE_RULES_BEFORE_CATCH_ALL = 6;

/** The veth prefix of a rule written by catchAllRule(), or a failure. */
function decodeCatchAll(dir: Direction, rule: Json): string {
  const dev = dir === "egress" ? "iif" : "oif";
  const exprs = (rule.expr ?? []).filter((x: Json) => x.counter === undefined);
  const [kind, name, verdict] = exprs;
  const isMeta = (m: Json, key: string) => m?.match?.op === "==" && m.match.left?.meta?.key === key && typeof m.match.right === "string";
  if (exprs.length !== 3 || !isMeta(kind, `${dev}kind`) || kind.match.right !== "veth" || !isMeta(name, `${dev}name`) || verdict?.drop !== null) fail("catch-all rule");
  const m = /^([A-Za-z0-9]+)\*$/.exec(name.match.right);
  if (!m) fail("catch-all prefix");
  return m[1]!;
}

function decodeCatchAlls(dir: Direction, rules: Json[] | undefined): string[] | undefined {
  if (!rules || rules.length < BASE_RULES_BEFORE_CATCH_ALL) return undefined;
  try {
    return rules.slice(BASE_RULES_BEFORE_CATCH_ALL).map((r) => decodeCatchAll(dir, r));
  } catch (err) {
    if (!(err instanceof Unreadable)) throw err;
    return undefined;
  }
}

class Unreadable extends Error {}

function fail(what: string): never {
  throw new Unreadable(what);
}

function addrSpan(family: Family, v: Json): Span {
  if (typeof v === "string") {
    const ip = parseIp(v);
    if (!ip || ip.family !== family) fail(`address ${v}`);
    return { lo: ip.value, hi: ip.value };
  }
  if (v?.prefix) {
    const ip = parseIp(v.prefix.addr);
    const width = family === 4 ? 32 : 128;
    if (!ip || ip.family !== family || typeof v.prefix.len !== "number") fail("prefix");
    return { lo: ip.value, hi: ip.value + (1n << BigInt(width - v.prefix.len)) - 1n };
  }
  if (Array.isArray(v?.range)) return { lo: addrSpan(family, v.range[0]).lo, hi: addrSpan(family, v.range[1]).hi };
  fail(`address value ${JSON.stringify(v)}`);
}

function addrSpans(family: Family, right: Json): Span[] {
  return mergeSpans((right?.set ? right.set : [right]).map((e: Json) => addrSpan(family, e)));
}

function portSpans(right: Json): Span[] {
  return mergeSpans(
    (right?.set ? right.set : [right]).map((v: Json): Span => {
      if (typeof v === "number") return { lo: BigInt(v), hi: BigInt(v) };
      if (Array.isArray(v?.range) && typeof v.range[0] === "number" && typeof v.range[1] === "number") return { lo: BigInt(v.range[0]), hi: BigInt(v.range[1]) };
      fail(`port ${JSON.stringify(v)}`);
    }),
  );
}

const isProto = (p: unknown): p is Proto => PROTOS.includes(p as Proto);

/** One rule written by groupRule(), or a failure. */
function decodeGroup(dir: Direction, exprs: Json[]): RuleGroup {
  const field = dir === "egress" ? "daddr" : "saddr";
  let family: Family | undefined;
  let remotes: Span[] | undefined;
  let except: Span[] = [];
  let proto: Proto | null = null;
  let ports: Span[] = [];
  let verdict = false;
  for (const x of exprs) {
    if (x.counter !== undefined) continue;
    if (x.accept === null && !verdict) {
      verdict = true;
      continue;
    }
    const m = x.match;
    if (!m || verdict) fail(`statement ${Object.keys(x)[0]}`);
    const pl = m.left?.payload;
    if (pl && (pl.protocol === "ip" || pl.protocol === "ip6") && pl.field === field) {
      const f: Family = pl.protocol === "ip" ? 4 : 6;
      if (family !== undefined && family !== f) fail("mixed families");
      family = f;
      if (m.op === "==" && !remotes) remotes = addrSpans(f, m.right);
      else if (m.op === "!=" && remotes) except = addrSpans(f, m.right);
      else fail(`address match ${m.op}`);
    } else if (pl && isProto(pl.protocol) && pl.field === "dport" && m.op === "==" && proto === null) {
      proto = pl.protocol;
      ports = portSpans(m.right);
    } else if (m.left?.meta?.key === "l4proto" && isProto(m.right) && m.op === "==" && proto === null) {
      proto = m.right;
      ports = [ALL_PORTS];
    } else fail("match");
  }
  if (!verdict || family === undefined || !remotes) fail("incomplete rule");
  return { family, remotes, except, proto, ports };
}

const bare = (exprs: Json[], verdict: "accept" | "drop") => exprs.filter((x) => x.counter === undefined).length === 1 && exprs.some((x) => x[verdict] === null);

export function decodeDirection(dir: Direction, rules: Json[] | undefined): DirectionModel {
  if (!rules) fail(`no ${dir} chain`);
  const exprs = rules.map((r) => r.expr ?? []);
  if (exprs.length === 1 && bare(exprs[0]!, "accept")) return { kind: "open" };
  const last = exprs[exprs.length - 1];
  if (!last || !bare(last, "drop")) fail(`${dir} chain does not end in drop`);
  return { kind: "rules", groups: canonicalGroups(exprs.slice(0, -1).map((e) => decodeGroup(dir, e))) };
}

/** The identity written into id-<veth> comments. */
export function decodeIdentity(rules: Json[] | undefined): Pick<PodModel, "namespace" | "name" | "addresses"> {
  if (!rules || rules.length === 0) fail("no identity chain");
  const text = rules.map((r) => r.comment ?? "").join("");
  const m = /^v1 ns=(\S+) name=(\S+) addr=(\S*)$/.exec(text);
  if (!m) fail("identity comment");
  return { namespace: m[1]!, name: m[2]!, addresses: m[3] ? m[3].split(",") : [] };
}

const POD_CHAIN = /^(eg|in|id)-(.+)$/;

export function decodeTable(listing: Json): KernelTable {
  const chains = new Map<string, Json[]>();
  const dispatch: KernelTable["dispatch"] = { egress: new Map(), ingress: new Map() };
  const node: KernelTable["node"] = {};
  for (const item of listing?.nftables ?? []) {
    if (item.chain) chains.set(item.chain.name, chains.get(item.chain.name) ?? []);
    else if (item.rule) {
      const list = chains.get(item.rule.chain) ?? [];
      list.push(item.rule);
      chains.set(item.rule.chain, list);
    } else if (item.set && (item.set.name === "node-v4" || item.set.name === "node-v6")) {
      const family: Family = item.set.name === "node-v4" ? 4 : 6;
      try {
        node[family === 4 ? "v4" : "v6"] = item.set.elem ? addrSpans(family, { set: item.set.elem }) : [];
      } catch (err) {
        if (!(err instanceof Unreadable)) throw err;
      }
    } else if (item.map && (item.map.name === "egress-pods" || item.map.name === "ingress-pods")) {
      const dir: Direction = item.map.name === "egress-pods" ? "egress" : "ingress";
      for (const [key, value] of item.map.elem ?? []) if (typeof key === "string" && value?.jump?.target) dispatch[dir].set(key, value.jump.target);
    }
  }
  const pods = new Map<string, KernelPod>();
  for (const name of chains.keys()) {
    const m = POD_CHAIN.exec(name);
    if (!m || pods.has(m[2]!)) continue;
    const veth = m[2]!;
    try {
      const id = decodeIdentity(chains.get(`id-${veth}`));
      const model: PodModel = { hostVeth: veth, ...id, egress: decodeDirection("egress", chains.get(`eg-${veth}`)), ingress: decodeDirection("ingress", chains.get(`in-${veth}`)) };
      pods.set(veth, { hostVeth: veth, model });
    } catch (err) {
      if (!(err instanceof Unreadable)) throw err;
      pods.set(veth, { hostVeth: veth, problem: err.message });
    }
  }
  const catchAll = { egress: decodeCatchAlls("egress", chains.get("egress")), ingress: decodeCatchAlls("ingress", chains.get("ingress")) };
  return { chains, pods, dispatch, node, catchAll };
}
