// The VPC as network namespaces: a router namespace that plays the VPC fabric, one namespace
// per node (an EC2 instance), an "outside" namespace beyond the VPC edge, and a management
// veth from the root namespace (where the simulated cloud listens) to the router.
//
//   root ns ──<p>-mgmt/mgmt── <p>-vpc (router) ──outside/eth0── <p>-out (203.0.113.10)
//                                  │ n<i>-eth<d> ── eth<d>  (one veth per attached ENI)
//                                <p>-n<i> (node i)
//
// The router owns every routing decision of the VPC: each assigned address or prefix is
// routed to the ENI that owns it (via the ENI's primary IP, whose neighbour entry is
// permanent, so nothing depends on the node configuring anything); every VPC CIDR has an
// `unreachable` route underneath, so an unassigned address goes nowhere; rp_filter=1 on the
// ENI-facing links drops traffic whose source the VPC did not assign to that ENI; proxy ARP
// answers a node's ARP for any address of its subnet that the VPC routes elsewhere.
import { ip, ipTolerant, inNetns, runCommand, sysctlIn, listNetns, netnsPids } from "./command.ts";
import {
  MGMT_ROUTER_LINK,
  OUTSIDE_LINK,
  OUTSIDE_ROUTER_LINK,
  assertLinkName,
  belongsToStack,
  nodeEniLink,
  nodeNetns,
  routerEniLink,
  routerNodeLinkPattern,
  type StackNames,
} from "./names.ts";
import { configureEniIpv6, createIpv6Edge, IPV6_NAMESPACE_SYSCTLS, checkIpv6Cidr } from "./fabric-ipv6.ts";
import { routeBranch, unrouteBranch, type BranchRoute } from "./fabric-branch.ts";

export const IMDS_ADDRESS = "169.254.169.254";
/** Router-side dummy link where traffic to unassigned VPC addresses ends (rejected). */
export const VOID_LINK = "void";
export const OUTSIDE_ROUTER_IP = "203.0.113.1";
export const OUTSIDE_IP = "203.0.113.10";
export const OUTSIDE_PREFIX_LEN = 24;

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const IPV4_CIDR = /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/;
const IPV6_CIDR = /^[0-9a-f:]+\/\d{1,3}$/i;
const NO_SUCH = /No such process|Cannot find device|does not exist|No such file|not found/i;

/** The IPv6 link-local address a link with this MAC gets (modified EUI-64). */
export function linkLocalFromMac(mac: string): string {
  const b = mac.split(":").map((h) => Number.parseInt(h, 16));
  if (b.length !== 6 || b.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`mac: invalid ${JSON.stringify(mac)}`);
  const [b0, b1, b2, b3, b4, b5] = b as [number, number, number, number, number, number];
  const group = (hi: number, lo: number) => ((hi << 8) | lo).toString(16);
  return `fe80::${group(b0 ^ 0x02, b1)}:${group(b2, 0xff)}:${group(0xfe, b3)}:${group(b4, b5)}`;
}

export interface EniLinkSpec {
  nodeIndex: number;
  deviceIndex: number;
  /** Network card (0 when absent): each card numbers its devices from 0, so the link names carry it. */
  networkCard?: number;
  mac: string;
  primaryIp: string;
  /** Only for device 0 (what DHCP does on EC2): address/mask and default route on the node side; in an IPv6 VPC also the instance's primary IPv6 (fabric-ipv6.ts). */
  configure?: { prefixLen: number; gateway: string; primaryIpv6?: string };
}

export interface EniLinkRef {
  nodeIndex: number;
  deviceIndex: number;
  networkCard?: number;
  primaryIp: string;
  mac: string;
}

function checkIpv4(value: string, field: string): string {
  const m = IPV4.exec(value);
  if (!m || m.slice(1).some((o) => Number(o) > 255)) throw new Error(`${field}: not an IPv4 address: ${JSON.stringify(value)}`);
  return value;
}

function checkCidr(value: string, field: string): string {
  if (!IPV4_CIDR.test(value)) throw new Error(`${field}: not an IPv4 CIDR: ${JSON.stringify(value)}`);
  return value;
}

export class VpcFabric {
  constructor(
    readonly names: StackNames,
    readonly vpcCidrs: readonly string[],
    /** Non-empty: the VPC is dual-stack (fabric-ipv6.ts). */
    readonly vpcIpv6Cidrs: readonly string[] = [],
  ) {
    for (const c of vpcCidrs) checkCidr(c, "vpcCidrs");
    for (const c of vpcIpv6Cidrs) checkIpv6Cidr(c, "vpcIpv6Cidrs");
  }

