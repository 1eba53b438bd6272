/**
 * Reads the agent's table back from `nft -j list table` into the canonical form of model.ts
 * (pure). Only what render.ts writes is understood: a pod chain holding anything else is
 * reported unreadable (a hand edit) and apply rewrites it. nft prints a one-element set as
 * a bare value and may show an interval as a prefix or a range; all forms decode to spans.
 *
 * With 200 policies on 110 pods the listing is 1.5 MB of JSON; parsed whole, with every pod's
 * rules decoded alongside, a read-back (every 10 s in the background) left ~3 MiB more resident
 * in the agent. So the listing is parsed one item at a time (`forEachItem`), each pod's egress and
 * ingress chain is decoded as soon as its rules end and its JSON dropped, and pods whose chains
 * say the same share one decoded direction. A rule's remote addresses may be a named set of
 * the agent's (`@a4-<hash>`, render.ts): the listing shows sets before chains, so it is
 * resolved when the chain's rules end.
 */
import { parseIp, type Family } from "../../../../shared/ip.ts";
import { ALL_PORTS, canonicalGroups, directionKey, mergeSpans, PROTOS, type DirectionModel, type PodModel, type Proto, type RuleGroup, type Span } from "./model.ts";
import { ADDRESS_SET, addressSetName, type Direction } from "./render.ts";

type Json = any;

export interface KernelPod {
  hostVeth: string;
  /** The pod as the kernel holds it, or undefined with `problem` when its chains are not ours as written. */
  model?: PodModel;
  problem?: string;
}

