/** What the pool-manager shows of itself: the /debug JSON and the pool gauges. */
import { deriveLimits } from "../core/settings.ts";
import type { PoolMetrics } from "./metrics.ts";
import type { PoolManager } from "./pool-manager.ts";
import type { PoolModel } from "./pool-model.ts";
import type { KubePort } from "./service-ports.ts";

export function poolDebug(pm: Pick<PoolManager, "model" | "settings" | "limits" | "facts" | "backoff" | "decisions" | "opts" | "cardPools">, kube: KubePort | undefined): Record<string, unknown> {
  const cardEnis = pm.cardPools?.eniIds() ?? new Set<string>();
  return {
    ready: pm.model.ready,
    settings: pm.settings,
    limits: pm.limits && { ...pm.limits, ...deriveLimits(pm.settings, pm.limits) },
    facts: pm.facts,
    shortage: pm.model.shortage,
    enis: [...pm.model.enis.values()].map((m) => ({ ...m.pool, mac: m.mac, ready: m.ready, usage: m.pool.cidrs.map((c) => ({ ...(pm.model.usage?.cidrs.find((u) => u.cidr === c.cidr) ?? { assigned: 0, cooling: 0 }), cidr: c.cidr })) })),
    unmanagedEnis: pm.model.unmanaged,
    // ENIs on cards this node leaves alone (with ENABLE_MULTI_NIC, those its card pools hold are under networkCards).
    otherNetworkCardEnis: [...pm.model.otherCardEnis].filter((id) => !cardEnis.has(id)),
    ...(pm.cardPools ? { networkCards: pm.cardPools.debug() } : {}),
    // ENIs created here still lacking DeleteOnTermination, ENIs still to delete, and the cycle back-off.
    deleteOnTerminationPending: [...pm.model.enis.values()].filter((m) => m.deleteOnTermination === false).map((m) => m.pool.id),
    pendingEniDeletes: Object.fromEntries(pm.model.pendingDeletes),
    cycleBackoff: pm.backoff.untilMs > pm.opts.now() ? { ...pm.backoff, remainingMs: pm.backoff.untilMs - pm.opts.now() } : { failures: 0 },
    kubernetes: kube?.debug?.() ?? { status: kube ? "kubernetes: configured" : "kubernetes: not configured (no KUBECONFIG, no in-cluster API server)" },
    usage: pm.model.usage,
    decisions: pm.decisions.slice(-30),
  };
}

export function updatePoolGauges(model: PoolModel, metrics: PoolMetrics | undefined): void {
  if (!metrics) return;
  const st = model.poolState();
  const usage = model.poolUsage(false);
  metrics.eniAllocated.set(st.enis.length);
  metrics.totalIps.set(st.enis.flatMap((e) => e.cidrs).reduce((n, c) => n + (c.kind === "address" ? 1 : c.size), 0));
  metrics.totalPrefixes.set(st.enis.flatMap((e) => e.cidrs).filter((c) => c.kind === "prefix").length);
  metrics.assignedPerEni.reset(); // an ENI that left the pool leaves the gauge too
  for (const e of st.enis) metrics.assignedPerEni.set({ eni: e.id }, e.cidrs.reduce((n, c) => n + (usage.byCidr[c.cidr]?.assigned ?? 0), 0));
}
