/**
 * Writing one policy's PolicyEndpoints through the API: created with `generateName:
 * <policy>-`, owned by the policy (controller, blockOwnerDeletion), each create and update
 * stamped with the last-change-trigger-time annotation; the policy's finalizer added and, on
 * deletion, its objects removed and the finalizer dropped.
 */
import { LAST_CHANGE_TRIGGER_TIME, POLICY_ENDPOINT_GROUP, POLICY_ENDPOINT_PLURAL, POLICY_ENDPOINT_VERSION, type PolicyEndpointSpec } from "../../../shared/contracts/policy.ts";
import { KubeApiError, type KubeRest } from "../../../shared/kube-rest.ts";
import type { ChunkPlan } from "./chunks.ts";
import type { Meta, NetworkPolicy } from "./objects.ts";

export const POLICY_FINALIZER = "networking.k8s.aws/resources";

export interface StoredEndpoint {
  apiVersion?: string;
  kind?: string;
  metadata: Meta;
  spec: PolicyEndpointSpec;
}

const API_VERSION = `${POLICY_ENDPOINT_GROUP}/${POLICY_ENDPOINT_VERSION}`;

export function endpointsPath(namespace: string, name?: string): string {
  return `/apis/${API_VERSION}/namespaces/${encodeURIComponent(namespace)}/${POLICY_ENDPOINT_PLURAL}${name === undefined ? "" : `/${encodeURIComponent(name)}`}`;
}

function policyPath(policy: NetworkPolicy): string {
  return `/apis/networking.k8s.io/v1/namespaces/${encodeURIComponent(policy.metadata.namespace ?? "")}/networkpolicies/${encodeURIComponent(policy.metadata.name)}`;
}

/** RFC 3339 in UTC with fractional seconds (Go's RFC3339Nano reads it). */
export function triggerTimeText(at: Date): string {
  return at.toISOString();
}

export interface WriteResult {
  written: StoredEndpoint[];
  deleted: StoredEndpoint[];
}

export async function applyPlan(kube: KubeRest, policy: NetworkPolicy, plan: ChunkPlan, existing: readonly StoredEndpoint[], triggeredAt: Date): Promise<WriteResult> {
  const namespace = policy.metadata.namespace ?? "";
  const annotation = { [LAST_CHANGE_TRIGGER_TIME]: triggerTimeText(triggeredAt) };
  const result: WriteResult = { written: [], deleted: [] };
  // updates and creates first (side by side: one round trip, not one per object), deletes last:
  // the agent never sees fewer entries than both states share
  const updates = plan.update.map(({ name, spec }) => {
    const current = existing.find((object) => object.metadata.name === name)!;
    const body = { ...current, metadata: { ...current.metadata, annotations: { ...current.metadata.annotations, ...annotation } }, spec };
    return kube.request<StoredEndpoint>("PUT", endpointsPath(namespace, name), { body });
  });
  const creates = plan.create.map((spec) => {
    const body = {
      apiVersion: API_VERSION,
      kind: "PolicyEndpoint",
      metadata: {
        generateName: `${policy.metadata.name}-`,
        namespace,
        annotations: annotation,
        ownerReferences: [{ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", name: policy.metadata.name, uid: policy.metadata.uid ?? "", controller: true, blockOwnerDeletion: true }],
      },
      spec,
    };
    return kube.request<StoredEndpoint>("POST", endpointsPath(namespace), { body });
  });
  result.written.push(...(await Promise.all([...updates, ...creates])));
  for (const name of plan.delete) {
    const object = existing.find((candidate) => candidate.metadata.name === name)!;
    await deleteEndpoint(kube, object);
    result.deleted.push(object);
  }
  return result;
}

/** Deletes one object; already gone is fine. */
export async function deleteEndpoint(kube: KubeRest, object: StoredEndpoint): Promise<void> {
  try {
    await kube.request("DELETE", endpointsPath(object.metadata.namespace ?? "", object.metadata.name));
  } catch (error) {
    if (!(error instanceof KubeApiError && error.code === 404)) throw error;
  }
}

/** Sets the policy's finalizers (with its resourceVersion: a concurrent change fails with 409, and the policy is reconciled again). */
export async function setFinalizers(kube: KubeRest, policy: NetworkPolicy, finalizers: string[]): Promise<NetworkPolicy> {
  const body = { metadata: { resourceVersion: policy.metadata.resourceVersion, finalizers } };
  return kube.request<NetworkPolicy>("PATCH", policyPath(policy), { body, merge: true });
}
