/**
 * nft script text for the agent's table (pure). Layout of table `inet <name>`:
 *
 *   set node-v4, node-v6          the node's addresses: always allowed, both ways
 *   map egress-pods               host veth → jump eg-<veth>   (iifname: traffic from the pod)
 *   map ingress-pods              host veth → jump in-<veth>   (oifname: traffic to the pod)
 *   chain egress                  prerouting, after conntrack and before DNAT: the pod's view
 *                                 of the destination, as upstream's hook on the veth sees it;
 *                                 covers pod→node and pod→pod on the same node too
 *   chain ingress                 postrouting, before SNAT: forwarded and node-originated
 *                                 traffic to the pod, with its original source
 *                                 (strict: both base chains end in a catch-all that drops
 *                                 traffic from/to veths named with the pods' prefixes)
 *   chain eg-<veth>, in-<veth>    one pod's rules: groups that accept, then drop
 *   chain id-<veth>               never jumped to: the pod's identity in rule comments
 *   set a4-<hash>, a6-<hash>      the remote addresses of a rule, when NAMED_SET_MIN spans or
 *                                 more and more than one pod refers to them (or the set is in
 *                                 the table already), named by a digest of its content: pods
 *                                 selected alike share one set instead of each holding an
 *                                 anonymous copy; other lists stay anonymous (`{ a, b }`),
 *                                 cheaper for nft to write
 *
 * Both base chains accept packets in the reply direction of a tracked connection and
 * related ones; every packet of the original direction goes through the rules, so a change
 * that denies a flow stops its established connection with the transaction.
 */
import { formatIp, type Family } from "../../../../shared/ip.ts";
import { ALL_PORTS, type DirectionModel, type NodeModel, type PodModel, type RuleGroup, type Span } from "./model.ts";

export const DEFAULT_TABLE = "aws-cni-np";
export const TABLE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/** The base chains: hook, priority as written, and as `nft -j` reports it (dstnat = -100, srcnat = 100). */
export const BASE_CHAINS = {
  egress: { hook: "prerouting", priority: "dstnat - 10", prio: -110 },
  ingress: { hook: "postrouting", priority: "srcnat - 10", prio: 90 },
} as const;
export const ND_TYPES = "nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert";

export type Direction = "ingress" | "egress";
export const chainOf = (dir: Direction, veth: string) => `${dir === "egress" ? "eg" : "in"}-${veth}`;
export const idChainOf = (veth: string) => `id-${veth}`;
export const mapOf = (dir: Direction) => `${dir}-pods`;

/** Identity comments: nft limits a comment to 128 bytes, so the text is cut into pieces. */
const ID_PIECE = 120;
export function identityText(p: Pick<PodModel, "namespace" | "name" | "addresses">): string {
  return `v1 ns=${p.namespace} name=${p.name} addr=${p.addresses.join(",")}`;
}
export function identityPieces(p: Pick<PodModel, "namespace" | "name" | "addresses">): string[] {
  const text = identityText(p);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += ID_PIECE) out.push(text.slice(i, i + ID_PIECE));
  return out;
}

function spanText(family: Family, s: Span): string {
  const width = family === 4 ? 32 : 128;
  for (let size = 0; size <= width; size++) {
    const block = 1n << BigInt(size);
    if (s.hi - s.lo + 1n === block && (s.lo & (block - 1n)) === 0n) return `${formatIp(family, s.lo)}/${width - size}`;
    if (block > s.hi - s.lo + 1n) break;
  }
  return s.lo === s.hi ? formatIp(family, s.lo) : `${formatIp(family, s.lo)}-${formatIp(family, s.hi)}`;
}

const portText = (s: Span) => (s.lo === s.hi ? `${s.lo}` : `${s.lo}-${s.hi}`);
/** One element bare, several in an anonymous set: a bare value needs no set in the kernel. */
const oneOrSet = (items: string[]) => (items.length === 1 ? items[0]! : `{ ${items.join(", ")} }`);

/** A named set of remote addresses: its name is a digest of family and content, so equal content is one set. */
export interface AddressSet {
  name: string;
  family: Family;
  spans: Span[];
}
export const ADDRESS_SET = /^a([46])-[0-9a-f]{16}$/;

