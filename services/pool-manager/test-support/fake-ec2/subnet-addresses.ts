/**
 * A subnet's addresses as EC2 hands them out: IPv4 hosts (AWS keeps the first four and the
 * last address of every subnet), aligned /28 prefixes whose sixteen addresses are all free,
 * and from the subnet's IPv6 /64 single addresses and aligned /80 prefixes. Each request is
 * all or nothing; the free count is what DescribeSubnets reports.
 */
import { indexOf, nth, parseCidr, size, type Cidr } from "../../../../shared/ip.ts";
import { Refusal } from "./refusal.ts";

const RESERVED_HEAD = 4n;
const PREFIX_SIZE = 16n;
/** An IPv6 /80 spans 2^48 addresses of its /64. */
const IPV6_PREFIX_SPAN = 1n << 48n;

function cidrOf(text: string, family: 4 | 6, field: string): Cidr {
  const c = parseCidr(text);
  if (!c || c.family !== family) throw new Error(`${field}: not an IPv${family} CIDR: ${text}`);
  return c;
}

export class SubnetAddresses {
  private readonly v4: Cidr;
  private readonly v6: Cidr | undefined;
  /** IPv4 offsets from the subnet's base in use (addresses and every address of a prefix). */
  private readonly used = new Set<bigint>();
  /** IPv6 addresses and /80 prefix bases in use, as offsets from the /64's base. */
  private readonly used6 = new Set<bigint>();

  constructor(cidr: string, ipv6Cidr?: string) {
    this.v4 = cidrOf(cidr, 4, "cidr");
    if (this.v4.prefix > 28) throw new Error(`cidr: a subnet is /16 to /28 (got ${cidr})`);
    this.v6 = ipv6Cidr === undefined ? undefined : cidrOf(ipv6Cidr, 6, "ipv6Cidr");
  }

  private get size(): bigint {
    return size(this.v4);
  }

  private usable(off: bigint): boolean {
    return off >= RESERVED_HEAD && off < this.size - 1n;
  }

  /** Free IPv4 host addresses (DescribeSubnets' AvailableIpAddressCount). */
  available(): number {
    return Number(this.size - RESERVED_HEAD - 1n) - this.used.size;
  }

  /** The `n` lowest free addresses. */
  takeAddresses(n: number): string[] {
    const out: bigint[] = [];
    for (let off = RESERVED_HEAD; off < this.size - 1n && out.length < n; off++) if (!this.used.has(off)) out.push(off);
    if (out.length < n) throw new Refusal("InsufficientFreeAddressesInSubnet", "The specified subnet does not have enough free addresses to satisfy the request.");
    for (const off of out) this.used.add(off);
    return out.map((off) => nth(this.v4, off));
  }

  /** This address, which must be a free host address of the subnet. */
  takeAddress(ip: string): string {
    const off = indexOf(this.v4, ip);
    if (off < 0n || !this.usable(off)) throw new Refusal("InvalidParameterValue", `Address ${ip} does not fall within the subnet's range or is reserved`);
    if (this.used.has(off)) throw new Refusal("InvalidIPAddress.InUse", `Address ${ip} is in use.`);
    this.used.add(off);
    return ip;
  }

  /** The `n` lowest aligned /28 blocks whose addresses are all usable and free. */
  takePrefixes(n: number): string[] {
    const out: bigint[] = [];
    for (let start = 0n; start + PREFIX_SIZE <= this.size && out.length < n; start += PREFIX_SIZE) {
      let free = true;
      for (let i = 0n; i < PREFIX_SIZE && free; i++) free = this.usable(start + i) && !this.used.has(start + i);
      if (free) out.push(start);
    }
    if (out.length < n) throw new Refusal("InsufficientCidrBlocks", "The specified subnet does not have enough free cidr blocks to satisfy the request.");
    for (const start of out) for (let i = 0n; i < PREFIX_SIZE; i++) this.used.add(start + i);
    return out.map((start) => `${nth(this.v4, start)}/28`);
  }

  /** Releases IPv4 addresses ("10.0.1.5" or "10.0.1.5/32") and /28 prefixes. */
  release(cidrs: string[]): void {
    for (const text of cidrs) {
      const c = parseCidr(text.includes("/") ? text : `${text}/32`);
      if (!c || c.family !== 4) continue;
      const span = 1n << BigInt(32 - c.prefix);
      for (let i = 0n; i < span; i++) this.used.delete(c.base - this.v4.base + i);
    }
  }

  private ipv6(): Cidr {
    if (!this.v6) throw new Refusal("InvalidParameterValue", "The subnet has no IPv6 CIDR block");
    return this.v6;
  }

  /** `n` free IPv6 addresses of the /64 (below its first /80 prefix). */
  takeIpv6Addresses(n: number): string[] {
    const v6 = this.ipv6();
    const out: bigint[] = [];
    for (let off = 1n; off < IPV6_PREFIX_SPAN && out.length < n; off++) if (!this.used6.has(off)) out.push(off);
    for (const off of out) this.used6.add(off);
    return out.map((off) => nth(v6, off));
  }

  /** `n` free aligned /80 prefixes of the /64 (the first /80 holds the single addresses). */
  takeIpv6Prefixes(n: number): string[] {
    const v6 = this.ipv6();
    const out: bigint[] = [];
    for (let k = 1n; k < 1n << 16n && out.length < n; k++) if (!this.used6.has(k * IPV6_PREFIX_SPAN)) out.push(k * IPV6_PREFIX_SPAN);
    if (out.length < n) throw new Refusal("InsufficientCidrBlocks", "The specified subnet does not have enough free cidr blocks to satisfy the request.");
    for (const off of out) this.used6.add(off);
    return out.map((off) => `${nth(v6, off)}/80`);
  }

  /** Releases IPv6 addresses ("2600::5" or "2600::5/128") and /80 prefixes. */
  releaseIpv6(cidrs: string[]): void {
    if (!this.v6) return;
    for (const text of cidrs) {
      const c = parseCidr(text.includes("/") ? text : `${text}/128`);
      if (c && c.family === 6) this.used6.delete(c.base - this.v6.base);
    }
  }
}
