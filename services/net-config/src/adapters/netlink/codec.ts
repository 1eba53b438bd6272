/**
 * rtnetlink wire format: message header, fixed family headers and TLV attributes.
 * Pure functions over bytes (no I/O); little-endian host order as on x86-64/arm64.
 */

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLA_F_NESTED = 0x8000;

export const RTM = {
  NEWLINK: 16, DELLINK: 17, GETLINK: 18,
  NEWADDR: 20, DELADDR: 21, GETADDR: 22,
  NEWROUTE: 24, DELROUTE: 25, GETROUTE: 26,
  NEWNEIGH: 28, DELNEIGH: 29, GETNEIGH: 30,
  NEWRULE: 32, DELRULE: 33, GETRULE: 34,
} as const;

/** A TLV attribute: a type and either raw bytes or nested attributes. */
export type Attr = { type: number; data: Uint8Array } | { type: number; nested: Attr[] };

const enc = new TextEncoder();
const dec = new TextDecoder();
const align4 = (n: number) => (n + 3) & ~3;

export const attr = {
  u8: (type: number, v: number): Attr => ({ type, data: Uint8Array.of(v) }),
  u32: (type: number, v: number): Attr => {
    const d = new Uint8Array(4);
    new DataView(d.buffer).setUint32(0, v >>> 0, true);
    return { type, data: d };
  },
  str: (type: number, s: string): Attr => {
    const b = enc.encode(s);
    const d = new Uint8Array(b.length + 1);
    d.set(b);
    return { type, data: d };
  },
  bytes: (type: number, data: Uint8Array): Attr => ({ type, data }),
  nested: (type: number, nested: Attr[]): Attr => ({ type, nested }),
};

function attrSize(a: Attr): number {
  const body = "data" in a ? a.data.length : a.nested.reduce((s, n) => s + attrSize(n), 0);
  return align4(4 + body);
}

function writeAttrs(view: DataView, out: Uint8Array, off: number, attrs: Attr[]): number {
  for (const a of attrs) {
    const start = off;
    if ("data" in a) {
      view.setUint16(off, 4 + a.data.length, true);
      view.setUint16(off + 2, a.type, true);
      out.set(a.data, off + 4);
      off = start + align4(4 + a.data.length);
    } else {
      const end = writeAttrs(view, out, off + 4, a.nested);
      view.setUint16(start, end - start, true);
      view.setUint16(start + 2, a.type | NLA_F_NESTED, true);
      off = end;
    }
  }
  return off;
}

/** Serialise attributes alone (e.g. the ifinfomsg + attrs inside a veth peer). */
export function encodeAttrs(attrs: Attr[]): Uint8Array {
  const out = new Uint8Array(attrs.reduce((s, a) => s + attrSize(a), 0));
  writeAttrs(new DataView(out.buffer), out, 0, attrs);
  return out;
}

/** A complete netlink message: header, family header, attributes. */
export function encodeMessage(type: number, flags: number, seq: number, header: Uint8Array, attrs: Attr[]): Uint8Array {
  const len = 16 + align4(header.length) + attrs.reduce((s, a) => s + attrSize(a), 0);
  const out = new Uint8Array(len);
  const view = new DataView(out.buffer);
  view.setUint32(0, len, true);
  view.setUint16(4, type, true);
  view.setUint16(6, flags, true);
  view.setUint32(8, seq, true);
  view.setUint32(12, 0, true);
  out.set(header, 16);
  writeAttrs(view, out, 16 + align4(header.length), attrs);
  return out;
}

export interface Message {
  type: number;
  flags: number;
  seq: number;
  /** Payload after the 16-byte header. */
  body: Uint8Array;
}

/** Split a received datagram into messages. */
export function decodeMessages(buf: Uint8Array, length: number): Message[] {
  const view = new DataView(buf.buffer, buf.byteOffset, length);
  const out: Message[] = [];
  let off = 0;
  while (off + 16 <= length) {
    const len = view.getUint32(off, true);
    if (len < 16 || off + len > length) break;
    out.push({
      type: view.getUint16(off + 4, true),
      flags: view.getUint16(off + 6, true),
      seq: view.getUint32(off + 8, true),
      body: buf.subarray(off + 16, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** Attributes of a payload starting at `offset`, by type (last one wins), nested flag stripped. */
export function decodeAttrs(body: Uint8Array, offset: number): Map<number, Uint8Array> {
  const map = new Map<number, Uint8Array>();
  const view = new DataView(body.buffer, body.byteOffset, body.length);
  let off = offset;
  while (off + 4 <= body.length) {
    const len = view.getUint16(off, true);
    const type = view.getUint16(off + 2, true) & 0x3fff;
    if (len < 4 || off + len > body.length) break;
    map.set(type, body.subarray(off + 4, off + len));
    off += align4(len);
  }
  return map;
}

export const read = {
  u32: (d: Uint8Array | undefined): number | undefined =>
    d && d.length >= 4 ? new DataView(d.buffer, d.byteOffset, 4).getUint32(0, true) : undefined,
  str: (d: Uint8Array | undefined): string | undefined => {
    if (!d) return undefined;
    const z = d.indexOf(0);
    return dec.decode(z >= 0 ? d.subarray(0, z) : d);
  },
};

/** The error of an NLMSG_ERROR message (0 = ACK) and the extended-ack text if any. */
export function decodeError(m: Message): { errno: number; message?: string } {
  const view = new DataView(m.body.buffer, m.body.byteOffset, m.body.length);
  const errno = -view.getInt32(0, true);
  let message: string | undefined;
  if (m.flags & NLM_F_ACK_TLVS) {
    const origLen = m.flags & NLM_F_CAPPED ? 16 : view.getUint32(4, true);
    const tlvs = decodeAttrs(m.body, 4 + align4(origLen));
    message = read.str(tlvs.get(1));
  }
  return { errno, message };
}

// ---------- addresses and MACs ----------

export function ipBytes(ip: string): Uint8Array {
  if (ip.includes(":")) {
    const halves = ip.split("::");
    const head = halves[0] ? halves[0].split(":") : [];
    const tail = halves.length > 1 && halves[1] ? halves[1].split(":") : [];
    const groups = [...head, ...Array<string>(8 - head.length - tail.length).fill("0"), ...tail];
    const out = new Uint8Array(16);
    groups.forEach((g, i) => {
      const n = parseInt(g, 16);
      out[i * 2] = n >> 8;
      out[i * 2 + 1] = n & 255;
    });
    return out;
  }
  return Uint8Array.from(ip.split(".").map(Number));
}

export function formatIpBytes(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((b[i] ?? 0) << 8) | (b[i + 1] ?? 0)).toString(16));
  // Compress the longest zero run (RFC 5952).
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
}

export function macBytes(mac: string): Uint8Array {
  return Uint8Array.from(mac.split(":").map((h) => parseInt(h, 16)));
}

export function formatMac(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":");
}
