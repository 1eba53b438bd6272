// Branch ENIs (security groups for pods) in the VPC fabric. On EC2 a branch ENI travels over
// its trunk ENI as an 802.1Q VLAN; this kernel has no 802.1Q, so the node's `vlan.eth.<id>`
// is a macvlan of the trunk link carrying the BRANCH's MAC, untagged (net-config's stand-in).
// The branch's MAC identifies the branch — and so its VLAN — one to one: that is what keeps
// the VLAN visible to the router.
//
// The router therefore routes every address of a branch ENI to the link of its trunk, with a
// permanent neighbour entry for the branch's MAC: frames for a branch leave the router with
// the branch's MAC as destination, so only the node's branch stand-in takes them.
//
// A trunk link has no reverse-path filter (rp_filter=0), unlike other ENI links: the node's
// `vlan.eth.<id>` has no IPv4 address of its own (as upstream wires it), so its ARP request
// for the subnet gateway names the node's primary address as sender, which the router routes
// to device 0's link; a strict reverse-path check drops that request and the branch pod never
// reaches its gateway. Sources on a trunk link are not checked against the ENIs that own them
// (docs/DESIGN-NOTES.md); its traffic is still judged by the groups of the branch (by MAC) or
// the trunk.
import { parseCidr } from "../../../shared/ip.ts";
import { CommandError, ip, ipTolerant, sysctlIn } from "./command.ts";
import { linkLocalFromMac } from "./fabric.ts";
import { assertLinkName } from "./names.ts";

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const GONE = /No such process|Cannot find device|does not exist|No such file|not found|Nexthop has invalid gateway/i;

/** A branch ENI as the router carries it: its trunk's router-side link, its MAC, its addresses. */
export interface BranchRoute {
  branchEniId: string;
  trunkLink: string;
  mac: string;
  /** The branch's primary IPv4 ("" when it has none); prefixes are routed via it. */
  primaryIp: string;
  /** Every address and prefix of the branch as CIDRs (a host is /32 or /128). */
  cidrs: string[];
  vlanId: number;
}

function checked(b: BranchRoute): BranchRoute {
  assertLinkName(b.trunkLink, "trunkLink");
  if (!MAC.test(b.mac)) throw new Error(`mac: invalid ${JSON.stringify(b.mac)}`);
  for (const c of b.cidrs) if (!parseCidr(c, false)) throw new Error(`cidrs: invalid ${JSON.stringify(c)}`);
  return b;
}

/** Routes the branch's addresses to its trunk's link (replace: only there). */
export async function routeBranch(routerNs: string, branch: BranchRoute): Promise<void> {
  const b = checked(branch);
  await sysctlIn(routerNs, { [`net.ipv4.conf.${b.trunkLink}.rp_filter`]: 0 });
  for (const cidr of b.cidrs) {
    const c = parseCidr(cidr, false)!;
    const host = cidr.slice(0, cidr.indexOf("/"));
    if (c.family === 4 && c.prefix === 32) {
      await ip(routerNs, "neigh", "replace", host, "lladdr", b.mac, "nud", "permanent", "dev", b.trunkLink);
      await ip(routerNs, "route", "replace", cidr, "dev", b.trunkLink);
    } else if (c.family === 4) {
      if (b.primaryIp === "") throw new CommandError(["route", cidr], 1, `branch ${b.branchEniId} has a prefix but no primary IPv4 to route it via`);
      await ip(routerNs, "route", "replace", cidr, "via", b.primaryIp, "dev", b.trunkLink, "onlink");
    } else if (c.prefix === 128) {
      await ip(routerNs, "-6", "neigh", "replace", host, "lladdr", b.mac, "nud", "permanent", "dev", b.trunkLink);
      await ip(routerNs, "-6", "route", "replace", cidr, "dev", b.trunkLink);
    } else {
      const via = linkLocalFromMac(b.mac);
      await ip(routerNs, "-6", "neigh", "replace", via, "lladdr", b.mac, "nud", "permanent", "dev", b.trunkLink);
      await ip(routerNs, "-6", "route", "replace", cidr, "via", via, "dev", b.trunkLink);
    }
  }
}

/** Removes what routeBranch made; what is gone already (the trunk link deleted) is fine. */
export async function unrouteBranch(routerNs: string, branch: BranchRoute): Promise<void> {
  const b = checked(branch);
  for (const cidr of b.cidrs) {
    const c = parseCidr(cidr, false)!;
    const host = cidr.slice(0, cidr.indexOf("/"));
    const family = c.family === 6 ? ["-6"] : [];
    await ipTolerant(routerNs, GONE, ...family, "route", "del", cidr, "dev", b.trunkLink);
    if (c.prefix === 32 || c.prefix === 128) await ipTolerant(routerNs, GONE, ...family, "neigh", "del", host, "dev", b.trunkLink);
  }
  if (b.cidrs.some((c) => parseCidr(c, false)?.family === 6)) await ipTolerant(routerNs, GONE, "-6", "neigh", "del", linkLocalFromMac(b.mac), "dev", b.trunkLink);
}
