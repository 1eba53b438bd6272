/**
 * What an ENI's security groups allow, as data a packet filter can be generated from: the
 * union of the rules of all its groups, each referenced group resolved to the addresses of
 * every ENI in the VPC that has that group (primary, secondary, prefixes, IPv6). Security
 * groups are stateful: replies to allowed traffic are allowed in both directions, which the
 * generated filter expresses with connection tracking, not with rules. Pure; no I/O.
 */
import { contains, hostCidr, parseCidr } from "../../../shared/ip.ts";
import type { Ec2State, Eni, SgProtocol } from "./types.ts";

export interface FilterRule {
  protocol: SgProtocol;
  /** tcp/udp: the port range; icmp/icmpv6: type and code (-1 any); "-1": null. */
  fromPort: number | null;
  toPort: number | null;
  /** The peers as CIDRs (ingress: sources; egress: destinations). */
  cidrs: string[];
}

export interface EniFilter {
  eniId: string;
  /** The ENI's own addresses and prefixes, as CIDRs. */
  addresses: string[];
  ingress: FilterRule[];
  egress: FilterRule[];
}

export interface Packet {
  protocol: "tcp" | "udp" | "icmp" | "icmpv6";
  /** tcp/udp: the destination port; icmp: the type. */
  port: number;
  /** icmp: the code. */
  code?: number;
  /** The other end: the source of an ingress packet, the destination of an egress one. */
  peer: string;
}

export function eniAddresses(e: Eni): string[] {
  return [...(e.primaryIp ? [e.primaryIp] : []), ...e.secondaryIps, ...e.ipv6Addresses].map(hostCidr).concat(e.ipv4Prefixes, e.ipv6Prefixes);
}

/** The filter of one ENI; undefined for an unknown ENI. */
export function eniFilter(state: Ec2State, eniId: string): EniFilter | undefined {
  const eni = state.enis[eniId];
  if (!eni) return undefined;
  const members = (groupId: string) =>
    Object.values(state.enis)
      .filter((e) => e.vpcId === eni.vpcId && e.groups.includes(groupId))
      .flatMap(eniAddresses);
  const rulesOf = (direction: "ingress" | "egress"): FilterRule[] => {
    const byRange = new Map<string, FilterRule>();
    for (const groupId of eni.groups) {
      for (const r of state.securityGroups[groupId]?.[direction] ?? []) {
        const cidrs = "cidr" in r.peer ? [r.peer.cidr] : members(r.peer.groupId);
        const key = `${r.protocol}/${r.fromPort}/${r.toPort}`;
        const rule = byRange.get(key) ?? { protocol: r.protocol, fromPort: r.fromPort, toPort: r.toPort, cidrs: [] };
        for (const c of cidrs) if (!rule.cidrs.includes(c)) rule.cidrs.push(c);
        byRange.set(key, rule);
      }
    }
    return [...byRange.values()].filter((r) => r.cidrs.length > 0);
  };
  return { eniId, addresses: eniAddresses(eni), ingress: rulesOf("ingress"), egress: rulesOf("egress") };
}

function ruleMatches(r: FilterRule, p: Packet): boolean {
  if (r.protocol !== "-1" && r.protocol !== p.protocol) return false;
  if (r.protocol === "tcp" || r.protocol === "udp") {
    if (p.port < (r.fromPort ?? 0) || p.port > (r.toPort ?? 65535)) return false;
  } else if (r.protocol === "icmp" || r.protocol === "icmpv6") {
    if (r.fromPort !== null && r.fromPort !== -1 && r.fromPort !== p.port) return false;
    if (r.toPort !== null && r.toPort !== -1 && r.toPort !== p.code) return false;
  }
  return r.cidrs.some((c) => {
    const parsed = parseCidr(c, false);
    return parsed !== undefined && contains(parsed, p.peer);
  });
}

/** Whether a new connection is allowed (replies to an allowed one always are). */
export function permits(filter: EniFilter, direction: "ingress" | "egress", p: Packet): boolean {
  return filter[direction].some((r) => ruleMatches(r, p));
}