  get ipv6(): boolean {
    return this.vpcIpv6Cidrs.length > 0;
  }

  get router(): string {
    return this.names.routerNs;
  }

  nodeNs(nodeIndex: number): string {
    return nodeNetns(this.names, nodeIndex);
  }

  /** Throws LOCAL_STACK_EXISTS when a namespace or the mgmt link of this stack exists. */
  async assertAbsent(): Promise<void> {
    const existing = (await listNetns()).filter((n) => belongsToStack(this.names.prefix, n));
    const link = await runCommand(["ip", "link", "show", this.names.mgmtRootLink]);
    if (existing.length > 0 || link.exitCode === 0) {
      throw Object.assign(new Error(`stack ${this.names.prefix} already exists (${[...existing, ...(link.exitCode === 0 ? [this.names.mgmtRootLink] : [])].join(", ")}); another \`up\` runs for this DIR, or run \`down\` first`), { code: "LOCAL_STACK_EXISTS" });
    }
  }

  /** Router, outside and management link. Fails (changing nothing) if the stack already exists. */
  async create(): Promise<void> {
    const { routerNs, outsideNs, mgmtRootLink, mgmt } = this.names;
    await this.assertAbsent();
    await ip(undefined, "netns", "add", routerNs);
    await ip(undefined, "netns", "add", outsideNs);
    await ip(routerNs, "link", "set", "lo", "up");
    await ip(outsideNs, "link", "set", "lo", "up");
    // Links created after this inherit `default`: the ENI-facing ones get strict reverse-path
    // filtering (anti-spoofing) and proxy ARP. mgmt and outside are reset below.
    await sysctlIn(routerNs, {
      "net.ipv4.ip_forward": 1,
      "net.ipv4.conf.all.rp_filter": 0,
      "net.ipv4.conf.default.rp_filter": 1,
      "net.ipv4.conf.default.proxy_arp": 1,
      "net.ipv4.conf.default.send_redirects": 0,
      "net.ipv4.conf.all.send_redirects": 0,
      "net.ipv6.conf.all.forwarding": 1,
      ...(this.ipv6 ? IPV6_NAMESPACE_SYSCTLS : {}),
    });
    // Management veth: root side holds the address the simulated cloud binds to.
    await ip(undefined, "link", "add", mgmtRootLink, "type", "veth", "peer", "name", MGMT_ROUTER_LINK, "netns", routerNs);
    await ip(undefined, "addr", "add", `${mgmt.rootIp}/30`, "dev", mgmtRootLink);
    await ip(undefined, "link", "set", mgmtRootLink, "up");
    await ip(routerNs, "addr", "add", `${mgmt.routerIp}/30`, "dev", MGMT_ROUTER_LINK);
    await ip(routerNs, "link", "set", MGMT_ROUTER_LINK, "up");
    // Outside: beyond the VPC edge, the router's default route.
    await ip(routerNs, "link", "add", OUTSIDE_ROUTER_LINK, "type", "veth", "peer", "name", OUTSIDE_LINK, "netns", outsideNs);
    await ip(routerNs, "addr", "add", `${OUTSIDE_ROUTER_IP}/${OUTSIDE_PREFIX_LEN}`, "dev", OUTSIDE_ROUTER_LINK);
    await ip(routerNs, "link", "set", OUTSIDE_ROUTER_LINK, "up");
    await ip(outsideNs, "addr", "add", `${OUTSIDE_IP}/${OUTSIDE_PREFIX_LEN}`, "dev", OUTSIDE_LINK);
    await ip(outsideNs, "link", "set", OUTSIDE_LINK, "up");
    await ip(routerNs, "route", "add", "default", "via", OUTSIDE_IP, "dev", OUTSIDE_ROUTER_LINK);
    if (this.ipv6) await createIpv6Edge(routerNs, outsideNs, this.vpcIpv6Cidrs);
    await sysctlIn(routerNs, {
      [`net.ipv4.conf.${MGMT_ROUTER_LINK}.rp_filter`]: 0,
      [`net.ipv4.conf.${MGMT_ROUTER_LINK}.proxy_arp`]: 0,
      [`net.ipv4.conf.${OUTSIDE_ROUTER_LINK}.rp_filter`]: 0,
      [`net.ipv4.conf.${OUTSIDE_ROUTER_LINK}.proxy_arp`]: 0,
    });
    // The VPC's local route ends in a dummy link: a unicast route, so proxy ARP answers for
    // every address of the subnet (as the VPC answers ARP itself, assigned or not), and what
    // reaches it is rejected at once (host unreachable) instead of waiting for ARP to fail.
    // (A veth pair with both ends in the router: the dummy module may not be loadable.)
    await ip(routerNs, "link", "add", VOID_LINK, "type", "veth", "peer", "name", `${VOID_LINK}-peer`);
    await ip(routerNs, "link", "set", `${VOID_LINK}-peer`, "up");
    await ip(routerNs, "link", "set", VOID_LINK, "up");
    for (const cidr of this.vpcCidrs) await this.addVpcCidr(cidr);
    // Node traffic to the simulated cloud leaves the router masqueraded, so the root
    // namespace needs no route into the VPC.
    await this.iptablesRestore([
      "*nat",
      `-A POSTROUTING -o ${MGMT_ROUTER_LINK} -j MASQUERADE`,
      "COMMIT",
      "*filter",
      `-A FORWARD -o ${VOID_LINK} -j REJECT --reject-with icmp-host-unreachable`,
      `-A OUTPUT -o ${VOID_LINK} -j DROP`,
      "COMMIT",
    ]);
  }

