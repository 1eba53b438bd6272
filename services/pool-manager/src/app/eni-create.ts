/**
 * One new ENI, from the target subnet to ready: created with its addresses and tags in one
 * call (the next subnet when one is too full; the ENI alone when no subnet holds it with
 * all its addresses), attached at a free device index (deleted again if the attach fails),
 * taken into the pool, waited for in IMDS and set up by net-config.
 */
import { ec2Code, type Eni, type Subnet, type Tags } from "../core/ports.ts";
import { CNI_ROLE_TAG, subnetExcluded, subnetTakesNewEnis } from "../core/subnet-discovery.ts";
import type { DeviceIndexes } from "./device-indexes.ts";
import { INSUFFICIENT, noteInsufficient } from "./ec2-failures.ts";
import { deleteOrQueue } from "./eni-delete.ts";
import type { ExecutorDeps } from "./executor.ts";
import { eniSetupOf, eniPoolCidrs, type ManagedEni } from "./pool-model.ts";

async function targetSubnet(d: ExecutorDeps): Promise<{ subnetIds: string[]; securityGroups: string[] }> {
  const { settings, facts, opts, kube } = d;
  if (settings.customNetwork) {
    const cfg = await kube?.myEniConfig();
    if (!cfg || "missing" in cfg) throw new Error(cfg && "missing" in cfg ? cfg.missing : "custom networking needs the Kubernetes API");
    return { subnetIds: [cfg.subnetId], securityGroups: cfg.securityGroups.length ? cfg.securityGroups : facts.primarySecurityGroups };
  }
  const own = { subnetIds: [facts.primarySubnetId], securityGroups: facts.primarySecurityGroups };
  if (!opts.subnetDiscovery) {
    // As upstream: the node's own subnet, unless tagged out; if the tags cannot be read, it is used.
    const primary = await primarySubnetTags(d).catch(() => undefined);
    if (primary && subnetExcluded(primary, opts.clusterName)) throw new Error(`the node's subnet ${facts.primarySubnetId} is tagged ${CNI_ROLE_TAG}=${primary[CNI_ROLE_TAG]} and subnet discovery is off (ENABLE_SUBNET_DISCOVERY=false): no subnet may take a new ENI`);
    return own;
  }
  let subnets: Subnet[];
  try {
    subnets = await d.ec2.subnets(facts.vpcId, facts.az);
  } catch (first) {
    // As upstream: the node's own subnet, once a second read shows it is not tagged out; no ENI if that read fails too.
    const primary = await primarySubnetTags(d).catch((err) => {
      throw new Error(`subnet discovery: DescribeSubnets failed (${String(first)}), and again checking the node's subnet: ${String(err)}`);
    });
    if (primary && subnetExcluded(primary, opts.clusterName)) throw new Error(`the node's subnet ${facts.primarySubnetId} is tagged ${CNI_ROLE_TAG}=${primary[CNI_ROLE_TAG]}: no subnet may take a new ENI`);
    return own;
  }
  const eligible = subnets
    .filter((s) => subnetTakesNewEnis(s.tags, s.id === facts.primarySubnetId, opts.clusterName))
    .sort((a, b) => b.availableIps - a.availableIps);
  if (eligible.length === 0) throw new Error(`no subnet may take a new ENI: the node's subnet is tagged ${CNI_ROLE_TAG}=0 (or belongs to another cluster) and no other subnet of the AZ is tagged ${CNI_ROLE_TAG} for this cluster`);
  return { subnetIds: eligible.map((s) => s.id), securityGroups: facts.primarySecurityGroups };
}

/** The node's own subnet's tags (undefined when the VPC does not list it). */
async function primarySubnetTags(d: ExecutorDeps): Promise<Record<string, string> | undefined> {
  const subnets = await d.ec2.subnets(d.facts.vpcId, d.facts.az);
  return subnets.find((s) => s.id === d.facts.primarySubnetId)?.tags;
}

/** The tags upstream puts on every ENI the node manages (buildENITags): owner, cluster, ADDITIONAL_ENI_TAGS. */
export function ownerTags(opts: { clusterName?: string | undefined; additionalTags: Record<string, string> }, instanceId: string): Tags {
  const extra = Object.fromEntries(Object.entries(opts.additionalTags).filter(([k]) => !k.includes("k8s.amazonaws.com")));
  return {
    "node.k8s.amazonaws.com/instance_id": instanceId,
    ...(opts.clusterName ? { "cluster.k8s.amazonaws.com/name": opts.clusterName, "eks:eni:owner": "amazon-vpc-cni" } : {}),
    ...extra,
  };
}

