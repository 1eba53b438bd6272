/**
 * rtnetlink requests and answers for the objects net-config manages: fixed headers and
 * attributes, built from and decoded into the core's kernel-object types. Pure.
 */
import type { AddrSpec, Family, LinkInfo, NeighSpec, RouteSpec, RuleSpec, Scope } from "../../core/kernel-ops.ts";
import { attr, decodeAttrs, encodeAttrs, formatIpBytes, formatMac, ipBytes, macBytes, read, type Attr, type Message } from "./codec.ts";

export const AF = { 4: 2, 6: 10 } as const;
const IFF_UP = 1;
const IFLA = { ADDRESS: 1, IFNAME: 3, MTU: 4, LINK: 5, LINKINFO: 18, GROUP: 27, NET_NS_FD: 28 } as const;
const IFLA_VLAN_ID = 1;
const IFLA_INFO = { KIND: 1, DATA: 2 } as const;
const VETH_INFO_PEER = 1;
const IFA = { ADDRESS: 1, LOCAL: 2, FLAGS: 8 } as const;
const IFA_F_NODAD = 0x02;
const RTA = { DST: 1, OIF: 4, GATEWAY: 5, TABLE: 15 } as const;
const RTN_UNICAST = 1;
const RTPROT_BOOT = 3;
const NDA = { DST: 1, LLADDR: 2 } as const;
const NUD_PERMANENT = 0x80;
const FRA = { DST: 1, SRC: 2, IIFNAME: 3, PRIORITY: 6, FWMARK: 10, TABLE: 15, FWMASK: 16, IP_PROTO: 22 } as const;
const FR_ACT_TO_TBL = 1;
const SCOPE_CODE: Record<Scope, number> = { universe: 0, link: 253, host: 254 };

function familyCode(f: Family): number {
  return AF[f];
}

export function ifinfomsg(index = 0, up?: boolean): Uint8Array {
  const h = new Uint8Array(16);
  const v = new DataView(h.buffer);
  v.setInt32(4, index, true);
  if (up !== undefined) {
    v.setUint32(8, up ? IFF_UP : 0, true);
    v.setUint32(12, IFF_UP, true);
  }
  return h;
}

/** RTM_NEWLINK of a veth pair: `podIf` where the socket is, its peer `hostVeth` in the namespace of `peerNsFd`. */
export function vethCreate(podIf: string, hostVeth: string, mtu: number, hostMac: string, peerNsFd: number): { header: Uint8Array; attrs: Attr[] } {
  const peerAttrs = encodeAttrs([
    attr.str(IFLA.IFNAME, hostVeth),
    attr.u32(IFLA.MTU, mtu),
    attr.bytes(IFLA.ADDRESS, macBytes(hostMac)),
    attr.u32(IFLA.NET_NS_FD, peerNsFd),
  ]);
  const peer = new Uint8Array(16 + peerAttrs.length);
  // The peer cannot be brought up here: veth_open refuses (ENOTCONN) until both ends exist.
  peer.set(ifinfomsg());
  peer.set(peerAttrs, 16);
  return {
    header: ifinfomsg(0, true),
    attrs: [
      attr.str(IFLA.IFNAME, podIf),
      attr.u32(IFLA.MTU, mtu),
      attr.nested(IFLA.LINKINFO, [attr.str(IFLA_INFO.KIND, "veth"), attr.nested(IFLA_INFO.DATA, [attr.bytes(VETH_INFO_PEER, peer)])]),
    ],
  };
}

/** RTM_NEWLINK of an 802.1Q link on the link `parentIndex`, with its own MAC (created down). */
export function vlanCreate(dev: string, parentIndex: number, vlanId: number, mac: string, kind: "vlan" | "macvlan" = "vlan"): { header: Uint8Array; attrs: Attr[] } {
  const id = new Uint8Array(2);
  new DataView(id.buffer).setUint16(0, vlanId, true);
  // The macvlan stand-in (tests on kernels without 802.1Q): the same name, parent and MAC, untagged.
  const info = kind === "vlan" ? [attr.str(IFLA_INFO.KIND, "vlan"), attr.nested(IFLA_INFO.DATA, [attr.bytes(IFLA_VLAN_ID, id)])] : [attr.str(IFLA_INFO.KIND, "macvlan")];
  return {
    header: ifinfomsg(),
    attrs: [
      attr.str(IFLA.IFNAME, dev),
      attr.u32(IFLA.LINK, parentIndex),
      attr.bytes(IFLA.ADDRESS, macBytes(mac)),
      attr.nested(IFLA.LINKINFO, info),
    ],
  };
}

/** A link's group (IFLA_GROUP): the kernel deletes every link of a group in one request. */
export function linkGroup(group: number): Attr {
  return attr.u32(IFLA.GROUP, group);
}