  /** The VPC's "local" route: an address of the VPC that no ENI owns goes to the void link. */
  async addVpcCidr(cidr: string): Promise<void> {
    checkCidr(cidr, "cidr");
    await ip(this.router, "route", "replace", cidr, "dev", VOID_LINK);
    await ip(this.names.outsideNs, "route", "replace", cidr, "via", OUTSIDE_ROUTER_IP, "dev", OUTSIDE_LINK);
  }

  /** The subnet's gateway (.1): a /32 on the router's lo, answered by ARP on every ENI link. */
  async addSubnetGateway(gateway: string): Promise<void> {
    checkIpv4(gateway, "gateway");
    await ipTolerant(this.router, /File exists/, "addr", "add", `${gateway}/32`, "dev", "lo");
  }

  async addNode(nodeIndex: number): Promise<string> {
    const ns = this.nodeNs(nodeIndex);
    await ip(undefined, "netns", "add", ns);
    await ip(ns, "link", "set", "lo", "up");
    // A Kubernetes node forwards (the EKS AMI and kubelet set it); pods are routed through it.
    await sysctlIn(ns, { "net.ipv4.ip_forward": 1, "net.ipv6.conf.all.forwarding": 1, ...(this.ipv6 ? IPV6_NAMESPACE_SYSCTLS : {}) });
    return ns;
  }

