/**
 * DELs the shim could not hand to this process (shared/pending-del.ts): at start, before the
 * sweep, each recorded attachment still assigned to the same address, and assigned before
 * the DEL was recorded, is released into cooldown (net-config is asked to remove leftovers,
 * as for any release) and its record deleted. A record naming nothing assigned any more is
 * deleted too.
 */
import { hostCidr } from "../../../../shared/ip.ts";
import { readPendingDels, removePendingDel } from "../../../../shared/pending-del.ts";
import { findAllocation, keyOf, type Allocation } from "../core/state.ts";
import type { PodDeps } from "./pod-add.ts";
import { releaseMany } from "./pod-release.ts";
import { releaseGoneCardPods } from "./pod-cards.ts";

export async function releasePendingDels(d: PodDeps, runDir: string): Promise<{ released: number; records: number }> {
  const found = readPendingDels(runDir);
  if (found.length === 0) return { released: 0, records: 0 };
  const { broker } = d;
  const stale: Allocation[] = [];
  for (const { record } of found) {
    const a = findAllocation(broker.state, record);
    // An ADD of the same attachment after the DEL (kubelet retrying) is a new pod: keep it.
    if (!a || broker.isInFlight(keyOf(a)) || a.allocatedAtNs > BigInt(Math.trunc(record.at)) * 1_000_000n) continue;
    if (record.address === "" || sameAddress(record.address, a.address)) stale.push(a);
  }
  const r = await releaseMany(d, stale, "PodDeleted", (a, s) => s.allocations.get(keyOf(a))?.address === a.address);
  // A multi-homed pod's addresses on other network cards go with it.
  const staleKeys = new Set(stale.map((a) => keyOf(a)));
  await releaseGoneCardPods(d, (c) => staleKeys.has(keyOf(c.alloc)));
  for (const { path } of found) removePendingDel(path);
  broker.decide("pending DELs", { records: found.length, released: r.released, errors: r.errors.length });
  broker.log.info({ records: found.length, released: r.released }, "DELs recorded while addr-broker was unreachable: released");
  return { released: r.released, records: found.length };
}

function sameAddress(a: string, b: string): boolean {
  try {
    return hostCidr(a) === hostCidr(b);
  } catch {
    return false;
  }
}
