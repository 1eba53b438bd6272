/**
 * IPv4/IPv6 address and CIDR math. Addresses are BigInts internally so one code path
 * serves both families; strings are always canonical on the way out.
 */

export type Family = 4 | 6;

export interface Cidr {
  family: Family;
  /** Network address (host bits cleared). */
  base: bigint;
  prefix: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
/** The longest address or CIDR text ("ffff:…:255.255.255.255/128" is 49). */
const MAX_CACHED_TEXT = 64;

/**
 * Parsed texts, by text: addr-broker parses the same few hundred addresses and CIDRs (the
 * capacity's, the pods') on every ADD, ~10 % of its CPU. Entries are frozen (shared by every
 * caller); the cache is emptied when it reaches its bound, and a text longer than any
 * address or CIDR (hostile input reaches validation too) is parsed but never kept, so it
 * holds at most `bound` short keys.
 */
function memo<T>(parse: (text: string) => T | undefined, bound = 8192): (text: string) => T | undefined {
  const cache = new Map<string, T | undefined>();
  return (text) => {
    if (text.length > MAX_CACHED_TEXT) return parse(text);
    const hit = cache.get(text);
    if (hit !== undefined || cache.has(text)) return hit;
    if (cache.size >= bound) cache.clear();
    const v = parse(text);
    cache.set(text, v === undefined ? v : Object.freeze(v));
    return v;
  };
}

export function parseIp(text: string): Readonly<{ family: Family; value: bigint }> | undefined {
  return parseIpCached(text);
}

const parseIpCached = memo(parseIpText);

function parseIpText(text: string): { family: Family; value: bigint } | undefined {
  const m = IPV4.exec(text);
  if (m) {
    let v = 0n;
    for (const part of m.slice(1)) {
      const n = Number(part);
      if (n > 255 || (part.length > 1 && part.startsWith("0"))) return undefined;
      v = (v << 8n) | BigInt(n);
    }
    return { family: 4, value: v };
  }
  return parseIpv6(text);
}

function parseIpv6(text: string): { family: Family; value: bigint } | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.length > 45) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === "") return [];
    const out: number[] = [];
    for (const g of s.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = groups(halves[0] ?? "");
  const tail = halves.length === 2 ? groups(halves[1] ?? "") : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  let v = 0n;
  for (const g of all) v = (v << 16n) | BigInt(g);
  return { family: 6, value: v };
}

export function formatIp(family: Family, value: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 255n)).join(".");
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  // Compress the longest run of zero groups (RFC 5952).
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

export function bits(family: Family): number {
  return family === 4 ? 32 : 128;
}

/** Parses "a.b.c.d/n" or "x::/n"; host bits must be zero unless `strict` is false. */
export function parseCidr(text: string, strict = true): Readonly<Cidr> | undefined {
  return strict ? parseCidrStrict(text) : parseCidrLoose(text);
}

const parseCidrStrict = memo((text) => parseCidrText(text, true));
const parseCidrLoose = memo((text) => parseCidrText(text, false));

function parseCidrText(text: string, strict: boolean): Cidr | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const ip = parseIp(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(lenText)) return undefined;
  const prefix = Number(lenText);
  if (prefix > bits(ip.family)) return undefined;
  const mask = hostMask(ip.family, prefix);
  if (strict && (ip.value & mask) !== 0n) return undefined;
  return { family: ip.family, base: ip.value & ~mask & allOnes(ip.family), prefix };
}

export function isCidr(text: string): boolean {
  return parseCidr(text, false) !== undefined;
}

export function isIp(text: string): boolean {
  return parseIp(text) !== undefined;
}

function allOnes(family: Family): bigint {
  return (1n << BigInt(bits(family))) - 1n;
}

function hostMask(family: Family, prefix: number): bigint {
  return (1n << BigInt(bits(family) - prefix)) - 1n;
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.family, c.base)}/${c.prefix}`;
}

/** Number of addresses in the CIDR. */
export function size(c: Cidr): bigint {
  return 1n << BigInt(bits(c.family) - c.prefix);
}

export function contains(c: Cidr, ip: string): boolean {
  const p = parseIp(ip);
  return !!p && p.family === c.family && (p.value & ~hostMask(c.family, c.prefix)) === c.base;
}

/** The i-th address of a CIDR (0 = network address). */
export function nth(c: Cidr, i: bigint | number): string {
  return formatIp(c.family, c.base + BigInt(i));
}

/** Index of an address inside a CIDR, or -1n. */
export function indexOf(c: Cidr, ip: string): bigint {
  const p = parseIp(ip);
  if (!p || !contains(c, ip)) return -1n;
  return p.value - c.base;
}

/** The address as a host CIDR: /32 or /128. */
export function hostCidr(ip: string): string {
  const p = parseIp(ip);
  if (!p) throw new Error(`not an IP address: ${ip}`);
  return `${formatIp(p.family, p.value)}/${bits(p.family)}`;
}

/** Canonical text of an address (e.g. IPv6 compressed, lower case). */
export function canonicalIp(ip: string): string | undefined {
  const p = parseIp(ip);
  return p ? formatIp(p.family, p.value) : undefined;
}

/** Netmask length and dotted mask, e.g. for "10.0.0.0/19" → 19. */
export function prefixLength(cidr: string): number {
  const c = parseCidr(cidr, false);
  if (!c) throw new Error(`not a CIDR: ${cidr}`);
  return c.prefix;
}

/** The VPC subnet gateway: the first usable address (.1). */
export function subnetGateway(cidr: string): string {
  const c = parseCidr(cidr, false);
  if (!c) throw new Error(`not a CIDR: ${cidr}`);
  return formatIp(c.family, (c.base & ~hostMask(c.family, c.prefix)) + 1n);
}