/** Computed once per spans array: pods selected alike share their compiled groups (model.ts). */
const setNames = new WeakMap<Span[], string>();
export function addressSetName(family: Family, spans: Span[]): string {
  let name = setNames.get(spans);
  if (name === undefined) {
    const key = `${family}|${spans.map((s) => `${s.lo.toString(16)}-${s.hi.toString(16)}`).join(",")}`;
    name = `a${family}-${new Bun.CryptoHasher("sha256").update(key).digest("hex").slice(0, 16)}`;
    setNames.set(spans, name);
  }
  return name;
}

/**
 * A group's remotes may go into a named set from this many spans on (a choice, not measured);
 * the engine names one only when it is shared (UseSet). A named set costs nft a declaration of
 * its own: with lists distinct per pod (policy-apply) a full-node transaction with a named set
 * for every list of two or more took 15-20 % longer than with anonymous ones.
 */
export const NAMED_SET_MIN = 16;
const namedRemotes = (g: RuleGroup) => g.remotes.length >= NAMED_SET_MIN;

/** Whether a list long enough for a named set is written as one (the engine: when more than one pod refers to it, or it is in the kernel already). */
export type UseSet = (name: string) => boolean;
const always: UseSet = () => true;

/** The named sets of a direction's rules, once per direction model (pods selected alike share one). */
const directionSets = new WeakMap<DirectionModel, AddressSet[]>();
function setsOf(d: DirectionModel): AddressSet[] {
  if (d.kind !== "rules") return [];
  let known = directionSets.get(d);
  if (known === undefined) {
    known = d.groups.filter(namedRemotes).map((g) => ({ name: addressSetName(g.family, g.remotes), family: g.family, spans: g.remotes }));
    directionSets.set(d, known);
  }
  return known;
}

/** The named sets a pod's rules may refer to (a set both directions name appears twice: callers key them by name). */
export function podSets(pod: Pick<PodModel, "ingress" | "egress">): AddressSet[] {
  return [...setsOf(pod.egress), ...setsOf(pod.ingress)];
}

/** Creates or refills a named set (flushed first, so it holds exactly `set.spans`). */
export function renderAddressSet(table: string, set: AddressSet): string[] {
  const t = `inet ${table}`;
  return [
    `add set ${t} ${set.name} { type ${set.family === 4 ? "ipv4_addr" : "ipv6_addr"}; flags interval; }`,
    `flush set ${t} ${set.name}`,
    `add element ${t} ${set.name} { ${set.spans.map((s) => spanText(set.family, s)).join(", ")} }`,
  ];
}

/** One group as one rule: remote in the set (a named one from NAMED_SET_MIN spans on), not in except, then the protocol and its ports. */
export function groupRule(dir: Direction, g: RuleGroup, useSet: UseSet = always): string {
  const proto = g.family === 4 ? "ip" : "ip6";
  const field = dir === "egress" ? "daddr" : "saddr";
  const name = namedRemotes(g) ? addressSetName(g.family, g.remotes) : undefined;
  const remote = name !== undefined && useSet(name) ? `@${name}` : oneOrSet(g.remotes.map((s) => spanText(g.family, s)));
  const parts = [`${proto} ${field} ${remote}`];
  if (g.except.length > 0) parts.push(`${proto} ${field} != ${oneOrSet(g.except.map((s) => spanText(g.family, s)))}`);
  if (g.proto !== null) {
    const every = g.ports.length === 1 && g.ports[0]!.lo === ALL_PORTS.lo && g.ports[0]!.hi === ALL_PORTS.hi;
    parts.push(every ? `meta l4proto ${g.proto}` : `${g.proto} dport ${oneOrSet(g.ports.map(portText))}`);
  }
  return `${parts.join(" ")} accept`;
}

export function directionRules(dir: Direction, d: DirectionModel, useSet: UseSet = always): string[] {
  if (d.kind === "open") return ["accept"];
  return [...d.groups.map((g) => groupRule(dir, g, useSet)), "drop"];
}

/** Creates or rewrites one pod's three chains (flushed first, so the result is exactly this); the named sets they refer to must exist (renderAddressSet). */
export function renderPod(table: string, pod: PodModel, useSet: UseSet = always): string[] {
  const t = `inet ${table}`;
  const lines: string[] = [];
  for (const dir of ["egress", "ingress"] as const) {
    const chain = chainOf(dir, pod.hostVeth);
    lines.push(`add chain ${t} ${chain}`, `flush chain ${t} ${chain}`);
    for (const r of directionRules(dir, pod[dir], useSet)) lines.push(`add rule ${t} ${chain} ${r}`);
  }
  const id = idChainOf(pod.hostVeth);
  lines.push(`add chain ${t} ${id}`, `flush chain ${t} ${id}`);
  for (const piece of identityPieces(pod)) lines.push(`add rule ${t} ${id} return comment "${piece}"`);
  return lines;
}

