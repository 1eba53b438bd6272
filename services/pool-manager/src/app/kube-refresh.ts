/**
 * What the pool-manager reads from Kubernetes before a cycle: the node's taint and max pods,
 * the pods pending on the node (demand-aware), the ENIConfig (custom networking), and the
 * trunk label / CNINode (security groups for pods). Readings land in the model through its
 * named operations; the node's max pods is answered to the caller, which owns the limits.
 */
import type { PoolSettings } from "../core/settings.ts";
import type { PoolModel } from "./pool-model.ts";
import type { KubePort } from "./service-ports.ts";

export interface KubeRefresh {
  model: PoolModel;
  settings: PoolSettings;
  now: () => number;
  /** Read the Node's capacity (the kubelet's --max-pods): no operator-given value. */
  readMaxPods: boolean;
  /** ENABLE_POD_ENI, a trunking instance type, and a slot free for the trunk (or the trunk attached): core/planner.ts trunkSlotAvailable. */
  trunking: boolean;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  /** Start-up's reading (upstream's nodeInit), not a cycle's. */
  starting?: boolean;
  /** awscni_pod_eni_error_count, by upstream's fn: the Node not read at start-up, security groups for pods not enabled. */
  podEniError?: (fn: "nodeInit" | "tryEnableSecurityGroupsForPods") => void;
}

/** Reads what the settings need; answers the Node's max pods when read and known. */
export async function refreshKube(kube: KubePort | undefined, x: KubeRefresh): Promise<{ maxPods?: number }> {
  if (!kube) return {};
  const { model, settings } = x;
  const out: { maxPods?: number } = {};
  // Each reading on its own: one failing (API away) must not skip the others.
  const read = async (what: string, fn: () => Promise<void>, podEniFn?: "nodeInit" | "tryEnableSecurityGroupsForPods") =>
    fn().catch((err) => {
      x.log(`Kubernetes: ${what} not read`, { err: String(err) });
      if (podEniFn) x.podEniError?.(podEniFn);
    });
  await read("node taints", async () => model.conditions.nodeUnschedulable(await kube.nodeUnschedulable()));
  // Upstream sizes the pool by the kubelet's max pods (Node capacity), else 110.
  if (x.readMaxPods && kube.nodeMaxPods) {
    await read(
      "node capacity",
      async () => {
        const pods = await kube.nodeMaxPods!();
        if (pods !== undefined) out.maxPods = pods;
      },
      x.starting ? "nodeInit" : undefined,
    );
  }
  if (settings.demandAware) {
    model.podsWatched = false;
    await read("pending pods", async () => {
      const before = model.pendingPods;
      model.pendingPods = await kube.pendingPods(); // stamps the assigned count of this read
      model.podsWatched = kube.podsWatched?.() ?? false;
      // With the watch, a burst is the pods scheduled together (the pending count's rise).
      if (model.podsWatched) model.conditions.podsScheduled(x.now(), model.pendingPods - before);
    });
  }
  if (settings.customNetwork) {
    await read("ENIConfig", async () => {
      const cfg = await kube.myEniConfig();
      if ("missing" in cfg) model.conditions.blockNewEnis(cfg.missing);
      else model.conditions.allowNewEnis();
    });
  }
  if (settings.podEni && x.trunking && kube.ensureSecurityGroupsForPods) await read("trunk label / CNINode", () => kube.ensureSecurityGroupsForPods!(), "tryEnableSecurityGroupsForPods");
  return out;
}
