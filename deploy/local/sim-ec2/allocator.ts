/**
 * Address allocation inside a subnet, derived from the ENIs (the single source of truth):
 * IPv4 /32 (AWS reserves the first four addresses and the last one), aligned IPv4 /28
 * prefixes, IPv6 /128 addresses and aligned /80 prefixes.
 */
import { formatIp, parseCidr, parseIp, size, type Cidr } from "../../../shared/ip.ts";
import { noCidrBlocks, subnetFull } from "./errors.ts";
import type { Ec2State, Subnet } from "./types.ts";

const RESERVED_HEAD = 4n;

function cidrOf(text: string): Cidr {
  const c = parseCidr(text, false);
  if (!c) throw new Error(`bad CIDR in state: ${text}`);
  return c;
}

/** IPv4 offsets (from the subnet base) in use by any ENI of the subnet. */
export function usedIpv4(state: Ec2State, subnet: Subnet): Set<bigint> {
  const c = cidrOf(subnet.cidr);
  const used = new Set<bigint>();
  const add = (ip: string) => {
    const p = parseIp(ip);
    if (p) used.add(p.value - c.base);
  };
  for (const eni of Object.values(state.enis)) {
    if (eni.subnetId !== subnet.id) continue;
    add(eni.primaryIp);
    eni.secondaryIps.forEach(add);
    for (const prefix of eni.ipv4Prefixes) {
      const p = cidrOf(prefix);
      for (let i = 0n; i < size(p); i++) used.add(p.base - c.base + i);
    }
  }
  return used;
}

/** Offsets usable for hosts: not the first four, not the last. */
function usable(c: Cidr, offset: bigint): boolean {
  return offset >= RESERVED_HEAD && offset < size(c) - 1n;
}

export function availableIpv4Count(state: Ec2State, subnet: Subnet): number {
  const c = cidrOf(subnet.cidr);
  return Number(size(c) - RESERVED_HEAD - 1n) - usedIpv4(state, subnet).size;
}

/** Whether `ip` may be assigned in the subnet: inside it, not reserved, not in use. */
export function ipv4Free(state: Ec2State, subnet: Subnet, ip: string): "ok" | "outside" | "reserved" | "used" {
  const c = cidrOf(subnet.cidr);
  const p = parseIp(ip);
  if (!p || p.family !== 4) return "outside";
  const off = p.value - c.base;
  if (off < 0n || off >= size(c)) return "outside";
  if (!usable(c, off)) return "reserved";
  return usedIpv4(state, subnet).has(off) ? "used" : "ok";
}

/** Lowest free addresses; InsufficientFreeAddressesInSubnet when fewer than `n` remain. */
export function allocateIpv4(state: Ec2State, subnet: Subnet, n: number, taken = new Set<bigint>()): string[] {
  const c = cidrOf(subnet.cidr);
  const used = usedIpv4(state, subnet);
  const out: string[] = [];
  for (let off = RESERVED_HEAD; off < size(c) - 1n && out.length < n; off++) {
    if (used.has(off) || taken.has(off)) continue;
    taken.add(off);
    out.push(formatIp(4, c.base + off));
  }
  if (out.length < n) throw subnetFull();
  return out;
}

/** Aligned /28 blocks whose sixteen addresses are all free and unreserved. */
export function allocateIpv4Prefixes(state: Ec2State, subnet: Subnet, n: number, taken = new Set<bigint>()): string[] {
  const c = cidrOf(subnet.cidr);
  const used = usedIpv4(state, subnet);
  const out: string[] = [];
  for (let start = 0n; start + 16n <= size(c) && out.length < n; start += 16n) {
    let free = true;
    for (let i = 0n; i < 16n && free; i++) {
      const off = start + i;
      free = usable(c, off) && !used.has(off) && !taken.has(off);
    }
    if (!free) continue;
    for (let i = 0n; i < 16n; i++) taken.add(start + i);
    out.push(`${formatIp(4, c.base + start)}/28`);
  }
  if (out.length < n) throw noCidrBlocks();
  return out;
}

/** Whether an explicit /28 may be assigned: aligned, inside, all 16 free. */
export function ipv4PrefixFree(state: Ec2State, subnet: Subnet, prefix: string): boolean {
  const c = cidrOf(subnet.cidr);
  const p = parseCidr(prefix, true);
  if (!p || p.family !== 4 || p.prefix !== 28) return false;
  const used = usedIpv4(state, subnet);
  const start = p.base - c.base;
  if (start < 0n || start + 16n > size(c)) return false;
  for (let i = 0n; i < 16n; i++) if (!usable(c, start + i) || used.has(start + i)) return false;
  return true;
}

function usedIpv6(state: Ec2State, subnetId: string): { addrs: Set<string>; prefixes: Set<string> } {
  const addrs = new Set<string>();
  const prefixes = new Set<string>();
  for (const eni of Object.values(state.enis)) {
    if (eni.subnetId !== subnetId) continue;
    eni.ipv6Addresses.forEach((a) => addrs.add(a));
    eni.ipv6Prefixes.forEach((p) => prefixes.add(p));
  }
  return { addrs, prefixes };
}

/** IPv6 /128s from the subnet's first /80 block (interface ids from ::10 up). */
export function allocateIpv6(state: Ec2State, subnet: Subnet, n: number): string[] {
  if (!subnet.ipv6Cidr) throw subnetFull();
  const c = cidrOf(subnet.ipv6Cidr);
  const { addrs } = usedIpv6(state, subnet.id);
  const out: string[] = [];
  for (let i = 16n; out.length < n && i < 1n << 48n; i++) {
    const ip = formatIp(6, c.base + i);
    if (!addrs.has(ip)) out.push(ip);
  }
  return out;
}

/** Aligned IPv6 /80 prefixes, from the second /80 block of the subnet's /64 up. */
export function allocateIpv6Prefixes(state: Ec2State, subnet: Subnet, n: number): string[] {
  if (!subnet.ipv6Cidr) throw noCidrBlocks();
  const c = cidrOf(subnet.ipv6Cidr);
  const { prefixes } = usedIpv6(state, subnet.id);
  const blocks = 1n << BigInt(80 - c.prefix);
  const out: string[] = [];
  for (let i = 1n; out.length < n && i < blocks; i++) {
    const p = `${formatIp(6, c.base + (i << 48n))}/80`;
    if (!prefixes.has(p)) out.push(p);
  }
  if (out.length < n) throw noCidrBlocks();
  return out;
}

export function ipv6InUse(state: Ec2State, subnetId: string, addrOrPrefix: string): boolean {
  const { addrs, prefixes } = usedIpv6(state, subnetId);
  return addrs.has(addrOrPrefix) || prefixes.has(addrOrPrefix);
}
