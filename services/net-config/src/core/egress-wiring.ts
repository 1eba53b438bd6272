/**
 * A pod's egress interface (upstream's egress-cni plugin), planned as `ip -batch` lines and
 * iptables-restore text. Pure: validated request in, commands out.
 *
 * IPv4 egress (IPv6 pods): in the pod `v4if0` with <addr>/22, routes `default via
 * 169.254.172.1`, `169.254.172.1 dev v4if0 scope link src <addr>`, `169.254.172.0/22 via
 * 169.254.172.1 src <addr>` (the kernel's subnet route removed); on the node the host veth
 * `veth<8 hex>` carries `169.254.172.1/32 scope link` and the route `<addr>/32 scope link`.
 * IPv6 egress (IPv4 pods): IPv6 turned off on the pod's main interface; `v6if0` with
 * <addr>/118 and `default via <host veth's link-local>`; on the node `<addr>/128 dev veth…`.
 * Both: nat chain `CNI-E4-…`/`CNI-E6-…` (ACCEPT multicast, SNAT to the node's address), and
 * `POSTROUTING -s <addr> -j <chain>`, each rule with the comment `name: "<net>" id: "<cid>"`.
 */
import { egressChainName, egressComment, egressRange, type EgressFamily, type EgressRange } from "../../../../shared/egress.ts";
import { canonicalIp, contains, nth, parseCidr, parseIp } from "../../../../shared/ip.ts";
import { invalid } from "./errors.ts";
import type { RandomizeSnat } from "./settings.ts";
import { checkIfName, checkIp, checkMtu, checkNetnsPath } from "./validation.ts";

export interface EgressRequest {
  /** Network name (the conflist's) and container id: the chain and comment derive from them. */
  network: string;
  containerId: string;
  /** The pod's main interface (IPv6 egress turns IPv6 off on it, as upstream does). */
  ifName: string;
  netns: string;
  /** The egress address, inside the range of its family. */
  address: string;
  /** The node's address the egress traffic is SNATed to. */
  nodeIp: string;
  mtu: number;
  randomizeSnat: RandomizeSnat;
}