export function linkByName(name: string): Attr[] {
  return [attr.str(IFLA.IFNAME, name)];
}

export function linkSetAttrs(name: string, mtu?: number): Attr[] {
  return mtu === undefined ? linkByName(name) : [...linkByName(name), attr.u32(IFLA.MTU, mtu)];
}

export function decodeLink(m: Message): LinkInfo {
  const v = new DataView(m.body.buffer, m.body.byteOffset, m.body.length);
  const attrs = decodeAttrs(m.body, 16);
  const info = attrs.get(IFLA.LINKINFO);
  const kind = info ? read.str(decodeAttrs(info, 0).get(IFLA_INFO.KIND)) : undefined;
  const mac = attrs.get(IFLA.ADDRESS);
  return {
    index: v.getInt32(4, true),
    up: (v.getUint32(8, true) & IFF_UP) !== 0,
    name: read.str(attrs.get(IFLA.IFNAME)) ?? "",
    mac: mac && mac.length === 6 ? formatMac(mac) : "",
    mtu: read.u32(attrs.get(IFLA.MTU)) ?? 0,
    kind,
  };
}

function splitCidr(cidr: string): [string, number] {
  const [ip, len] = cidr.split("/");
  return [ip ?? "", Number(len)];
}

export function addrMessage(a: AddrSpec, index: number, nodad: boolean): { header: Uint8Array; attrs: Attr[] } {
  const [ip, len] = splitCidr(a.cidr);
  const h = Uint8Array.of(familyCode(a.family), len, nodad ? IFA_F_NODAD : 0, 0, 0, 0, 0, 0);
  new DataView(h.buffer).setUint32(4, index, true);
  const bytes = ipBytes(ip);
  const attrs = [attr.bytes(IFA.LOCAL, bytes), attr.bytes(IFA.ADDRESS, bytes)];
  if (nodad) attrs.push(attr.u32(IFA.FLAGS, IFA_F_NODAD));
  return { header: h, attrs };
}

export function addrDumpHeader(family: Family | 0): Uint8Array {
  return Uint8Array.of(family === 0 ? 0 : familyCode(family), 0, 0, 0, 0, 0, 0, 0);
}

export function decodeAddr(m: Message, names: Map<number, string>): AddrSpec & { index: number; scope: number } {
  const v = new DataView(m.body.buffer, m.body.byteOffset, m.body.length);
  const family: Family = m.body[0] === AF[6] ? 6 : 4;
  const attrs = decodeAttrs(m.body, 8);
  const ip = attrs.get(IFA.LOCAL) ?? attrs.get(IFA.ADDRESS);
  const index = v.getUint32(4, true);
  return { family, index, scope: m.body[3] ?? 0, dev: names.get(index) ?? "", cidr: `${ip ? formatIpBytes(ip) : "?"}/${m.body[1]}` };
}

function dstOf(r: RouteSpec): [Uint8Array | undefined, number] {
  if (r.dst === "default") return [undefined, 0];
  const [ip, len] = splitCidr(r.dst);
  return [ipBytes(ip), len];
}

export function routeMessage(r: RouteSpec, oif: number | undefined, forDelete: boolean): { header: Uint8Array; attrs: Attr[] } {
  const [dst, len] = dstOf(r);
  const h = new Uint8Array(12);
  h[0] = familyCode(r.family);
  h[1] = len;
  h[4] = r.table < 256 ? r.table : 252;
  h[5] = forDelete ? 0 : RTPROT_BOOT;
  h[6] = forDelete ? 255 /* RT_SCOPE_NOWHERE: any scope */ : SCOPE_CODE[r.scope];
  h[7] = RTN_UNICAST;
  const attrs: Attr[] = [attr.u32(RTA.TABLE, r.table)];
  if (dst) attrs.push(attr.bytes(RTA.DST, dst));
  if (oif !== undefined) attrs.push(attr.u32(RTA.OIF, oif));
  if (r.gateway) attrs.push(attr.bytes(RTA.GATEWAY, ipBytes(r.gateway)));
  return { header: h, attrs };
}

export function routeDumpHeader(family: Family): Uint8Array {
  const h = new Uint8Array(12);
  h[0] = familyCode(family);
  return h;
}

const SCOPE_NAME: Record<number, Scope> = { 0: "universe", 253: "link", 254: "host" };

