/**
 * This node's CNINode (vpcresources.k8s.aws/v1alpha1): the features the pool-manager
 * announces on it (SecurityGroupsForPods, CustomNetworking=<ENIConfig>), as upstream does.
 * Created owned by the Node when missing; a conflict (409: changed or created meanwhile)
 * is retried up to twice.
 */
import type { KubeRest } from "../../../../shared/kube-rest.ts";
import { withFeature } from "./kube-node.ts";

const CNI_NODES = "/apis/vpcresources.k8s.aws/v1alpha1/cninodes";

type CniNode = { metadata?: { resourceVersion?: string }; spec?: { features?: { name: string; value?: string }[] } };

export interface CniNodeTarget {
  api: KubeRest;
  nodeName: string;
  /** The Node's uid when known: the CNINode is created owned by it. */
  nodeUid: string | undefined;
  timed: <T>(p: Promise<T>, what: string) => Promise<T>;
}

/** Adds a feature to the node's CNINode, creating the CNINode when missing. */
export async function ensureCniNodeFeature(t: CniNodeTarget, name: string, value?: string): Promise<void> {
  const path = `${CNI_NODES}/${encodeURIComponent(t.nodeName)}`;
  for (let attempt = 0; attempt < 3; attempt++) {
    let current: CniNode | undefined;
    try {
      current = await t.timed(t.api.request<CniNode>("GET", path), "read CNINode");
    } catch (err) {
      if ((err as { code?: unknown }).code !== 404) throw err;
    }
    const feature = value ? { name, value } : { name };
    try {
      if (!current) {
        const owner = t.nodeUid ? { ownerReferences: [{ apiVersion: "v1", kind: "Node", name: t.nodeName, uid: t.nodeUid }] } : {};
        await t.timed(t.api.request("POST", CNI_NODES, { body: { apiVersion: "vpcresources.k8s.aws/v1alpha1", kind: "CNINode", metadata: { name: t.nodeName, ...owner }, spec: { features: [feature] } } }), "create CNINode");
      } else {
        const next = withFeature(current.spec?.features ?? [], feature);
        if (next) {
          const body = { metadata: { resourceVersion: current.metadata?.resourceVersion }, spec: { features: next } };
          await t.timed(t.api.request("PATCH", path, { body, merge: true }), "patch CNINode");
        }
      }
      return;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code !== 409 || attempt === 2) throw err;
    }
  }
}