/** A new ENI's tags: the owner tags and its creation time (the leaked-ENI clean-up reads it). */
export function eniTags(d: ExecutorDeps): Tags {
  return { "node.k8s.amazonaws.com/createdAt": new Date(d.opts.now()).toISOString(), ...ownerTags(d.opts, d.facts.instanceId) };
}

export async function createAndAttach(d: ExecutorDeps, devices: DeviceIndexes, kind: "address" | "prefix", count: number, yieldToOthers = false): Promise<ManagedEni> {
  const { ec2, facts, settings } = d;
  const target = await targetSubnet(d);
  // The device index first (a Describe, from its own bucket): when that read fails, no ENI
  // was created for nothing (a create and a delete from the account's addressing budget).
  const device = await devices.claimFree();
  try {
    let created;
    let lastErr: unknown;
    const create = (subnetId: string, n: number) =>
      ec2.createEni({ subnetId, description: `aws-K8S-${facts.instanceId}`, securityGroups: target.securityGroups, family: settings.family, cidrKind: kind, count: n, tags: eniTags(d), ...(yieldToOthers ? { yieldToOthers } : {}) });
    for (const subnetId of target.subnetIds) {
      try {
        created = await create(subnetId, count);
        break;
      } catch (err) {
        lastErr = err;
        if (!INSUFFICIENT.has(ec2Code(err) ?? "")) throw err;
      }
    }
    // Better than upstream: a subnet too full for the ENI with all its addresses may still
    // hold the ENI alone; later cycles add what is left one by one (see assign).
    if (!created && count > 0 && ec2Code(lastErr) === "InsufficientFreeAddressesInSubnet") {
      try {
        created = await create(target.subnetIds[0]!, 0);
      } catch (err) {
        lastErr = err;
      }
    }
    if (!created) {
      noteInsufficient(d, lastErr);
      throw lastErr;
    }
    let attachmentId: string;
    try {
      attachmentId = await ec2.attachEni(created.id, facts.instanceId, device);
    } catch (err) {
      devices.forget(); // e.g. the device was taken by someone else: read EC2 again
      // Never attached: delete it now, or in a later cycle (it must not leak).
      await deleteOrQueue(d, created.id, `created, not attached (${ec2Code(err) ?? "error"})`);
      throw err;
    }
    return adoptCreated(d, created, device, attachmentId);
  } finally {
    devices.unclaim(device);
  }
}

/** A created and attached ENI into the pool (not ready until IMDS shows it). */
function adoptCreated(d: ExecutorDeps, created: Eni, device: number, attachmentId: string): ManagedEni {
  const { model, opts } = d;
  // Without DeleteOnTermination the ENI outlives the instance. It is set by `repair`, once the
  // pool is no longer short (the pods' addresses come first from the account's shared
  // budget), and retried each cycle until set.
  const deleteOnTermination = false;
  const cidrs = eniPoolCidrs(created);
  const m: ManagedEni = {
    pool: { id: created.id, deviceNumber: device, subnetId: created.subnetId, primary: false, trunk: false, efa: false, excluded: false, createdAtMs: opts.now(), cidrs },
    mac: created.mac,
    primaryIp: created.primaryIp,
    subnetCidr: "",
    securityGroups: created.securityGroups,
    attachmentId,
    deleteOnTermination,
    ready: false,
  };
  model.enis.set(created.id, m);
  model.bump();
  return m;
}

/** Waits for the ENI in IMDS (100 ms → 60 s, ×2, 15% jitter, 12 tries), then net-config. */
export async function finishSetup(d: ExecutorDeps, m: ManagedEni, override: { tries?: number } = {}): Promise<void> {
  const w = { ...(d.opts.imdsWait ?? { firstMs: 100, maxMs: 60_000, tries: 12 }), ...override };
  let delay = w.firstMs;
  for (let i = 0; ; i++) {
    const seen = (await d.imds.interfaces().catch(() => [])).find((x) => x.mac === m.mac);
    if (seen?.subnetCidr) {
      m.subnetCidr = seen.subnetCidr;
      break;
    }
    if (i + 1 >= w.tries) throw new Error(`ENI ${m.pool.id} (${m.mac}) did not show in IMDS after ${w.tries} tries`);
    await d.opts.sleep(Math.round(delay * (1 + ((d.opts.random ?? Math.random)() * 0.3 - 0.15))));
    delay = Math.min(delay * 2, w.maxMs);
  }
  await d.net.setupEni(eniSetupOf(m));
  m.ready = true;
  d.model.bump();
}
