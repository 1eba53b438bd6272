/**
 * ENIs EC2 shows attached to the instance, taken into the pool: at start-up, and by the
 * reconcile when IMDS disagrees with the pool (EC2 is the truth: ENIs gone leave the pool,
 * new ones are adopted, each known ENI's CIDRs made to match). ENIs on network cards other
 * than 0 are left alone and not counted (upstream without ENABLE_MULTI_NIC: those cards are
 * unmanaged, their ENIs skipped without counting against card 0's limit); unmanaged ENIs
 * (`no_manage`, efa-only) on card 0 are only counted; the others get the ownership tags they
 * lack and their link set up (deferred to the cycles while IMDS does not show them yet).
 */
import { MANAGED_NETWORK_CARD, type Ec2Port, type Eni, type ImdsPort } from "../core/ports.ts";
import { subnetExcluded } from "../core/subnet-discovery.ts";
import { ownerTags } from "./eni-create.ts";
import { ec2Cidrs, imdsCidrs, imdsDiffers, reconcileCidrs } from "./ec2-reconcile.ts";
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
  /** false (upstream): IMDS's address lists are taken as they are; EC2 is asked only about ENIs new to the pool. */
  verifyImdsWithEc2: boolean;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

/** Subnets whose ENIs give pods no address: tagged kubernetes.io/role/cni=0 or for another cluster, the node's own included (subnet discovery only, as upstream). */
export async function excludedSubnets(x: AdoptionContext): Promise<Set<string>> {
  if (!x.opts.subnetDiscovery) return new Set();
  try {
    const subnets = await x.ports.ec2.subnets(x.facts.vpcId, x.facts.az);
    return new Set(subnets.filter((s) => subnetExcluded(s.tags, x.opts.clusterName)).map((s) => s.id));
  } catch {
    return new Set();
  }
}

/** An ENI attached on a network card the pool does not manage (upstream IsUnmanagedNIC). */
export function onUnmanagedCard(e: Eni): boolean {
  return (e.attachment?.networkCard ?? MANAGED_NETWORK_CARD) !== MANAGED_NETWORK_CARD;
}

/** Card 0's ENIs the pool never takes: tagged `no_manage`, or efa-only (no addresses); counted against the limit (upstream filterUnmanagedENIs). */
function unmanagedOnCard0(e: Eni, isPrimary: boolean): boolean {
  return !isPrimary && (e.tags["node.k8s.amazonaws.com/no_manage"] === "true" || e.interfaceType === "efa-only");
}

/** Takes an attached ENI into the pool: other cards' left alone, unmanaged only counted; others tagged and set up. */
export async function adoptEni(x: AdoptionContext, e: Eni, primaryId: string, subnetCidr: string | undefined, excluded: Set<string>): Promise<void> {
  const isPrimary = e.id === primaryId;
  if (onUnmanagedCard(e)) {
    x.model.otherCardEnis.add(e.id);
    return;
  }
  if (unmanagedOnCard0(e, isPrimary)) {
    x.model.unmanaged++;
    return;
  }
  const trunk = e.interfaceType === "trunk";
  const efa = e.interfaceType === "efa";
  // Upstream's TagENI: every managed ENI but the trunk, the primary included, gets the owner tags it lacks.
  const want = ownerTags(x.opts, x.facts.instanceId);
  const missing = Object.fromEntries(Object.entries(want).filter(([k, v]) => e.tags[k] !== v));
  if (!trunk && !x.opts.disableProvisioning && Object.keys(missing).length > 0) await x.ports.ec2.createTags([e.id], missing);
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

/** The pool made to match EC2 when IMDS disagrees with it (upstream nodeIPPoolReconcile); card 0 only. */
export async function reconcileWithEc2(x: AdoptionContext, now: number): Promise<void> {
  const { model, metrics } = x;
  const imdsIfs = await x.ports.imds.interfaces();
  const differs = imdsDiffers(model.enis, model.unmanaged, imdsIfs);
  if (!differs) return;
  const card0 = imdsIfs.filter((i) => i.networkCard === MANAGED_NETWORK_CARD);
  const newToPool = card0.filter((i) => !model.enis.has(i.interfaceId)).length;
  if (!x.verifyImdsWithEc2 && newToPool === model.unmanaged) {
    // Upstream: IMDS's lists are the truth for the ENIs the pool knows; EC2 is not asked.
    const truth = new Map(card0.map((i) => [i.interfaceId, new Set(imdsCidrs(i))]));
    applyTruth(x, truth, now);
    return;
  }
  // IMDS is a hint; EC2 is the truth (AWS_VPC_CNI_VERIFY_IMDS_WITH_EC2), and upstream too asks
  // EC2 when an ENI is new to the pool (for its tags).
  const enis = await x.ports.ec2.instanceEnis(x.facts.instanceId);
  const cidrsOf = new Map(imdsIfs.map((i) => [i.interfaceId, i.subnetCidr]));
  // Other cards' and unmanaged ENIs are recounted from EC2's view (upstream recounts its
  // unmanaged ENIs on every reconcile too); adoptEni counts them.
  model.otherCardEnis.clear();
  model.unmanaged = 0;
  for (const e of enis) {
    if (model.enis.has(e.id)) continue;
    await adoptEni(x, e, "", cidrsOf.get(e.id), new Set());
    if (model.enis.has(e.id)) metrics?.reconcile.inc({ fn: "eniReconcileAdd" });
  }
  applyTruth(x, new Map(enis.filter((e) => model.enis.has(e.id)).map((e) => [e.id, ec2Cidrs(e)])), now);
}

/** ENIs gone from `truth` leave the pool (counting the pods' addresses they took); the others' CIDRs are made to match. */
function applyTruth(x: AdoptionContext, truth: ReadonlyMap<string, ReadonlySet<string>>, now: number): void {
  const { model, metrics } = x;
  for (const [id, m] of model.enis) {
    if (truth.has(id) || m.pool.primary) continue;
    const usage = model.poolUsage(false);
    const assigned = m.pool.cidrs.reduce((n, c) => n + (usage.byCidr[c.cidr]?.assigned ?? 0), 0);
    if (assigned > 0) {
      metrics?.forceRemovedEnis.inc();
      metrics?.forceRemovedIps.inc(assigned);
    }
    model.enis.delete(id);
    metrics?.reconcile.inc({ fn: "eniReconcileDel" });
  }
  for (const [id, cidrs] of truth) {
    const m = model.enis.get(id);
    if (!m) continue;
    const r = reconcileCidrs(m.pool.cidrs, cidrs, x.recentlyFreed, now);
    m.pool.cidrs = r.cidrs;
    if (r.removed > 0) metrics?.reconcile.inc({ fn: "eniIPPoolReconcileDel" });
    if (r.added > 0) metrics?.reconcile.inc({ fn: "eniIPPoolReconcileAdd" }, r.added);
  }
  model.bump();
}
