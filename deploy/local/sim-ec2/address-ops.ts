/**
 * Assigning and unassigning an ENI's secondary addresses and prefixes, with EC2's checks:
 * per-ENI limits (IPv4 counts the primary; a /28 prefix is one slot), free addresses in
 * the subnet, aligned free /28 blocks. Validation happens before any change.
 */
import { canonicalIp, hostCidr, parseCidr } from "../../../shared/ip.ts";
import { allocateIpv4, allocateIpv4Prefixes, allocateIpv6, allocateIpv6Prefixes, ipv4Free, ipv4PrefixFree, ipv6InUse } from "./allocator.ts";
import { Ec2Error, invalid, ipLimit, missing } from "./errors.ts";
import type { Ec2Event } from "./observer.ts";
import type { Ec2State, Eni, Subnet } from "./types.ts";

export interface OpContext {
  readonly state: Ec2State;
  eniLimits(eni: Eni): { ipv4: number; ipv6: number };
  emit(ev: Ec2Event): void;
  recordImds(instanceId: string): void;
}

export interface Ipv4Request {
  count?: number;
  addresses?: string[];
  prefixCount?: number;
  prefixes?: string[];
  allowReassignment?: boolean;
}

export interface Ipv6Request {
  count?: number;
  addresses?: string[];
  prefixCount?: number;
  prefixes?: string[];
}

export const ipv4Slots = (e: Eni) => 1 + e.secondaryIps.length + e.ipv4Prefixes.length;
export const ipv6Slots = (e: Eni) => e.ipv6Addresses.length + e.ipv6Prefixes.length;

function subnetOf(ctx: OpContext, eni: Eni): Subnet {
  const s = ctx.state.subnets[eni.subnetId];
  if (!s) throw new Ec2Error("InternalError", `subnet ${eni.subnetId} vanished`);
  return s;
}

function checkCount(name: string, v: number | undefined): number {
  const n = v ?? 0;
  if (!Number.isInteger(n) || n < 0) throw invalid(`Invalid value '${v}' for ${name}`);
  return n;
}

function changed(ctx: OpContext, eni: Eni, kind: "addressesAssigned" | "addressesUnassigned", cidrs: string[]): void {
  if (cidrs.length === 0) return;
  const a = eni.attachment;
  const attached = a?.status === "attached";
  ctx.emit({ kind, eniId: eni.id, instanceId: attached ? a.instanceId : null, mac: eni.mac, cidrs });
  if (attached) ctx.recordImds(a.instanceId);
}

/** `announce` is false while creating an ENI: no request-shape checks, no events. */
/** An efa-only interface carries no IP address. */
function refuseEfaOnly(eni: Eni, wants: number): void {
  if (eni.interfaceType === "efa-only" && wants > 0) throw new Ec2Error("InvalidParameterCombination", `Network interface ${eni.id} is efa-only and cannot have IP addresses`);
}

export function assignIpv4(ctx: OpContext, eni: Eni, req: Ipv4Request, announce: boolean): { addresses: string[]; prefixes: string[] } {
  refuseEfaOnly(eni, (req.count ?? 0) + (req.prefixCount ?? 0) + (req.addresses?.length ?? 0) + (req.prefixes?.length ?? 0));
  const count = checkCount("SecondaryPrivateIpAddressCount", req.count);
  const prefixCount = checkCount("Ipv4PrefixCount", req.prefixCount);
  const explicit = (req.addresses ?? []).map((a) => canonicalIp(a) ?? a);
  const explicitPrefixes = req.prefixes ?? [];
  const wantsAddresses = count > 0 || explicit.length > 0;
  const wantsPrefixes = prefixCount > 0 || explicitPrefixes.length > 0;
  if (announce && !wantsAddresses && !wantsPrefixes) throw missing("SecondaryPrivateIpAddressCount, PrivateIpAddress, Ipv4PrefixCount or Ipv4Prefix");
  if (count > 0 && explicit.length > 0) throw new Ec2Error("InvalidParameterCombination", "Specify either SecondaryPrivateIpAddressCount or PrivateIpAddress, not both");
  if (prefixCount > 0 && explicitPrefixes.length > 0) throw new Ec2Error("InvalidParameterCombination", "Specify either Ipv4PrefixCount or Ipv4Prefix, not both");
  const subnet = subnetOf(ctx, eni);
  const added = count + explicit.length + prefixCount + explicitPrefixes.length;
  if (ipv4Slots(eni) + added > ctx.eniLimits(eni).ipv4) throw ipLimit();

  const moves: { from: Eni; ip: string }[] = [];
  for (const ip of explicit) {
    const why = ipv4Free(ctx.state, subnet, ip);
    if (why === "used") {
      const owner = Object.values(ctx.state.enis).find((e) => e.secondaryIps.includes(ip));
      if (owner?.id === eni.id) throw invalid(`Address ${ip} is already assigned to ${eni.id}`);
      if (!req.allowReassignment || !owner) throw new Ec2Error("InvalidIPAddress.InUse", `Address ${ip} is in use.`);
      moves.push({ from: owner, ip });
    } else if (why !== "ok") throw invalid(`Address ${ip} does not fall within the subnet's address range or is reserved`);
  }
  for (const p of explicitPrefixes)
    if (!ipv4PrefixFree(ctx.state, subnet, p)) throw invalid(`Prefix ${p} is not an aligned /28 of free addresses in ${subnet.id}`);
  const taken = new Set<bigint>();
  const newAddrs = count > 0 ? allocateIpv4(ctx.state, subnet, count, taken) : [];
  const newPrefixes = prefixCount > 0 ? allocateIpv4Prefixes(ctx.state, subnet, prefixCount, taken) : [];

  // All checks passed: change state.
  for (const m of moves) {
    m.from.secondaryIps = m.from.secondaryIps.filter((x) => x !== m.ip);
    if (announce) changed(ctx, m.from, "addressesUnassigned", [hostCidr(m.ip)]);
  }
  const addresses = [...explicit, ...newAddrs];
  const prefixes = [...explicitPrefixes, ...newPrefixes];
  eni.secondaryIps.push(...addresses);
  eni.ipv4Prefixes.push(...prefixes);
  if (announce) changed(ctx, eni, "addressesAssigned", [...addresses.map(hostCidr), ...prefixes]);
  return { addresses, prefixes };
}

