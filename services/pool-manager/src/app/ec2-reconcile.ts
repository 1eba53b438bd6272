/**
 * The pure parts of the reconcile against EC2 (upstream's nodeIPPoolReconcile) and of the
 * leaked-ENI clean-up: when IMDS disagrees with the pool, what EC2's truth changes in an
 * ENI's CIDRs, and which detached ENIs are this project's leftovers. No I/O, no clock reads.
 */
import { MANAGED_NETWORK_CARD, type Eni, type ImdsInterface } from "../core/ports.ts";
import type { PoolCidr } from "../core/pool-state.ts";
import { poolCidr } from "./pool-model.ts";

/** A CIDR freed to EC2 is not re-added from a lagging view for this long (upstream: 60 s). */
export const REFREE_GUARD_MS = 60_000;
/** Leaked ENIs younger than this are left alone: they may still be on their way to an instance. */
export const LEAKED_ENI_MIN_AGE_MS = 5 * 60_000;

/** The CIDRs an IMDS interface shows (secondary /32s, prefixes), as the pool writes them. */
export function imdsCidrs(i: ImdsInterface): string[] {
  return [...i.localIpv4s.slice(1).map((ip) => `${ip}/32`), ...i.ipv4Prefixes, ...i.ipv6Prefixes];
}

/**
 * True when IMDS lists another number of ENIs than the pool knows, or other CIDRs on a known
 * one. ENIs on network cards other than 0 are not the pool's and not compared.
 */
export function imdsDiffers(known: ReadonlyMap<string, { pool: { cidrs: PoolCidr[] } }>, unmanaged: number, allImds: ImdsInterface[]): boolean {
  const imds = allImds.filter((i) => i.networkCard === MANAGED_NETWORK_CARD);
  if (imds.length !== known.size + unmanaged) return true;
  return imds.some((i) => {
    const m = known.get(i.interfaceId);
    if (!m) return false;
    const have = new Set(m.pool.cidrs.map((c) => c.cidr));
    const seen = imdsCidrs(i);
    return seen.length !== have.size || seen.some((c) => !have.has(c));
  });
}

/** EC2's CIDRs of an ENI, as the pool writes them. */
export function ec2Cidrs(e: Pick<Eni, "secondaryIps" | "ipv4Prefixes" | "ipv6Prefixes">): Set<string> {
  return new Set([...e.secondaryIps.map((ip) => `${ip}/32`), ...e.ipv4Prefixes, ...e.ipv6Prefixes]);
}

/**
 * An ENI's CIDRs made to match EC2: what EC2 no longer has is dropped; what EC2 has and the
 * pool does not is added, unless the pool freed it moments ago (EC2's view may lag the free).
 */
export function reconcileCidrs(current: PoolCidr[], truth: ReadonlySet<string>, recentlyFreed: ReadonlyMap<string, number>, now: number): { cidrs: PoolCidr[]; removed: number; added: number } {
  const cidrs = current.filter((c) => truth.has(c.cidr));
  const removed = current.length - cidrs.length;
  let added = 0;
  for (const c of truth) {
    if (cidrs.some((x) => x.cidr === c)) continue;
    const freed = recentlyFreed.get(c);
    if (freed !== undefined && now - freed < REFREE_GUARD_MS) continue;
    cidrs.push(poolCidr(c, c.endsWith("/32") || c.endsWith("/128") ? "address" : "prefix"));
    added++;
  }
  return { cidrs, removed, added };
}

/** A detached ENI this project created (description aws-K8S-, createdAt tag) and old enough to delete. */
export function isLeakedEni(e: Pick<Eni, "description" | "tags">, now: number): boolean {
  const created = Date.parse(e.tags["node.k8s.amazonaws.com/createdAt"] ?? "");
  return e.description.startsWith("aws-K8S-") && Number.isFinite(created) && now - created >= LEAKED_ENI_MIN_AGE_MS;
}
