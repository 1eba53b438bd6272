/**
 * Who holds which address of the egress ranges (egress-cni), and the egress plugin's
 * network configuration. Pure. Addresses are handed out as upstream's host-local IPAM does:
 * round robin from the one after the last handed out, the network address, the gateway
 * (the range's first address) and, for IPv4, the broadcast address excluded; so a released
 * address is reused only after the whole range went round.
 */
import { EGRESS_V4, EGRESS_V6, egressRange, type EgressFamily } from "../../../../shared/egress.ts";
import { canonicalIp, contains, nth, parseCidr, parseIp, size } from "../../../../shared/ip.ts";
import { isValidContainerId, isValidIfName } from "../../../../shared/naming.ts";
import { CniCode, CniError } from "./cni-error.ts";

export interface EgressAllocation {
  network: string;
  containerId: string;
  ifName: string;
  address: string;
  /** Set once net-config wired it. */
  hostVeth?: string;
  netns?: string;
}

export interface EgressState {
  allocations: ReadonlyMap<string, EgressAllocation>;
  /** Per range (its subnet), the address handed out last. */
  last: ReadonlyMap<string, string>;
}

export const EMPTY_EGRESS: EgressState = { allocations: new Map(), last: new Map() };

export function egressKey(k: { network: string; containerId: string; ifName: string }): string {
  return `${k.network}/${k.containerId}/${k.ifName}`;
}

/** The range's addresses that may be handed out: [first, last] as indexes into the subnet. */
function usable(family: EgressFamily): { first: bigint; last: bigint } {
  const c = parseCidr(egressRange(family).subnet)!;
  return { first: 2n, last: size(c) - (family === 4 ? 2n : 1n) };
}

/** The next free address after the last handed out, wrapping round; undefined when the range is full. */
export function nextEgressAddress(state: EgressState, family: EgressFamily): string | undefined {
  const range = egressRange(family);
  const c = parseCidr(range.subnet)!;
  const { first, last } = usable(family);
  const taken = new Set([...state.allocations.values()].map((a) => a.address));
  const prev = state.last.get(range.subnet);
  const prevIdx = prev && contains(c, prev) ? parseIp(prev)!.value - c.base : first - 1n;
  const count = last - first + 1n;
  for (let i = 1n; i <= count; i++) {
    const idx = first + ((prevIdx - first + i) % count + count) % count;
    const ip = nth(c, idx);
    if (!taken.has(ip)) return ip;
  }
  return undefined;
}

/** How many addresses a range can hand out (1021 for IPv4, 1022 for IPv6). */
export function egressCapacity(family: EgressFamily): number {
  const { first, last } = usable(family);
  return Number(last - first + 1n);
}

export function withEgress(state: EgressState, a: EgressAllocation): EgressState {
  const allocations = new Map(state.allocations);
  allocations.set(egressKey(a), a);
  const last = new Map(state.last);
  last.set(egressRange(parseIp(a.address)!.family).subnet, a.address);
  return { allocations, last };
}

export function withoutEgress(state: EgressState, key: string): EgressState {
  const allocations = new Map(state.allocations);
  allocations.delete(key);
  return { allocations, last: state.last };
}

const FORMAT = "aws-vpc-cni-egress/1";

export function encodeEgress(state: EgressState): string {
  return JSON.stringify({ version: FORMAT, last: Object.fromEntries(state.last), allocations: [...state.allocations.values()] }) + "\n";
}

/** Throws (naming what is wrong) on a file this code did not write. */
export function decodeEgress(text: string): EgressState {
  const raw = JSON.parse(text) as { version?: unknown; last?: unknown; allocations?: unknown };
  if (raw.version !== FORMAT) throw new Error(`version: expected ${FORMAT}, found ${JSON.stringify(raw.version)}`);
  if (!Array.isArray(raw.allocations)) throw new Error("allocations: not a list");
  let state: EgressState = EMPTY_EGRESS;
  const seen = new Set<string>();
  raw.allocations.forEach((x: unknown, i: number) => {
    const a = x as Partial<EgressAllocation>;
    const ip = typeof a.address === "string" ? canonicalIp(a.address) : undefined;
    const inRange = ip && [EGRESS_V4, EGRESS_V6].some((r) => contains(parseCidr(r.subnet)!, ip));
    if (typeof a.network !== "string" || !isValidContainerId(a.containerId ?? "") || !isValidIfName(a.ifName ?? "") || !inRange || seen.has(ip)) {
      throw new Error(`allocations.${i}: not a valid egress allocation (${JSON.stringify(x)})`);
    }
    seen.add(ip);
    state = withEgress(state, { ...(a as EgressAllocation), address: ip });
  });
  const last = new Map<string, string>();
  for (const [k, v] of Object.entries((raw.last ?? {}) as Record<string, unknown>)) if (typeof v === "string" && canonicalIp(v)) last.set(k, canonicalIp(v)!);
  return { allocations: state.allocations, last };
}

/** egress-cni's own keys of the network configuration, validated; errors name the key. */
export interface EgressConf {
  enabled: boolean;
  family: EgressFamily;
  nodeIp: string;
  mtu: number;
  randomizeSnat: "prng" | "hashrandom" | "none";
}

function bad(field: string, message: string): CniError {
  return new CniError(CniCode.INVALID_NETWORK_CONFIG, `${field}: ${message}`);
}

export function parseEgressConf(raw: Record<string, unknown>): EgressConf {
  // Upstream's plugin does nothing unless `enabled` is the string "true".
  if (raw.enabled !== "true") return { enabled: false, family: 4, nodeIp: "", mtu: 0, randomizeSnat: "prng" };
  const nodeIp = raw.nodeIP;
  const p = typeof nodeIp === "string" ? parseIp(nodeIp) : undefined;
  if (!p) throw bad("nodeIP", `${JSON.stringify(nodeIp)} is not an IP address`);
  const family = p.family;
  const mtu = Number(raw.mtu);
  if (typeof raw.mtu !== "string" || !Number.isInteger(mtu) || mtu < 576 || mtu > 9001) throw bad("mtu", `${JSON.stringify(raw.mtu)} must be a string holding an integer from 576 to 9001`);
  const rnd = raw.randomizeSNAT ?? "prng";
  if (rnd !== "prng" && rnd !== "hashrandom" && rnd !== "none") throw bad("randomizeSNAT", `${JSON.stringify(rnd)} is not prng, hashrandom or none`);
  const ipam = raw.ipam as { ranges?: Array<Array<{ subnet?: unknown }>> } | undefined;
  const subnet = ipam?.ranges?.[0]?.[0]?.subnet;
  const want = egressRange(family).subnet;
  if (typeof subnet !== "string" || parseCidr(subnet, false)?.base !== parseCidr(want)!.base || parseCidr(subnet, false)?.prefix !== parseCidr(want)!.prefix) {
    throw bad("ipam.ranges", `${JSON.stringify(subnet)}: with an IPv${family} nodeIP the egress range must be ${want}`);
  }
  if (family === 6 && String(nodeIp).toLowerCase().startsWith("fe80:")) throw bad("nodeIP", "global unicast IPv6 not found in host primary interface which is mandatory to support IPv6 egress");
  return { enabled: true, family, nodeIp: canonicalIp(nodeIp as string)!, mtu, randomizeSnat: rnd };
}