  /** Node `nodeIndex`'s traffic to IMDS goes to its own IMDS listener on the management address. */
  async redirectImds(nodeIndex: number, port: number): Promise<void> {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`port: invalid ${port}`);
    const pattern = routerNodeLinkPattern(nodeIndex);
    await this.iptablesRestore([
      "*nat",
      `-A PREROUTING -i ${pattern} -d ${IMDS_ADDRESS}/32 -p tcp --dport 80 -j DNAT --to-destination ${this.names.mgmt.rootIp}:${port}`,
      "COMMIT",
    ]);
  }

  /** A real link for an attached ENI: `eth<d>` (`c<card>eth<d>` on another card) in the node (with the ENI's MAC), its peer in the router. */
  async attachEni(spec: EniLinkSpec): Promise<string> {
    if (!MAC.test(spec.mac)) throw new Error(`mac: invalid ${JSON.stringify(spec.mac)}`);
    checkIpv4(spec.primaryIp, "primaryIp");
    const routerLink = routerEniLink(spec.nodeIndex, spec.deviceIndex, spec.networkCard);
    const nodeLink = nodeEniLink(spec.deviceIndex, spec.networkCard);
    const nodeNs = this.nodeNs(spec.nodeIndex);
    await ip(this.router, "link", "add", routerLink, "type", "veth", "peer", "name", nodeLink, "address", spec.mac, "netns", nodeNs);
    await ip(this.router, "link", "set", routerLink, "up");
    // Proxy ARP answers at once (the default delay is up to 0.8 s per broadcast request).
    await ip(this.router, "ntable", "change", "name", "arp_cache", "dev", routerLink, "proxy_delay", "0");
    await ip(this.router, "neigh", "replace", spec.primaryIp, "lladdr", spec.mac, "nud", "permanent", "dev", routerLink);
    await ip(this.router, "route", "replace", `${spec.primaryIp}/32`, "dev", routerLink);
    // IPv6 addresses and prefixes are routed via the ENI's link-local address (from its MAC).
    await ip(this.router, "-6", "neigh", "replace", linkLocalFromMac(spec.mac), "lladdr", spec.mac, "nud", "permanent", "dev", routerLink);
    if (spec.configure) {
      checkIpv4(spec.configure.gateway, "gateway");
      await ip(nodeNs, "addr", "add", `${spec.primaryIp}/${spec.configure.prefixLen}`, "dev", nodeLink);
      await ip(nodeNs, "link", "set", nodeLink, "up");
      await ip(nodeNs, "route", "add", "default", "via", spec.configure.gateway, "dev", nodeLink);
    }
    if (this.ipv6) await configureEniIpv6({ routerNs: this.router, routerLink, nodeNs, nodeLink, primaryIpv6: spec.configure?.primaryIpv6 });
    return routerLink;
  }

  /** Deleting one end of a veth deletes both, and every route through it. */
  async detachEni(nodeIndex: number, deviceIndex: number, networkCard = 0): Promise<void> {
    await ipTolerant(this.router, NO_SUCH, "link", "del", routerEniLink(nodeIndex, deviceIndex, networkCard));
  }

  /** Route an assigned address or prefix to the ENI that owns it (replace: only there). */
  async routeToEni(eni: EniLinkRef, cidr: string): Promise<void> {
    if (cidr === `${eni.primaryIp}/32`) return;
    const link = routerEniLink(eni.nodeIndex, eni.deviceIndex, eni.networkCard);
    if (IPV6_CIDR.test(cidr)) {
      await ip(this.router, "-6", "route", "replace", cidr, "via", linkLocalFromMac(eni.mac), "dev", link);
      return;
    }
    checkCidr(cidr, "cidr");
    await ip(this.router, "route", "replace", cidr, "via", eni.primaryIp, "dev", link, "onlink");
  }

  async unrouteFromEni(eni: EniLinkRef, cidr: string): Promise<void> {
    if (cidr === `${eni.primaryIp}/32`) return;
    const link = routerEniLink(eni.nodeIndex, eni.deviceIndex, eni.networkCard);
    if (IPV6_CIDR.test(cidr)) {
      await ipTolerant(this.router, NO_SUCH, "-6", "route", "del", cidr, "dev", link);
      return;
    }
    checkCidr(cidr, "cidr");
    await ipTolerant(this.router, NO_SUCH, "route", "del", cidr, "dev", link);
  }

  /** A branch ENI's addresses to its trunk's link, by the branch's MAC (fabric-branch.ts). */
  routeBranch(branch: BranchRoute): Promise<void> {
    return routeBranch(this.router, branch);
  }

  unrouteBranch(branch: BranchRoute): Promise<void> {
    return unrouteBranch(this.router, branch);
  }

  async iptablesRestore(lines: string[]): Promise<void> {
    await inNetns(this.router, ["iptables-restore", "--noflush"], lines.join("\n") + "\n");
  }

  /** Removes everything of this stack: processes in its namespaces, the namespaces, the mgmt link. */
  async destroy(): Promise<string[]> {
    return destroyStack(this.names);
  }
}

/** Idempotent teardown by name; used by `stop()` and by `down` after a crash. Returns problems. */
export async function destroyStack(names: StackNames): Promise<string[]> {
  const problems: string[] = [];
  const ours = (await listNetns()).filter((n) => belongsToStack(names.prefix, n));
  const killed: number[] = [];
  for (const ns of ours) {
    for (const pid of await netnsPids(ns)) {
      try {
        process.kill(pid, "SIGKILL");
        killed.push(pid);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ESRCH") problems.push(`kill ${pid} in ${ns}: ${String(e)}`);
      }
    }
  }
  for (const pid of killed) if (!(await waitForExit(pid, 3000))) problems.push(`process ${pid} survived SIGKILL`);
  // Delete the root end explicitly: after `netns del` the kernel removes the veth only later.
  const r = await runCommand(["ip", "link", "del", assertLinkName(names.mgmtRootLink)]);
  if (r.exitCode !== 0 && !NO_SUCH.test(r.stderr)) problems.push(`link del ${names.mgmtRootLink}: ${r.stderr.trim()}`);
  for (const ns of ours) {
    const d = await runCommand(["ip", "netns", "del", ns]);
    if (d.exitCode !== 0 && !NO_SUCH.test(d.stderr)) problems.push(`netns del ${ns}: ${d.stderr.trim()}`);
  }
  return problems;
}

/** True once /proc/<pid> is gone (or is a zombie nobody reaped yet: it holds no namespace). */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let state: string | undefined;
    try {
      state = /^State:\s+(\S)/m.exec(await Bun.file(`/proc/${pid}/status`).text())?.[1];
    } catch {
      return true;
    }
    if (state === undefined || state === "Z" || state === "X") return true;
    if (Date.now() > deadline) return false;
    await Bun.sleep(10);
  }
}
