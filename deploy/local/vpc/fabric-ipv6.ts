// The IPv6 half of the VPC fabric (fabric.ts), used when the VPC has an IPv6 block
// (`up --ipv6`). The router routes every assigned IPv6 address and /80 prefix to the ENI that
// owns it (fabric.ts routeToEni: via the ENI's link-local address, from its MAC); this file adds
// what surrounds that:
//
//   - the outside namespace gets OUTSIDE_IPV6 on the same veth as its IPv4 address, and the
//     router's IPv6 default route points there (IPv4 keeps working beside it: nodes stay
//     dual-stack, for IPv4 egress of IPv6 pods);
//   - each VPC IPv6 block is `unreachable` in the router underneath the per-ENI routes, so an
//     unassigned address is refused at once (no proxy NDP is needed: nodes send everything to
//     the router);
//   - every ENI link of the router holds ROUTER_LINK_LOCAL, the nodes' IPv6 gateway (what the
//     VPC router's advertisements give an EC2 instance); device 0 of a node gets the
//     instance's primary IPv6 as a /128 and a default route via that gateway, as DHCPv6 and
//     the router advertisement do on EC2.
//
// Duplicate address detection is off in the router and the nodes (accept_dad=0) so addresses
// are usable at once; every address here is unique by construction.
import { parseCidr, parseIp } from "../../../shared/ip.ts";
import { ip } from "./command.ts";
import { OUTSIDE_LINK, OUTSIDE_ROUTER_LINK } from "./names.ts";

export const OUTSIDE_ROUTER_IPV6 = "2001:db8:ffff::1";
export const OUTSIDE_IPV6 = "2001:db8:ffff::10";
export const OUTSIDE_IPV6_PREFIX_LEN = 64;
/** The VPC router's address on every ENI link, the nodes' IPv6 default gateway: fe80:ec2::1, where an AWS subnet's IPv6 gateway answers. */
export const ROUTER_LINK_LOCAL = "fe80:ec2::1";

/** Sysctls of a namespace created for an IPv6 VPC (router or node), set before its links exist. */
export const IPV6_NAMESPACE_SYSCTLS = {
  "net.ipv6.conf.all.forwarding": 1,
  "net.ipv6.conf.all.accept_dad": 0,
  "net.ipv6.conf.default.accept_dad": 0,
} as const;

export function checkIpv6(value: string, field: string): string {
  if (parseIp(value)?.family !== 6) throw new Error(`${field}: not an IPv6 address: ${JSON.stringify(value)}`);
  return value;
}

export function checkIpv6Cidr(value: string, field: string): string {
  if (parseCidr(value, false)?.family !== 6) throw new Error(`${field}: not an IPv6 CIDR: ${JSON.stringify(value)}`);
  return value;
}

/** Outside's IPv6 address and the router's IPv6 default route; each VPC block unreachable underneath. */
export async function createIpv6Edge(routerNs: string, outsideNs: string, vpcIpv6Cidrs: readonly string[]): Promise<void> {
  for (const c of vpcIpv6Cidrs) checkIpv6Cidr(c, "vpcIpv6Cidrs");
  await ip(routerNs, "-6", "addr", "add", `${OUTSIDE_ROUTER_IPV6}/${OUTSIDE_IPV6_PREFIX_LEN}`, "dev", OUTSIDE_ROUTER_LINK, "nodad");
  await ip(outsideNs, "-6", "addr", "add", `${OUTSIDE_IPV6}/${OUTSIDE_IPV6_PREFIX_LEN}`, "dev", OUTSIDE_LINK, "nodad");
  await ip(routerNs, "-6", "route", "replace", "default", "via", OUTSIDE_IPV6, "dev", OUTSIDE_ROUTER_LINK);
  for (const c of vpcIpv6Cidrs) {
    await ip(routerNs, "-6", "route", "replace", "unreachable", c);
    await ip(outsideNs, "-6", "route", "replace", c, "via", OUTSIDE_ROUTER_IPV6, "dev", OUTSIDE_LINK);
  }
}

/** The router end of an ENI link answers as the gateway; device 0 of a node gets its primary IPv6. */
export async function configureEniIpv6(p: { routerNs: string; routerLink: string; nodeNs: string; nodeLink: string; primaryIpv6?: string }): Promise<void> {
  await ip(p.routerNs, "-6", "addr", "add", `${ROUTER_LINK_LOCAL}/64`, "dev", p.routerLink, "nodad");
  if (p.primaryIpv6 === undefined) return;
  checkIpv6(p.primaryIpv6, "primaryIpv6");
  await ip(p.nodeNs, "-6", "addr", "add", `${p.primaryIpv6}/128`, "dev", p.nodeLink, "nodad");
  await ip(p.nodeNs, "-6", "route", "replace", "default", "via", ROUTER_LINK_LOCAL, "dev", p.nodeLink);
}
