/**
 * ENIs EC2 shows attached to the instance, taken into the pool: at start-up, and by the
 * reconcile when IMDS disagrees with the pool (EC2 is the truth: ENIs gone leave the pool,
 * new ones are adopted, each known ENI's CIDRs made to match). Unmanaged ENIs are only
 * counted; the others get the ownership tags they lack and their link set up (deferred to
 * the cycles while IMDS does not show them yet).
 */
import type { Ec2Port, Eni, ImdsPort } from "../core/ports.ts";
import { ec2Cidrs, imdsDiffers, reconcileCidrs } from "./ec2-reconcile.ts";
import type { Executor, NodeFacts } from "./executor.ts";
import type { PoolMetrics } from "./metrics.ts";
import type { PoolManagerOptions } from "./pool-manager.ts";
import { eniSetupOf, eniPoolCidrs, type ManagedEni, type PoolModel } from "./pool-model.ts";
import type { NetConfigPort } from "./service-ports.ts";

export interface AdoptionContext {
  model: PoolModel;
  opts: PoolManagerOptions;
  ports: { ec2: Ec2Port; imds: ImdsPort; net: NetConfigPort };
  facts: NodeFacts;
  executor: Executor;
  metrics: PoolMetrics | undefined;
  /** Recently unassigned CIDRs (not re-added from a lagging EC2 view). */
  recentlyFreed: Map<string, number>;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

/** Subnets tagged kubernetes.io/role/cni=0 (subnet discovery only). */
export async function excludedSubnets(x: AdoptionContext): Promise<Set<string>> {
  if (!x.opts.subnetDiscovery) return new Set();
  try {
    const subnets = await x.ports.ec2.subnets(x.facts.vpcId, x.facts.az);
    return new Set(subnets.filter((s) => s.tags["kubernetes.io/role/cni"] === "0" && s.id !== x.facts.primarySubnetId).map((s) => s.id));
  } catch {
    return new Set();
  }
}

/**
 * An ENI this node leaves alone (upstream setUnmanagedENIs): tagged no_manage=true; or, with
 * MANAGE_UNTAGGED_ENI=false, carrying neither a no_manage tag nor this instance's instance_id
 * tag. The primary ENI is always managed. IMDS-only mode sees no tags: every ENI is managed.
 */
export function isUnmanagedEni(e: Pick<Eni, "tags">, instanceId: string, manageUntagged: boolean): boolean {
  const noManage = e.tags["node.k8s.amazonaws.com/no_manage"];
  if (noManage !== undefined) return noManage === "true";
  if (e.tags["node.k8s.amazonaws.com/instance_id"] === instanceId) return false;
  return !manageUntagged;
}

const unmanaged = (x: AdoptionContext, e: Eni) => !x.opts.imdsOnly && isUnmanagedEni(e, x.facts.instanceId, x.opts.manageUntaggedEnis ?? true);

/** Takes an attached ENI into the pool: unmanaged are only counted; others tagged and set up. */
export async function adoptEni(x: AdoptionContext, e: Eni, primaryId: string, subnetCidr: string | undefined, excluded: Set<string>): Promise<void> {
  const isPrimary = e.id === primaryId;
  if (!isPrimary && unmanaged(x, e)) {
    x.model.unmanaged++;
    return;
  }
  const trunk = e.interfaceType === "trunk";
  const efa = e.interfaceType === "efa";
  const want = { "node.k8s.amazonaws.com/instance_id": x.facts.instanceId, ...(x.opts.clusterName ? { "cluster.k8s.amazonaws.com/name": x.opts.clusterName } : {}) };
  const missing = Object.fromEntries(Object.entries(want).filter(([k, v]) => e.tags[k] !== v));
  if (!trunk && !x.opts.disableProvisioning && !x.opts.imdsOnly && Object.keys(missing).length > 0) await x.ports.ec2.createTags([e.id], missing);
  const cidrs = eniPoolCidrs(e);
  const m: ManagedEni = {
    pool: { id: e.id, deviceNumber: e.attachment?.deviceIndex ?? 0, subnetId: e.subnetId, primary: isPrimary, trunk, efa, excluded: excluded.has(e.subnetId), createdAtMs: e.attachment?.attachedAtMs ?? x.opts.now(), cidrs },
    mac: e.mac,
    primaryIp: e.primaryIp,
    subnetCidr: subnetCidr ?? "",
    securityGroups: e.securityGroups,
    ...(e.attachment ? { attachmentId: e.attachment.id } : {}),
    ready: isPrimary,
  };
  x.model.enis.set(e.id, m);
  if (!isPrimary) {
    if (m.subnetCidr) {
      await x.ports.net.setupEni(eniSetupOf(m));
      m.ready = true;
    } else await x.executor.finishSetup(m).catch((err) => x.log("ENI set-up deferred", { eni: e.id, err: String(err) }));
  }
}

/** The pool made to match EC2 when IMDS disagrees with it (upstream nodeIPPoolReconcile). */
export async function reconcileWithEc2(x: AdoptionContext, now: number): Promise<void> {
  const { model, metrics } = x;
  const imdsIfs = await x.ports.imds.interfaces();
  const differs = imdsDiffers(model.enis, model.unmanaged, imdsIfs);
  if (!differs) return;
  // IMDS is a hint; EC2 is the truth (verifyImdsWithEc2), as upstream does on a mismatch.
  const enis = await x.ports.ec2.instanceEnis(x.facts.instanceId);
  const seenIds = new Set(enis.map((e) => e.id));
  for (const [id, m] of model.enis) {
    if (seenIds.has(id) || m.pool.primary) continue;
    const usage = model.poolUsage(false);
    const assigned = m.pool.cidrs.reduce((n, c) => n + (usage.byCidr[c.cidr]?.assigned ?? 0), 0);
    if (assigned > 0) {
      metrics?.forceRemovedEnis.inc();
      metrics?.forceRemovedIps.inc(assigned);
    }
    model.enis.delete(id);
    metrics?.reconcile.inc({ fn: "eniReconcileDel" });
  }
  const cidrsOf = new Map(imdsIfs.map((i) => [i.interfaceId, i.subnetCidr]));
  for (const e of enis) {
    const m = model.enis.get(e.id);
    if (!m) {
      if (unmanaged(x, e)) continue;
      await adoptEni(x, e, "", cidrsOf.get(e.id), new Set());
      metrics?.reconcile.inc({ fn: "eniReconcileAdd" });
      continue;
    }
    const r = reconcileCidrs(m.pool.cidrs, ec2Cidrs(e), x.recentlyFreed, now);
    m.pool.cidrs = r.cidrs;
    if (r.removed > 0) metrics?.reconcile.inc({ fn: "eniIPPoolReconcileDel" });
    if (r.added > 0) metrics?.reconcile.inc({ fn: "eniIPPoolReconcileAdd" }, r.added);
  }
  model.bump();
}