export function unassignIpv4(ctx: OpContext, eni: Eni, req: { addresses?: string[]; prefixes?: string[] }): void {
  const addresses = (req.addresses ?? []).map((a) => canonicalIp(a) ?? a);
  const prefixes = req.prefixes ?? [];
  if (addresses.length === 0 && prefixes.length === 0) throw missing("PrivateIpAddress or Ipv4Prefix");
  if (addresses.includes(eni.primaryIp)) throw invalid(`The primary private IP address ${eni.primaryIp} of ${eni.id} cannot be unassigned`);
  if (addresses.some((a) => !eni.secondaryIps.includes(a)) || prefixes.some((p) => !eni.ipv4Prefixes.includes(p)))
    throw invalid(`Some of the specified addresses are not assigned to interface ${eni.id}`);
  eni.secondaryIps = eni.secondaryIps.filter((a) => !addresses.includes(a));
  eni.ipv4Prefixes = eni.ipv4Prefixes.filter((p) => !prefixes.includes(p));
  changed(ctx, eni, "addressesUnassigned", [...addresses.map(hostCidr), ...prefixes]);
}

export function assignIpv6(ctx: OpContext, eni: Eni, req: Ipv6Request, announce: boolean): { addresses: string[]; prefixes: string[] } {
  refuseEfaOnly(eni, (req.count ?? 0) + (req.prefixCount ?? 0) + (req.addresses?.length ?? 0) + (req.prefixes?.length ?? 0));
  const count = checkCount("Ipv6AddressCount", req.count);
  const prefixCount = checkCount("Ipv6PrefixCount", req.prefixCount);
  const explicit = (req.addresses ?? []).map((a) => canonicalIp(a) ?? a);
  const explicitPrefixes = req.prefixes ?? [];
  const added = count + explicit.length + prefixCount + explicitPrefixes.length;
  if (added === 0) {
    if (announce) throw missing("Ipv6AddressCount, Ipv6Addresses, Ipv6PrefixCount or Ipv6Prefix");
    return { addresses: [], prefixes: [] };
  }
  const subnet = subnetOf(ctx, eni);
  if (!subnet.ipv6Cidr) throw invalid(`Subnet ${subnet.id} has no IPv6 CIDR block`);
  const sub6 = parseCidr(subnet.ipv6Cidr);
  if (ipv6Slots(eni) + added > ctx.eniLimits(eni).ipv6) throw ipLimit();
  for (const a of explicit) {
    const p = parseCidr(`${a}/128`);
    if (!p || !sub6 || p.family !== 6 || p.base >> 64n !== sub6.base >> 64n) throw invalid(`Address ${a} is not in subnet ${subnet.id}`);
    if (ipv6InUse(ctx.state, subnet.id, a)) throw new Ec2Error("InvalidIPAddress.InUse", `Address ${a} is in use.`);
  }
  for (const x of explicitPrefixes) {
    const p = parseCidr(x);
    if (!p || !sub6 || p.family !== 6 || p.prefix !== 80 || p.base >> 64n !== sub6.base >> 64n) throw invalid(`Prefix ${x} is not an aligned /80 of subnet ${subnet.id}`);
    if (ipv6InUse(ctx.state, subnet.id, x)) throw new Ec2Error("InvalidIPAddress.InUse", `Prefix ${x} is in use.`);
  }
  const addresses = [...explicit, ...allocateIpv6(ctx.state, subnet, count).filter((a) => !explicit.includes(a))].slice(0, explicit.length + count);
  const prefixes = [...explicitPrefixes, ...allocateIpv6Prefixes(ctx.state, subnet, prefixCount)];
  eni.ipv6Addresses.push(...addresses);
  eni.ipv6Prefixes.push(...prefixes);
  if (announce) changed(ctx, eni, "addressesAssigned", [...addresses.map(hostCidr), ...prefixes]);
  return { addresses, prefixes };
}

export function unassignIpv6(ctx: OpContext, eni: Eni, req: { addresses?: string[]; prefixes?: string[] }): { addresses: string[]; prefixes: string[] } {
  const addresses = (req.addresses ?? []).map((a) => canonicalIp(a) ?? a);
  const prefixes = req.prefixes ?? [];
  if (addresses.length === 0 && prefixes.length === 0) throw missing("Ipv6Addresses or Ipv6Prefix");
  if (eni.primaryIpv6 !== null && addresses.includes(eni.primaryIpv6)) throw invalid(`The primary IPv6 address ${eni.primaryIpv6} of ${eni.id} cannot be unassigned`);
  if (addresses.some((a) => !eni.ipv6Addresses.includes(a)) || prefixes.some((p) => !eni.ipv6Prefixes.includes(p)))
    throw invalid(`Some of the specified addresses are not assigned to interface ${eni.id}`);
  eni.ipv6Addresses = eni.ipv6Addresses.filter((a) => !addresses.includes(a));
  eni.ipv6Prefixes = eni.ipv6Prefixes.filter((p) => !prefixes.includes(p));
  changed(ctx, eni, "addressesUnassigned", [...addresses.map(hostCidr), ...prefixes]);
  return { addresses, prefixes };
}
