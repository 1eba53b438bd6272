/**
 * egress-cni: what upstream's chained `egress-cni` plugin names and numbers, shared by the
 * conflist (addr-broker), the bookkeeping of the egress range (addr-broker) and the kernel
 * wiring (net-config).
 *
 * - IPv6 mode with ENABLE_V4_EGRESS (default on): the pod gets `v4if0` with an address of
 *   169.254.172.0/22, its IPv4 traffic SNATed to the node's primary IPv4 address.
 * - IPv4 mode with ENABLE_V6_EGRESS (default off): the pod gets `v6if0` with an address of
 *   fd00::ac:00/118, its IPv6 traffic SNATed to the node's IPv6 address; without such an
 *   address the plugin is left out of the chain and the reason logged.
 */
import { parseIp } from "./ip.ts";

export type EgressFamily = 4 | 6;

export interface EgressRange {
  family: EgressFamily;
  /** host-local's `ranges[0][0].subnet` in upstream's conflist. */
  subnet: string;
  /** host-local's `routes[0].dst`: the pod's route through the egress interface. */
  dst: string;
  /** Upstream's host-local data dir, kept in the conflist for parity (this project keeps its own bookkeeping). */
  dataDir: string;
  /** The pod-side interface. */
  ifName: string;
  /** Prefix of the per-pod SNAT chain after `CNI-`. */
  chainPrefix: string;
  /** Upstream's multicast range, accepted before the SNAT rule. */
  multicast: string;
}

export const EGRESS_V4: EgressRange = {
  family: 4,
  subnet: "169.254.172.0/22",
  dst: "0.0.0.0/0",
  dataDir: "/run/cni/v6pd/egress-v4-ipam",
  ifName: "v4if0",
  chainPrefix: "E4-",
  multicast: "224.0.0.0/4",
};

export const EGRESS_V6: EgressRange = {
  family: 6,
  subnet: "fd00::ac:00/118",
  dst: "::/0",
  dataDir: "/run/cni/v4pd/egress-v6-ipam",
  ifName: "v6if0",
  chainPrefix: "E6-",
  multicast: "ff00::/8",
};

export const EGRESS_PLUGIN_TYPE = "egress-cni";

export function egressRange(family: EgressFamily): EgressRange {
  return family === 4 ? EGRESS_V4 : EGRESS_V6;
}

/** The family of egress a node in `ipFamily` mode gives its pods: the other one. */
export function egressFamilyFor(ipFamily: "ipv4" | "ipv6"): EgressFamily {
  return ipFamily === "ipv6" ? 4 : 6;
}

/**
 * The per-pod SNAT chain, as the CNI plugins' utils name it: `CNI-<prefix>` then the hex
 * SHA-512 of network name + container id, 28 characters in all.
 */
export function egressChainName(network: string, containerId: string, family: EgressFamily): string {
  const hex = new Bun.CryptoHasher("sha512").update(network + containerId).digest("hex");
  return (`CNI-${egressRange(family).chainPrefix}` + hex).slice(0, 28);
}

/** The comment on every SNAT rule of the pod (Go's `name: %q id: %q`; both names are validated, no quoting needed). */
export function egressComment(network: string, containerId: string): string {
  return `name: "${network}" id: "${containerId}"`;
}

/** What the conflist's egress-cni entry carries. */
export interface EgressConflist {
  family: EgressFamily;
  nodeIp: string;
  mtu: number;
  randomizeSnat: string;
  pluginLogFile: string;
  pluginLogLevel: string;
}

export interface EgressInputs {
  ipFamily: "ipv4" | "ipv6";
  v4Egress: boolean;
  v6Egress: boolean;
  nodeIpv4?: string | undefined;
  nodeIpv6?: string | undefined;
}

/**
 * Whether egress-cni goes in the chain, as upstream's init container decides: IPv6 mode →
 * IPv4 egress when ENABLE_V4_EGRESS (the node always has an IPv4 address); IPv4 mode → IPv6
 * egress when ENABLE_V6_EGRESS and the node has a global IPv6 address, else left out with
 * `error` saying why.
 */
export function egressDecision(i: EgressInputs): { family: EgressFamily; nodeIp: string } | { off: string } | { error: string } {
  if (i.ipFamily === "ipv6") {
    if (!i.v4Egress) return { off: "ENABLE_V4_EGRESS=false" };
    if (!i.nodeIpv4 || parseIp(i.nodeIpv4)?.family !== 4) return { error: "ENABLE_V4_EGRESS=true but the node's primary IPv4 address is not known: egress-cni is left out of the chain" };
    return { family: 4, nodeIp: i.nodeIpv4 };
  }
  if (!i.v6Egress) return { off: "ENABLE_V6_EGRESS=false" };
  if (!i.nodeIpv6 || !isGlobalUnicastV6(i.nodeIpv6)) {
    return { error: "ENABLE_V6_EGRESS=true but the node's primary ENI has no global IPv6 address (IMDS ipv6s), which IPv6 egress needs: egress-cni is left out of the chain" };
  }
  return { family: 6, nodeIp: i.nodeIpv6 };
}

function isGlobalUnicastV6(ip: string): boolean {
  const p = parseIp(ip);
  if (!p || p.family !== 6 || p.value === 0n || p.value === 1n) return false;
  const top = Number(p.value >> 112n);
  // not link-local fe80::/10, not multicast ff00::/8
  return (top & 0xffc0) !== 0xfe80 && (top & 0xff00) !== 0xff00;
}

/** The chain entry, with upstream's keys and values (`enabled` is "true": a disabled plugin is not chained). */
export function renderEgressEntry(e: EgressConflist, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const r = egressRange(e.family);
  return {
    name: "egress-cni",
    type: EGRESS_PLUGIN_TYPE,
    mtu: String(e.mtu),
    enabled: "true",
    randomizeSNAT: e.randomizeSnat,
    nodeIP: e.nodeIp,
    ipam: { type: "host-local", ranges: [[{ subnet: r.subnet }]], routes: [{ dst: r.dst }], dataDir: r.dataDir },
    pluginLogFile: e.pluginLogFile,
    pluginLogLevel: e.pluginLogLevel,
    ...extra,
  };
}
