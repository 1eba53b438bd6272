// A scheduled pod asking for pod-eni: its branch ENIs (lowest free VLAN each, the groups of its
// SGPs or else the instance's with a Warning event), then the annotation by merge patch,
// guarded by the pod's UID. On a failure the ENIs made so far are queued for deletion at once.
import type { KubeObject } from "../../sim-kube/validate.ts";
import { PODS } from "../cluster.ts";
import type { ClusterApi } from "../cluster.ts";
import type { EventRecorder } from "../events.ts";
import type { ControllerLog } from "../reconcile-loop.ts";
import type { BranchEc2 } from "./branch-ec2.ts";
import { matchingSecurityGroups, podEniRequest, POD_ENI } from "./sgp.ts";
import type { EniDetails, QueuedEni, TrunkState } from "./trunk.ts";

export interface PodWork {
  cluster: ClusterApi;
  ec2: BranchEc2;
  events: EventRecorder;
  log: ControllerLog;
}

export type Outcome = "annotated" | "at-capacity" | "failed" | "skipped";

export async function createAndAnnotate(w: PodWork, trunk: TrunkState, pod: KubeObject): Promise<Outcome> {
  const uid = pod.metadata.uid ?? "";
  const namespace = pod.metadata.namespace;
  const name = pod.metadata.name ?? "";
  // Skipped if already annotated: the list it came from, then a fresh read.
  const fresh = w.cluster.get(PODS, namespace, name);
  if (fresh === undefined || fresh.metadata.uid !== uid || fresh.metadata.annotations?.[POD_ENI] !== undefined) return "skipped";
  const groups = matchingSecurityGroups(w.cluster.store, fresh);
  if (groups.length === 0) w.events.record(fresh, "Warning", "SecurityGroupRequested", "Pod will get the instance security group as the pod didn't match any Security Group from SecurityGroupPolicy");
  else w.events.record(fresh, "Normal", "SecurityGroupRequested", `Pod will get the following Security Groups [${groups.join(" ")}]`);
  if (!trunk.canCreateMore()) return "at-capacity";

  const securityGroups = groups.length > 0 ? groups : trunk.instanceSecurityGroups;
  const made: EniDetails[] = [];
  const orphan: QueuedEni[] = [];
  try {
    for (let i = 0; i < podEniRequest(fresh); i++) {
      const vlanId = trunk.assignVlan();
      if (vlanId === undefined) throw new Error("failed to find free vlan id in the available 121 ids");
      let createdId: string | undefined;
      try {
        const b = await w.ec2.createBranch({ trunkId: trunk.trunkId, instanceId: trunk.instanceId, subnetId: trunk.subnetId, securityGroups, vlanId }, (id) => (createdId = id));
        made.push({ eniId: b.eniId, ifAddress: b.mac, privateIp: b.ipv4, ipv6Addr: b.ipv6, vlanId, subnetCidr: trunk.subnetCidr, subnetV6Cidr: trunk.subnetV6Cidr, associationID: b.associationId });
      } catch (error) {
        // Created but not associated: delete it (keeping its VLAN until then); never created: the VLAN is free again.
        if (createdId !== undefined) orphan.push({ eniId: createdId, vlanId, associationID: "", releasedAtMs: null, retries: 0 });
        else trunk.freeVlan(vlanId);
        throw error;
      }
    }
    annotate(w.cluster, fresh, made);
  } catch (error) {
    trunk.pushFront([...made.map((e) => ({ eniId: e.eniId, vlanId: e.vlanId, associationID: e.associationID, releasedAtMs: null, retries: 0 })), ...orphan]);
    w.log.error({ pod: `${namespace}/${name}`, error: String(error) }, "failed to create ENI, moving the ENI to delete list");
    w.events.record(fresh, "Warning", "BranchAllocationFailed", `failed to allocate branch ENI to pod: ${String(error)}`);
    return "failed";
  }
  trunk.pods.set(uid, made);
  w.events.record(fresh, "Normal", "ResourceAllocated", `Allocated ${JSON.stringify(made)} to the pod`);
  w.log.info({ pod: `${namespace}/${name}`, enis: made.map((e) => e.eniId) }, "created and annotated branch interface/s successfully");
  return "annotated";
}

/** Merge patch of the annotation, refused when the pod by that name is no longer the same pod. */
function annotate(cluster: ClusterApi, pod: KubeObject, enis: EniDetails[]): void {
  const current = cluster.get(PODS, pod.metadata.namespace, pod.metadata.name ?? "");
  if (current === undefined || current.metadata.uid !== pod.metadata.uid) throw new Error(`pod ${pod.metadata.namespace}/${pod.metadata.name} is gone or was replaced`);
  cluster.patch(PODS, current, { metadata: { annotations: { [POD_ENI]: JSON.stringify(enis) } } }, { type: "merge" });
}
