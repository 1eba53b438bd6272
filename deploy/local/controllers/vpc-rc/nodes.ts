// Node management of the simulated VPC resource controller: which nodes it manages, setting up
// (or recovering) a node's trunk, and deleting the branch ENIs whose cooldown has passed.
import { RESOURCES } from "../../sim-kube/resources.ts";
import type { ResourceDef } from "../../sim-kube/resources.ts";
import type { KubeObject } from "../../sim-kube/validate.ts";
import type { ControllerLog } from "../reconcile-loop.ts";
import type { BranchEc2, InstanceView } from "./branch-ec2.ts";
import { POD_ENI } from "./sgp.ts";
import { MAX_DELETE_RETRIES, TrunkState, type EniDetails } from "./trunk.ts";

export const CNINODES = RESOURCES.find((d) => d.kind === "CNINode") as ResourceDef;
const LEGACY_TRUNK_LABEL = "vpc.amazonaws.com/has-trunk-attached";

/** The instance id of a node's providerID (`aws:///us-west-2a/i-0abc`). */
export function nodeInstanceId(node: KubeObject): string | undefined {
  const providerId = (node.spec as { providerID?: string } | undefined)?.providerID ?? "";
  const m = /^aws:\/\/\/[^/]*\/(i-[0-9a-f]+)$/.exec(providerId);
  return m?.[1];
}

/** Managed: an OS label and an instance id, plus the legacy label or the CNINode feature SecurityGroupsForPods. */
export function isManagedNode(node: KubeObject, cniNode: KubeObject | undefined): boolean {
  if (!node.metadata.labels?.["kubernetes.io/os"] || nodeInstanceId(node) === undefined) return false;
  if (node.metadata.labels?.[LEGACY_TRUNK_LABEL] !== undefined) return true;
  const features = (cniNode?.spec as { features?: Array<{ name?: string }> } | undefined)?.features ?? [];
  return features.some((f) => f.name === "SecurityGroupsForPods");
}

/** The annotation's ENIs; an unreadable annotation is none (upstream logs and goes on). */
export function annotatedEnis(pod: KubeObject): EniDetails[] {
  const raw = pod.metadata.annotations?.[POD_ENI];
  if (raw === undefined) return [];
  try {
    const parsed: unknown = JSON.parse(raw);
    return Array.isArray(parsed) ? (parsed as EniDetails[]) : [];
  } catch {
    return [];
  }
}

/**
 * The node's trunk: the attached one (its branch ENIs rebuilt from the pods' annotations and the
 * vlan-id tags; ENIs no pod owns are queued for deletion, keeping their VLAN), or a new one
 * attached at the highest free device index.
 */
export async function initTrunk(ec2: BranchEc2, log: ControllerLog, nodeName: string, view: InstanceView, limit: number, pods: KubeObject[], nowMs: number): Promise<TrunkState> {
  const make = (trunkId: string) => new TrunkState(nodeName, trunkId, view.instanceId, view.instanceType, view.subnetId, view.subnetCidr, view.subnetV6Cidr, view.securityGroups, limit);
  if (view.trunk === undefined) {
    const used = new Set(view.usedDeviceIndexes);
    let index = view.maxInterfaces - 1;
    while (index >= 0 && used.has(index)) index--;
    if (index < 0) throw new Error(`no free device index on ${view.instanceId}`);
    const trunkId = await ec2.createTrunk(view, index);
    log.info({ node: nodeName, trunk: trunkId, deviceIndex: index }, "created a new trunk interface");
    return make(trunkId);
  }
  if (view.trunk.status !== "attached") await ec2.waitAttached(view.trunk.id);
  const trunk = make(view.trunk.id);
  const branches = new Map((await ec2.branchesOf(trunk.trunkId, view.subnetId)).map((b) => [b.eniId, b.vlanId]));
  for (const pod of pods) {
    if ((pod.spec as { nodeName?: string } | undefined)?.nodeName !== nodeName) continue;
    const owned = annotatedEnis(pod).filter((e) => {
      if (!branches.has(e.eniId)) {
        log.error({ pod: pod.metadata.name, eni: e.eniId }, "eni allocated to pod not found in ec2");
        return false;
      }
      branches.delete(e.eniId);
      trunk.markVlan(e.vlanId);
      return true;
    });
    if (owned.length > 0) trunk.pods.set(pod.metadata.uid ?? "", owned);
  }
  for (const [eniId, vlanId] of branches) {
    if (Number.isNaN(vlanId)) {
      log.error({ eni: eniId }, "failed to find vlan id of an orphan branch ENI");
      continue;
    }
    trunk.markVlan(vlanId);
    trunk.deleteQueue.push({ eniId, vlanId, associationID: "", releasedAtMs: nowMs, retries: 0 });
  }
  return trunk;
}

/** Disassociates and deletes the ENIs whose cooldown has passed; their VLANs become free. */
export async function releaseDue(ec2: BranchEc2, log: ControllerLog, trunk: TrunkState, nowMs: number, cooldownMs: number): Promise<void> {
  for (const q of trunk.takeCooledDown(nowMs, cooldownMs)) {
    try {
      await ec2.deleteBranch(q.eniId, q.associationID);
      trunk.freeVlan(q.vlanId);
      log.info({ node: trunk.nodeName, eni: q.eniId, vlan: q.vlanId }, "deleted branch ENI");
    } catch (error) {
      q.retries++;
      if (q.retries >= MAX_DELETE_RETRIES) {
        log.error({ eni: q.eniId, error: String(error) }, "forgetting eni as max retries exceeded");
        continue;
      }
      log.error({ eni: q.eniId, error: String(error) }, "failed to delete eni, will retry");
      trunk.pushFront([q]);
    }
  }
}
