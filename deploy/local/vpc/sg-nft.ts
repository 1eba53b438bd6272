// The router's security-group filter as one nftables table, generated from the simulated
// EC2's state for every ENI whose traffic crosses the router. Pure: text in, text out.
//
// Where a packet is judged: the router's `forward` hook only. Traffic to and from the router
// itself (the subnet gateway, proxy ARP, NDP) is not filtered, as AWS does not filter the
// VPC router, and neither is the management link (the simulated AWS APIs, the Kubernetes API,
// and IMDS, which nodes reach by DNAT to it; AWS never filters IMDS). The outside is no ENI:
// traffic from or to it is judged only on the VPC side.
//
// Stateful as AWS: `ct state established,related` is accepted first, in both directions, so
// a reply needs no rule and ICMP errors of a tracked flow pass. A new flow must pass the
// EGRESS rules of the ENI it leaves (by the router link it arrives on) and then the INGRESS
// rules of the ENI it enters (by the link it leaves on); an allowing rule `return`s, the end
// of an ENI's chain drops.
//
// Which ENI: an ordinary ENI owns its router link. A trunk's link also carries its branch
// ENIs. Arriving, a branch's frames are told apart by `ether saddr` (the router sees the
// Ethernet header of what it receives, no bridge needed): the node's VLAN stand-in sends with
// the BRANCH's MAC, one MAC per VLAN. Leaving, the Ethernet header is not built yet in
// `forward`, so a branch is told apart by destination address: the router routes exactly the
// branch's addresses to it (fabric-branch.ts), so `ip daddr` of those addresses on the trunk
// link is the branch. Everything else on the link is the trunk ENI's own.
//
// Peers: a CIDR rule matches the CIDR; a rule naming a group matches a named set of that
// group's members' addresses (every ENI of the VPC in the group, linked or not), one IPv4 and
// one IPv6 set per group, regenerated with the table when members change.
import { parseCidr } from "../../../shared/ip.ts";
import { eniAddresses } from "../sim-ec2/sg-filter.ts";
import type { Ec2State, SgRule } from "../sim-ec2/types.ts";
import type { FabricEni } from "./fabric-sync.ts";
import { MGMT_ROUTER_LINK, assertLinkName } from "./names.ts";

export const SG_TABLE = "vpc_sg";

const ENI_ID = /^eni-[0-9a-f]+$/;
const SG_ID = /^sg-[0-9a-f]+$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

const eniChain = (eniId: string, dir: "in" | "out") => `${dir}_${checkId(eniId, ENI_ID, "eniId").replace("-", "_")}`;
const groupSet = (groupId: string, family: 4 | 6) => `${checkId(groupId, SG_ID, "groupId").replace("-", "_")}_v${family}`;

function checkId(id: string, re: RegExp, field: string): string {
  if (!re.test(id)) throw new Error(`${field}: invalid ${JSON.stringify(id)}`);
  return id;
}

function familyOf(cidr: string): 4 | 6 {
  const c = parseCidr(cidr, false);
  if (!c) throw new Error(`cidr: invalid ${JSON.stringify(cidr)}`);
  return c.family;
}

/** The protocol part of a rule for one address family; null when it can never match there. */
export function protocolMatch(r: Pick<SgRule, "protocol" | "fromPort" | "toPort">, family: 4 | 6): string | null {
  switch (r.protocol) {
    case "-1":
      return "";
    case "tcp":
    case "udp": {
      const from = r.fromPort ?? 0;
      const to = r.toPort ?? 65535;
      if (from === 0 && to === 65535) return `meta l4proto ${r.protocol}`;
      return `${r.protocol} dport ${from === to ? from : `${from}-${to}`}`;
    }
    case "icmp":
    case "icmpv6": {
      // ICMP rules match IPv4 only, ICMPv6 rules IPv6 only (EC2 takes both; the other never matches).
      if ((r.protocol === "icmp") !== (family === 4)) return null;
      const type = r.fromPort ?? -1;
      const code = r.toPort ?? -1;
      if (type === -1) return `meta l4proto ${r.protocol === "icmp" ? "icmp" : "ipv6-icmp"}`;
      return `${r.protocol} type ${type}${code === -1 ? "" : ` ${r.protocol} code ${code}`}`;
    }
  }
}