export interface KernelTable {
  /** Every chain of the table, by name, with its rules (none kept for a pod's egress and ingress chains: decoded as read). */
  chains: Map<string, Json[]>;
  pods: Map<string, KernelPod>;
  /** veth → chain the dispatch map jumps to. */
  dispatch: Record<Direction, Map<string, string>>;
  /** The agent's named address sets (render.ts ADDRESS_SET) whose content is what their name says (a digest of it). */
  addressSets: Set<string>;
  /** Every set of the table named like one of them, intact or not. */
  addressSetNames: string[];
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

/** Named address sets by name: their spans, or why they are not readable. */
export type SetLookup = ReadonlyMap<string, { family: Family; spans: Span[] } | Unreadable>;

function addrSpans(family: Family, right: Json, sets?: SetLookup): Span[] {
  if (typeof right === "string" && right.startsWith("@")) {
    const set = sets?.get(right.slice(1));
    if (set === undefined) fail(`set ${right}`);
    if (set instanceof Unreadable) throw set;
    if (set.family !== family) fail(`set ${right} of another family`);
    return set.spans;
  }
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
function decodeGroup(dir: Direction, exprs: Json[], sets?: SetLookup): RuleGroup {
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
      if (m.op === "==" && !remotes) remotes = addrSpans(f, m.right, sets);
      else if (m.op === "!=" && remotes) except = addrSpans(f, m.right, sets);
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

export function decodeDirection(dir: Direction, rules: Json[] | undefined, sets?: SetLookup): DirectionModel {
  if (!rules) fail(`no ${dir} chain`);
  const exprs = rules.map((r) => r.expr ?? []);
  if (exprs.length === 1 && bare(exprs[0]!, "accept")) return { kind: "open" };
  const last = exprs[exprs.length - 1];
  if (!last || !bare(last, "drop")) fail(`${dir} chain does not end in drop`);
  return { kind: "rules", groups: canonicalGroups(exprs.slice(0, -1).map((e) => decodeGroup(dir, e, sets))) };
}

/** The identity written into id-<veth> comments. */
export function decodeIdentity(rules: Json[] | undefined): Pick<PodModel, "namespace" | "name" | "addresses"> {
  if (!rules || rules.length === 0) fail("no identity chain");
  const text = rules.map((r) => r.comment ?? "").join("");
  const m = /^v1 ns=(\S+) name=(\S+) addr=(\S*)$/.exec(text);
  if (!m) fail("identity comment");
  return { namespace: m[1]!, name: m[2]!, addresses: m[3] ? m[3].split(",") : [] };
}

/** One of the agent's named address sets as listed: its family (from its name, checked against its type) and spans. */
function decodeAddressSet(set: Json): { family: Family; spans: Span[] } | Unreadable {
  const family: Family = ADDRESS_SET.exec(set.name)![1] === "4" ? 4 : 6;
  if (set.type !== (family === 4 ? "ipv4_addr" : "ipv6_addr")) return new Unreadable(`set ${set.name} of type ${set.type}`);
  try {
    const spans = set.elem ? addrSpans(family, { set: set.elem }) : [];
    // a rule naming a set whose content is not what its name says is not ours as written: rewritten
    if (addressSetName(family, spans) !== set.name) return new Unreadable(`set ${set.name} does not hold what its name says`);
    return { family, spans };
  } catch (err) {
    if (err instanceof Unreadable) return err;
    throw err;
  }
}

const POD_CHAIN = /^(eg|in|id)-(.+)$/;

const DIRECTION_CHAIN = /^(eg|in)-(.+)$/;

/** Decodes a table listing item by item (nft lists every chain, then each chain's rules together). */
export class TableDecoder {
  private readonly chains = new Map<string, Json[]>();
  private readonly dispatch: KernelTable["dispatch"] = { egress: new Map(), ingress: new Map() };
  private readonly node: KernelTable["node"] = {};
  private readonly sets = new Map<string, { family: Family; spans: Span[] } | Unreadable>();
  /** eg-/in- chains decoded when their rules ended: the model, or why it is not ours. */
  private readonly directions = new Map<string, DirectionModel | Unreadable>();
  private readonly shared = new Map<string, DirectionModel>();
  private open: { name: string; rules: Json[] } | undefined;

  add(item: Json): void {
    if (item?.rule) {
      const name = String(item.rule.chain);
      let open = this.open;
      if (!open || open.name !== name) {
        this.close();
        open = this.open = { name, rules: this.chains.get(name) ?? [] };
      }
      open.rules.push(item.rule);
      return;
    }
    this.close();
    if (item?.chain) this.chains.set(item.chain.name, this.chains.get(item.chain.name) ?? []);
    else if (item?.set && ADDRESS_SET.test(item.set.name)) this.sets.set(item.set.name, decodeAddressSet(item.set));
    else if (item?.set && (item.set.name === "node-v4" || item.set.name === "node-v6")) {
      const family: Family = item.set.name === "node-v4" ? 4 : 6;
      try {
        this.node[family === 4 ? "v4" : "v6"] = item.set.elem ? addrSpans(family, { set: item.set.elem }) : [];
      } catch (err) {
        if (!(err instanceof Unreadable)) throw err;
      }
    } else if (item?.map && (item.map.name === "egress-pods" || item.map.name === "ingress-pods")) {
      const dir: Direction = item.map.name === "egress-pods" ? "egress" : "ingress";
      for (const [key, value] of item.map.elem ?? []) if (typeof key === "string" && value?.jump?.target) this.dispatch[dir].set(key, value.jump.target);
    }
  }

  /** The rules of one chain ended: a pod's direction is decoded now and its JSON not kept. */
  private close(): void {
    const o = this.open;
    this.open = undefined;
    if (!o) return;
    const m = DIRECTION_CHAIN.exec(o.name);
    if (!m) {
      this.chains.set(o.name, o.rules);
      return;
    }
    this.chains.set(o.name, []);
    // rules of one chain listed in two runs: nft never does; not trusted, so rewritten
    this.directions.set(o.name, this.directions.has(o.name) ? new Unreadable(`${o.name} listed in pieces`) : this.decodeShared(m[1] === "eg" ? "egress" : "ingress", o.rules));
  }

  private decodeShared(dir: Direction, rules: Json[]): DirectionModel | Unreadable {
    try {
      const model = decodeDirection(dir, rules, this.sets);
      const key = directionKey(model);
      const known = this.shared.get(key);
      if (known) return known;
      this.shared.set(key, model);
      return model;
    } catch (err) {
      if (err instanceof Unreadable) return err;
      throw err;
    }
  }

  private direction(dir: Direction, veth: string): DirectionModel {
    const name = `${dir === "egress" ? "eg" : "in"}-${veth}`;
    const known = this.directions.get(name);
    if (known instanceof Unreadable) throw known;
    return known ?? decodeDirection(dir, this.chains.get(name), this.sets);
  }

  finish(): KernelTable {
    this.close();
    const pods = new Map<string, KernelPod>();
    for (const name of this.chains.keys()) {
      const m = POD_CHAIN.exec(name);
      if (!m || pods.has(m[2]!)) continue;
      const veth = m[2]!;
      try {
        const id = decodeIdentity(this.chains.get(`id-${veth}`));
        const model: PodModel = { hostVeth: veth, ...id, egress: this.direction("egress", veth), ingress: this.direction("ingress", veth) };
        pods.set(veth, { hostVeth: veth, model });
      } catch (err) {
        if (!(err instanceof Unreadable)) throw err;
        pods.set(veth, { hostVeth: veth, problem: err.message });
      }
    }
    const catchAll = { egress: decodeCatchAlls("egress", this.chains.get("egress")), ingress: decodeCatchAlls("ingress", this.chains.get("ingress")) };
    const addressSets = new Set<string>();
    for (const [name, set] of this.sets) if (!(set instanceof Unreadable)) addressSets.add(name);
    return { chains: this.chains, pods, dispatch: this.dispatch, node: this.node, catchAll, addressSets, addressSetNames: [...this.sets.keys()] };
  }
}

export function decodeTable(listing: Json): KernelTable {
  const decoder = new TableDecoder();
  for (const item of listing?.nftables ?? []) decoder.add(item);
  return decoder.finish();
}

/**
 * Calls `fn` with each element of the `nftables` array of `nft -j` output, parsed one at a time
 * (never the whole listing as one tree). Throws a SyntaxError when the text is not such a listing.
 */
export function forEachItem(text: string, fn: (item: Json) => void): void {
  const head = /^\s*\{\s*"nftables"\s*:\s*\[/.exec(text);
  if (!head) {
    for (const item of JSON.parse(text)?.nftables ?? []) fn(item);
    return;
  }
  let depth = 0;
  let inString = false;
  let from = -1;
  for (let i = head[0].length; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
      continue;
    }
    if (c === 34) {
      if (depth === 0) throw new SyntaxError(`nft listing: a bare string at ${i}`);
      inString = true;
    } else if (c === 123 || c === 91) {
      if (depth === 0) from = i;
      depth++;
    } else if (c === 125 || c === 93) {
      if (depth === 0) {
        if (c !== 93 || !/^\s*\}\s*$/.test(text.slice(i + 1))) throw new SyntaxError(`nft listing: unexpected end at ${i}`);
        return;
      }
      if (--depth === 0) fn(JSON.parse(text.slice(from, i + 1)));
    }
  }
  throw new SyntaxError("nft listing: truncated");
}
