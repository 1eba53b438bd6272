/**
 * What the pool-manager reads from Kubernetes before a cycle: the node's taint and max pods,
 * the pods pending on the node (demand-aware), the ENIConfig (custom networking), and the
 * trunk label / CNINode (security groups for pods).
 */
import { recordScheduled } from "../core/demand-history.ts";
import { historyKeepMs } from "../core/demand-policy.ts";
import type { PoolManager } from "./pool-manager.ts";
import type { KubePort } from "./service-ports.ts";

export async function refreshKube(pm: Pick<PoolManager, "limits" | "model" | "settings" | "opts">, kube: KubePort | undefined, log: (msg: string, fields?: Record<string, unknown>) => void): Promise<void> {
  if (!kube) return;
  // Each reading on its own: one failing (API away) must not skip the others.
  const read = async (what: string, fn: () => Promise<void>) => fn().catch((err) => log(`Kubernetes: ${what} not read`, { err: String(err) }));
  await read("node taints", async () => void (pm.model.extra.node.unschedulable = await kube.nodeUnschedulable()));
  // Upstream sizes the pool by the kubelet's max pods (Node capacity), else 110.
  if (pm.limits && pm.opts.maxPods === undefined && kube.nodeMaxPods) {
    await read("node capacity", async () => {
      const pods = await kube.nodeMaxPods!();
      if (pods !== undefined && pm.limits && pm.limits.maxPods !== pods) pm.limits = { ...pm.limits, maxPods: pods };
    });
  }
  if (pm.settings.demandAware) {
    pm.model.podsWatched = false;
    await read("pending pods", async () => {
      const before = pm.model.pendingPods;
      pm.model.pendingPods = await kube.pendingPods(); // stamps the assigned count of this read
      pm.model.podsWatched = kube.podsWatched?.() ?? false;
      // With the watch, a burst is the pods scheduled together (the pending count's rise).
      if (pm.model.podsWatched) pm.model.extra.demand = recordScheduled(pm.model.extra.demand, pm.opts.now(), pm.model.pendingPods - before, historyKeepMs());
    });
  }
  if (pm.settings.customNetwork) {
    await read("ENIConfig", async () => {
      const cfg = await kube.myEniConfig();
      if ("missing" in cfg) pm.model.extra.newEniBlocked = cfg.missing;
      else delete pm.model.extra.newEniBlocked;
    });
  }
  if (pm.settings.podEni && pm.limits?.trunking && kube.ensureSecurityGroupsForPods) await read("trunk label / CNINode", () => kube.ensureSecurityGroupsForPods!());
}
