/**
 * An ENI's addresses or prefixes: assigned in one call (after a failure other than throttling
 * or a 5xx, one more try for a single one, as upstream), and released only through the drain
 * handshake: addr-broker grants the CIDRs no pod holds, only those are unassigned in EC2.
 */
import type { ExecutorDeps } from "./executor.ts";
import { isRetryable, noteInsufficient } from "./ec2-failures.ts";
import { poolCidr } from "./pool-model.ts";

export async function assign(d: ExecutorDeps, eniId: string, kind: "address" | "prefix", count: number): Promise<void> {
  const m = d.model.enis.get(eniId);
  if (!m) return;
  let added: string[];
  try {
    added = await d.ec2.assign(eniId, d.settings.family, kind, count);
  } catch (err) {
    // Throttling or a 5xx says nothing of the subnet: a second call for one address would
    // spend the account's shared budget on 1 address where the next cycle gets them all.
    // Asking again for the 1 that just failed is pointless too, but upstream does it (compat).
    if ((count <= 1 && d.settings.policy === "demand") || isRetryable(err)) {
      noteInsufficient(d, err);
      throw err;
    }
    // As upstream: on any other error, try to get just one (a nearly full subnet still has
    // some); the insufficient-address window starts only when even one cannot be had.
    try {
      added = await d.ec2.assign(eniId, d.settings.family, kind, 1);
    } catch (err2) {
      noteInsufficient(d, err2);
      throw err2;
    }
  }
  for (const c of added) if (!m.pool.cidrs.some((x) => x.cidr === c)) m.pool.cidrs.push(poolCidr(c, kind));
  d.model.bump();
}

/** Drain handshake: mark draining, ask addr-broker, keep only what it granted. */
export async function drained(d: ExecutorDeps, eniId: string, cidrs: string[], releaseCooling = false): Promise<{ granted: string[]; refused: string[] }> {
  const { model, broker } = d;
  if (cidrs.length === 0) return { granted: [], refused: [] };
  model.setDraining(eniId, cidrs, true);
  let answer;
  try {
    answer = await broker.drain(cidrs, releaseCooling);
  } catch (err) {
    model.setDraining(eniId, cidrs, false);
    throw err;
  }
  const granted = answer.granted.filter((c) => cidrs.includes(c));
  const refused = cidrs.filter((c) => !granted.includes(c));
  if (refused.length) model.setDraining(eniId, refused, false);
  return { granted, refused };
}

export async function release(d: ExecutorDeps, eniId: string, cidrs: string[]): Promise<void> {
  const { model, ec2, settings, opts } = d;
  const m = model.enis.get(eniId);
  if (!m) return;
  model.conditions.shrunk(opts.now());
  const { granted } = await drained(d, eniId, cidrs, !settings.holdCoolingIps);
  for (const kind of ["address", "prefix"] as const) {
    const of = granted.filter((c) => m.pool.cidrs.find((x) => x.cidr === c)?.kind === kind);
    if (of.length === 0) continue;
    try {
      await ec2.unassign(eniId, settings.family, kind, of);
    } catch (err) {
      model.setDraining(eniId, of, false);
      throw err;
    }
    m.pool.cidrs = m.pool.cidrs.filter((c) => !of.includes(c.cidr));
    for (const c of of) d.recentlyFreed.set(c, opts.now());
  }
  model.bump();
}