/** One ENI's chain for one direction: what its groups allow `return`s, the rest drops. */
function ruleLines(state: Ec2State, eniId: string, dir: "ingress" | "egress", usedSets: Set<string>): string[] {
  const eni = state.enis[eniId];
  const peerField = dir === "ingress" ? "saddr" : "daddr";
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const groupId of eni?.groups ?? []) {
    for (const r of state.securityGroups[groupId]?.[dir] ?? []) {
      const families: Array<[4 | 6, string]> = [];
      if ("cidr" in r.peer) families.push([familyOf(r.peer.cidr), r.peer.cidr]);
      else {
        for (const f of [4, 6] as const) {
          const set = groupSet(r.peer.groupId, f);
          usedSets.add(set);
          families.push([f, `@${set}`]);
        }
      }
      for (const [family, peer] of families) {
        const proto = protocolMatch(r, family);
        if (proto === null) continue;
        const line = `${family === 4 ? "ip" : "ip6"} ${peerField} ${peer}${proto ? ` ${proto}` : ""} return`;
        if (!seen.has(line)) lines.push(line);
        seen.add(line);
      }
    }
  }
  lines.push(`counter drop comment "${dir} of ${eniId}"`);
  return lines;
}

/** Every address of every ENI of the group's VPC that has the group. */
function members(state: Ec2State, groupId: string, family: 4 | 6): string[] {
  const vpcId = state.securityGroups[groupId]?.vpcId;
  return Object.values(state.enis)
    .filter((e) => e.vpcId === vpcId && e.groups.includes(groupId))
    .flatMap(eniAddresses)
    .filter((c) => familyOf(c) === family);
}

const chain = (name: string, body: string[]) => [`  chain ${name} {`, ...body.map((l) => `    ${l}`), "  }"];

/** The table's whole content; `nft -f` of it replaces the previous one in one transaction. */
export function renderSgTable(state: Ec2State, enis: readonly FabricEni[]): string {
  const byLink = new Map<string, { own?: FabricEni; branches: FabricEni[] }>();
  for (const e of enis) {
    if (!state.enis[e.eniId]) continue;
    assertLinkName(e.link, "link");
    const slot = byLink.get(e.link) ?? { branches: [] };
    if (e.branchMac !== undefined) {
      if (!MAC.test(e.branchMac)) throw new Error(`branchMac: invalid ${JSON.stringify(e.branchMac)}`);
      slot.branches.push(e);
    } else slot.own = e;
    byLink.set(e.link, slot);
  }
  const usedSets = new Set<string>();
  const body: string[] = [];
  const fromMap: string[] = [];
  const toMap: string[] = [];
  let n = 0;
  for (const [link, slot] of [...byLink].sort(([a], [b]) => a.localeCompare(b))) {
    const id = n++;
    fromMap.push(`"${link}" : jump from_${id}`);
    toMap.push(`"${link}" : jump to_${id}`);
    const from = slot.branches.map((b) => `ether saddr ${b.branchMac} goto ${eniChain(b.eniId, "out")}`);
    const to = slot.branches.flatMap((b) => (b.branchCidrs ?? []).map((c) => `${familyOf(c) === 4 ? "ip" : "ip6"} daddr ${c} goto ${eniChain(b.eniId, "in")}`));
    // A trunk whose ENI is gone (or a link of no known ENI) lets its own traffic through.
    if (slot.own) {
      from.push(`goto ${eniChain(slot.own.eniId, "out")}`);
      to.push(`goto ${eniChain(slot.own.eniId, "in")}`);
    }
    body.push(...chain(`from_${id}`, [`# ${link}: leaving ${[...slot.branches, ...(slot.own ? [slot.own] : [])].map((e) => e.eniId).join(", ")}`, ...from]));
    body.push(...chain(`to_${id}`, [`# ${link}: entering`, ...to]));
    for (const e of [...slot.branches, ...(slot.own ? [slot.own] : [])]) {
      body.push(...chain(eniChain(e.eniId, "out"), ruleLines(state, e.eniId, "egress", usedSets)));
      body.push(...chain(eniChain(e.eniId, "in"), ruleLines(state, e.eniId, "ingress", usedSets)));
    }
  }
  const sets: string[] = [];
  for (const set of [...usedSets].sort()) {
    const [, hex, fam] = /^sg_([0-9a-f]+)_v([46])$/.exec(set)!;
    const family = Number(fam) as 4 | 6;
    const elements = members(state, `sg-${hex}`, family);
    sets.push(`  set ${set} {`, `    type ${family === 4 ? "ipv4_addr" : "ipv6_addr"}; flags interval; auto-merge;`, ...(elements.length ? [`    elements = { ${elements.join(", ")} }`] : []), "  }");
  }
  const forward = [
    "type filter hook forward priority filter; policy accept;",
    "ct state established,related accept",
    `iifname "${MGMT_ROUTER_LINK}" accept`,
    `oifname "${MGMT_ROUTER_LINK}" accept`,
    ...(fromMap.length ? [`iifname vmap { ${fromMap.join(", ")} }`, `oifname vmap { ${toMap.join(", ")} }`] : []),
  ];
  return [`table inet ${SG_TABLE}`, `delete table inet ${SG_TABLE}`, `table inet ${SG_TABLE} {`, ...sets, ...chain("forward", forward), ...body, "}", ""].join("\n");
}