/**
 * Strict's default deny without per-pod state: after the dispatch map, traffic from (egress)
 * or to (ingress) a veth whose name starts with one of `prefixes` is dropped. Only links of
 * kind veth match: the trunk's `vlan.eth.<id>` links and the node's ENIs never do, and
 * hostNetwork pods have no veth.
 */
export function catchAllRule(dir: Direction, prefix: string): string {
  const dev = dir === "egress" ? "iif" : "oif";
  return `meta ${dev}kind "veth" ${dev}name "${prefix}*" drop`;
}

/** The rules of base chain `dir`, in order; `denyPrefixes` (strict) adds the catch-all drops. */
export function baseChainRules(dir: Direction, denyPrefixes: readonly string[] = []): string[] {
  const remote = dir === "egress" ? "daddr" : "saddr";
  const dev = dir === "egress" ? "iifname" : "oifname";
  return [
    "ct direction reply accept",
    "ct state related accept",
    `icmpv6 type { ${ND_TYPES} } accept`,
    `ip ${remote} @node-v4 accept`,
    `ip6 ${remote} @node-v6 accept`,
    `${dev} vmap @${mapOf(dir)}`,
    ...denyPrefixes.map((p) => catchAllRule(dir, p)),
  ];
}

/**
 * The table's skeleton, rewritten whole on every apply (sets, maps, base chains flushed
 * and refilled in the same transaction): hand edits to them are repaired without a diff.
 */
export function renderSkeleton(table: string, node: Pick<NodeModel, "node4" | "node6">, denyPrefixes: readonly string[] = []): string[] {
  const t = `inet ${table}`;
  const lines = [
    `add table ${t}`,
    `add set ${t} node-v4 { type ipv4_addr; flags interval; }`,
    `add set ${t} node-v6 { type ipv6_addr; flags interval; }`,
    `add map ${t} egress-pods { type ifname : verdict; }`,
    `add map ${t} ingress-pods { type ifname : verdict; }`,
    ...(["egress", "ingress"] as const).map((d) => `add chain ${t} ${d} { type filter hook ${BASE_CHAINS[d].hook} priority ${BASE_CHAINS[d].priority}; policy accept; }`),
    `flush chain ${t} egress`,
    `flush chain ${t} ingress`,
    `flush set ${t} node-v4`,
    `flush set ${t} node-v6`,
    `flush map ${t} egress-pods`,
    `flush map ${t} ingress-pods`,
  ];
  if (node.node4.length) lines.push(`add element ${t} node-v4 { ${node.node4.map((s) => spanText(4, s)).join(", ")} }`);
  if (node.node6.length) lines.push(`add element ${t} node-v6 { ${node.node6.map((s) => spanText(6, s)).join(", ")} }`);
  for (const dir of ["egress", "ingress"] as const) {
    for (const r of baseChainRules(dir, denyPrefixes)) lines.push(`add rule ${t} ${dir} ${r}`);
  }
  return lines;
}

/** Pods' dispatch elements: each host veth with the directions jumping to its own chains. */
export type Dispatch = ReadonlyArray<{ veth: string; dirs: readonly Direction[] }>;

function dispatchLines(verb: "add" | "delete", table: string, entries: Dispatch): string[] {
  const t = `inet ${table}`;
  return (["egress", "ingress"] as const).flatMap((dir) => {
    const veths = entries.filter((e) => e.dirs.includes(dir)).map((e) => e.veth);
    if (veths.length === 0) return [];
    return [`${verb} element ${t} ${mapOf(dir)} { ${veths.map((v) => (verb === "add" ? `"${v}" : jump ${chainOf(dir, v)}` : `"${v}"`)).join(", ")} }`];
  });
}

/** The maps' elements: added after the pods' chains exist. */
export function renderDispatch(table: string, entries: Dispatch): string[] {
  return dispatchLines("add", table, entries);
}

/** Removes pods' map elements (before their chains can go: a jump holds a reference). */
export function renderUndispatch(table: string, entries: Dispatch): string[] {
  return dispatchLines("delete", table, entries);
}