export interface EgressLayout {
  family: EgressFamily;
  range: EgressRange;
  podIf: string;
  address: string;
  prefix: number;
  /** The range's first address: the gateway the IPv4 side routes through. */
  gateway: string;
  chain: string;
  comment: string;
  nodeIp: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$/;

/** The layout of a request; without `nodeIp` (DEL) the layout's `nodeIp` is "" and only names are needed. */
export function egressLayout(req: Omit<EgressRequest, "netns" | "mtu" | "randomizeSnat" | "ifName" | "nodeIp"> & { ifName?: string; nodeIp?: string | undefined }): EgressLayout {
  if (!NAME.test(req.network)) throw invalid("network", `${JSON.stringify(req.network)} must be letters, digits, '_', '.', '-'`);
  if (!NAME.test(req.containerId)) throw invalid("containerId", `${JSON.stringify(req.containerId)} must be letters, digits, '_', '.', '-'`);
  if (req.ifName !== undefined) checkIfName(req.ifName, "ifName");
  checkIp(req.address, "address");
  if (req.nodeIp !== undefined) checkIp(req.nodeIp, "nodeIp");
  const family = parseIp(req.address)!.family;
  const range = egressRange(family);
  const subnet = parseCidr(range.subnet)!;
  if (!contains(subnet, req.address)) throw invalid("address", `${req.address} is not in the egress range ${range.subnet}`);
  if (req.nodeIp !== undefined && parseIp(req.nodeIp)!.family !== family) throw invalid("nodeIp", `${req.nodeIp} is not an IPv${family} address like the egress address ${req.address}`);
  return {
    family,
    range,
    podIf: range.ifName,
    address: canonicalIp(req.address)!,
    prefix: subnet.prefix,
    gateway: nth(subnet, 1),
    chain: egressChainName(req.network, req.containerId, family),
    comment: egressComment(req.network, req.containerId),
    nodeIp: req.nodeIp === undefined ? "" : canonicalIp(req.nodeIp)!,
  };
}

const HOST_VETH = /^veth[0-9a-f]{8}$/;

/** The host end's name, as the CNI plugins' SetupVeth picks it: `veth` and 8 random hex digits. */
export function checkEgressHostVeth(name: string, field = "hostVeth"): string {
  if (!HOST_VETH.test(name)) throw invalid(field, `${JSON.stringify(name)} is not an egress host veth (veth + 8 hex digits)`);
  return name;
}

/** `ip -batch` lines run in the pod: the pair (host end sent to `nodeNsPath`), the address and routes. */
export function podBatch(l: EgressLayout, hostVeth: string, mtu: number, nodeNsPath: string): string[] {
  checkEgressHostVeth(hostVeth);
  checkMtu(mtu, "mtu");
  checkNetnsPath(nodeNsPath, "nodeNetns");
  const lines = [
    `link add ${l.podIf} mtu ${mtu} type veth peer name ${hostVeth} mtu ${mtu} netns ${nodeNsPath}`,
    `link set ${l.podIf} up`,
    `addr add ${l.address}/${l.prefix} dev ${l.podIf}${l.family === 6 ? " nodad" : ""}`,
  ];
  if (l.family === 4) {
    lines.push(
      `route replace 0.0.0.0/0 via ${l.gateway} dev ${l.podIf}`,
      `route del ${l.range.subnet} dev ${l.podIf}`,
      `route add ${l.gateway}/32 dev ${l.podIf} scope link src ${l.address}`,
      `route add ${l.range.subnet} via ${l.gateway} dev ${l.podIf} src ${l.address}`,
    );
  }
  return lines;
}

/** `ip -batch` lines run on the node: the host end up, its gateway address (IPv4), the route back to the pod. */
export function nodeBatch(l: EgressLayout, hostVeth: string): string[] {
  checkEgressHostVeth(hostVeth);
  if (l.family === 4) {
    return [`link set ${hostVeth} up`, `addr add ${l.gateway}/32 dev ${hostVeth} scope link`, `route add ${l.address}/32 dev ${hostVeth} scope link`];
  }
  return [`link set ${hostVeth} up`, `route add ${l.address}/128 dev ${hostVeth}`];
}

/** IPv6 egress: the pod's default route through the host end's link-local address. */
export function podV6DefaultRoute(l: EgressLayout, hostLinkLocal: string): string {
  const ll = parseIp(hostLinkLocal);
  if (!ll || ll.family !== 6 || !hostLinkLocal.toLowerCase().startsWith("fe80:")) throw invalid("hostLinkLocal", `${hostLinkLocal} is not an IPv6 link-local address`);
  return `route replace ::/0 via ${canonicalIp(hostLinkLocal)} dev ${l.podIf}`;
}

function quoted(comment: string): string {
  return `"${comment.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** The chain's rules and the POSTROUTING jump, as iptables-save prints them. */
export function snatRules(l: EgressLayout, randomizeSnat: RandomizeSnat, randomFully: boolean): { chain: string[]; jump: string } {
  const c = `-m comment --comment ${quoted(l.comment)}`;
  const random = randomizeSnat === "none" ? "" : randomizeSnat === "hashrandom" || !randomFully ? " --random" : " --random-fully";
  return {
    chain: [`-A ${l.chain} -d ${l.range.multicast} ${c} -j ACCEPT`, `-A ${l.chain} ${c} -j SNAT --to-source ${l.nodeIp}${random}`],
    jump: `-A POSTROUTING -s ${l.address}/${l.family === 4 ? 32 : 128} ${c} -j ${l.chain}`,
  };
}

/** The nat table's lines of `save` (iptables-save output) that jump to `chain` from POSTROUTING. */
function jumpsTo(save: string, chain: string): string[] {
  return natLines(save).filter((x) => x.startsWith("-A POSTROUTING ") && x.endsWith(` -j ${chain}`));
}

function natLines(save: string): string[] {
  return tableLines(save, "nat");
}

function tableLines(save: string, table: string): string[] {
  const out: string[] = [];
  let inTable = false;
  for (const line of save.split("\n")) {
    if (line.startsWith("*")) inTable = line === `*${table}`;
    else if (inTable) out.push(line);
  }
  return out;
}

/** Upstream's comment on the rule refusing new connections to the egress range from outside the pod. */
export function blockComment(family: EgressFamily): string {
  return `Block Node Local Pod access via IPv${family}`;
}

/**
 * The filter FORWARD rule upstream's ipamd inserts first (IPv6 mode for the IPv4 range,
 * IPv4 mode with IPv6 egress for the IPv6 range): nothing may open a connection to a pod's
 * egress address. iptables-restore text inserting it, or "" when `save` has it.
 */
export function blockRuleRestore(l: EgressLayout, save: string): string {
  const comment = quoted(blockComment(l.family));
  const present = tableLines(save, "filter").some((x) => x.startsWith(`-A FORWARD -d ${l.range.subnet.replace("fd00::ac:00", "fd00::ac:0")} `) && x.includes(comment) && x.includes("-j REJECT"));
  if (present) return "";
  return ["*filter", `-I FORWARD 1 -d ${l.range.subnet} -m conntrack --ctstate NEW -m comment --comment ${comment} -j REJECT`, "COMMIT", ""].join("\n");
}

/** iptables-restore --noflush text that makes the pod's chain exactly right and jumps to it once. */
export function snatRestore(l: EgressLayout, save: string, randomizeSnat: RandomizeSnat, randomFully: boolean): string {
  const r = snatRules(l, randomizeSnat, randomFully);
  const lines = ["*nat", `:${l.chain} - [0:0]`, ...r.chain];
  const jumps = jumpsTo(save, l.chain);
  // A jump with other rule text (another address, an older comment) is replaced.
  for (const j of jumps) if (j !== r.jump) lines.push(j.replace(/^-A /, "-D "));
  if (!jumps.includes(r.jump)) lines.push(r.jump);
  return [...lines, "COMMIT", ""].join("\n");
}

/** Text removing every POSTROUTING jump to the chain and the chain itself; undefined when there is nothing. */
export function snatRemoval(chain: string, save: string): string | undefined {
  const exists = natLines(save).some((x) => x.startsWith(`:${chain} `));
  const jumps = jumpsTo(save, chain);
  if (!exists && jumps.length === 0) return undefined;
  const lines = ["*nat", ...jumps.map((j) => j.replace(/^-A /, "-D "))];
  if (exists) lines.push(`:${chain} - [0:0]`, `-X ${chain}`);
  return [...lines, "COMMIT", ""].join("\n");
}

/** CHECK of the SNAT side: what `save` lacks or holds differently. */
export function snatProblems(l: EgressLayout, save: string, randomizeSnat: RandomizeSnat, randomFully: boolean): string[] {
  const r = snatRules(l, randomizeSnat, randomFully);
  const nat = natLines(save);
  const problems: string[] = [];
  if (!nat.some((x) => x.startsWith(`:${l.chain} `))) problems.push(`nat chain ${l.chain} is missing`);
  const inChain = nat.filter((x) => x.startsWith(`-A ${l.chain} `));
  if (inChain.join("\n") !== r.chain.join("\n")) problems.push(`nat chain ${l.chain} holds ${JSON.stringify(inChain)}, expected ${JSON.stringify(r.chain)}`);
  if (!nat.includes(r.jump)) problems.push(`rule "${r.jump}" is missing`);
  return problems;
}