/** A unicast route, or undefined for local/broadcast/multicast entries. */
export function decodeRoute(m: Message, names: Map<number, string>): (RouteSpec & { protocol: number }) | undefined {
  const b = m.body;
  if (b[7] !== RTN_UNICAST) return undefined;
  const family: Family = b[0] === AF[6] ? 6 : 4;
  const attrs = decodeAttrs(b, 12);
  const dst = attrs.get(RTA.DST);
  const gw = attrs.get(RTA.GATEWAY);
  const oif = read.u32(attrs.get(RTA.OIF));
  return {
    family,
    dst: b[1] === 0 ? "default" : `${dst ? formatIpBytes(dst) : "?"}/${b[1]}`,
    gateway: gw ? formatIpBytes(gw) : undefined,
    dev: oif === undefined ? undefined : (names.get(oif) ?? `if${oif}`),
    scope: SCOPE_NAME[b[6] ?? 0] ?? "universe",
    table: read.u32(attrs.get(RTA.TABLE)) ?? b[4] ?? 0,
    protocol: b[5] ?? 0,
  };
}

export function neighMessage(n: NeighSpec, index: number): { header: Uint8Array; attrs: Attr[] } {
  const h = new Uint8Array(12);
  const v = new DataView(h.buffer);
  h[0] = familyCode(n.family);
  v.setInt32(4, index, true);
  v.setUint16(8, NUD_PERMANENT, true);
  return { header: h, attrs: [attr.bytes(NDA.DST, ipBytes(n.ip)), attr.bytes(NDA.LLADDR, macBytes(n.mac))] };
}

export function neighDumpHeader(family: Family): Uint8Array {
  const h = new Uint8Array(12);
  h[0] = familyCode(family);
  return h;
}

export function decodeNeigh(m: Message, names: Map<number, string>): NeighSpec & { permanent: boolean } {
  const v = new DataView(m.body.buffer, m.body.byteOffset, m.body.length);
  const attrs = decodeAttrs(m.body, 12);
  const dst = attrs.get(NDA.DST);
  const ll = attrs.get(NDA.LLADDR);
  return {
    family: m.body[0] === AF[6] ? 6 : 4,
    dev: names.get(v.getInt32(4, true)) ?? "",
    ip: dst ? formatIpBytes(dst) : "",
    mac: ll && ll.length === 6 ? formatMac(ll) : "",
    permanent: (v.getUint16(8, true) & NUD_PERMANENT) !== 0,
  };
}

export function ruleMessage(r: RuleSpec): { header: Uint8Array; attrs: Attr[] } {
  const h = new Uint8Array(12);
  h[0] = familyCode(r.family);
  const attrs: Attr[] = [attr.u32(FRA.PRIORITY, r.priority)];
  if (r.table !== 0) {
    h[4] = r.table < 256 ? r.table : 252;
    h[7] = FR_ACT_TO_TBL;
    attrs.push(attr.u32(FRA.TABLE, r.table));
  }
  if (r.src) {
    const [ip, len] = splitCidr(r.src.includes("/") ? r.src : `${r.src}/${r.family === 4 ? 32 : 128}`);
    h[2] = len;
    attrs.push(attr.bytes(FRA.SRC, ipBytes(ip)));
  }
  if (r.dst) {
    const [ip, len] = splitCidr(r.dst.includes("/") ? r.dst : `${r.dst}/${r.family === 4 ? 32 : 128}`);
    h[1] = len;
    attrs.push(attr.bytes(FRA.DST, ipBytes(ip)));
  }
  if (r.iif) attrs.push(attr.str(FRA.IIFNAME, r.iif));
  if (r.ipproto !== undefined) attrs.push(attr.u8(FRA.IP_PROTO, r.ipproto));
  if (r.fwmark !== undefined) {
    attrs.push(attr.u32(FRA.FWMARK, r.fwmark));
    attrs.push(attr.u32(FRA.FWMASK, r.fwmask ?? 0xffffffff));
  }
  return { header: h, attrs };
}

export function ruleDumpHeader(family: Family): Uint8Array {
  const h = new Uint8Array(12);
  h[0] = familyCode(family);
  return h;
}

/** Rules come back with src/dst as CIDRs ("10.0.0.5/32"). */
export function decodeRule(m: Message): RuleSpec {
  const b = m.body;
  const attrs = decodeAttrs(b, 12);
  const src = attrs.get(FRA.SRC);
  const dst = attrs.get(FRA.DST);
  const mark = read.u32(attrs.get(FRA.FWMARK));
  const iif = read.str(attrs.get(FRA.IIFNAME));
  const proto = attrs.get(FRA.IP_PROTO)?.[0];
  return {
    family: b[0] === AF[6] ? 6 : 4,
    priority: read.u32(attrs.get(FRA.PRIORITY)) ?? 0,
    table: read.u32(attrs.get(FRA.TABLE)) ?? b[4] ?? 0,
    src: src ? `${formatIpBytes(src)}/${b[2]}` : undefined,
    dst: dst ? `${formatIpBytes(dst)}/${b[1]}` : undefined,
    fwmark: mark,
    fwmask: mark === undefined ? undefined : read.u32(attrs.get(FRA.FWMASK)),
    ...(iif ? { iif } : {}),
    ...(proto ? { ipproto: proto } : {}),
  };
}
