/**
 * Which subnets take this node's ENIs, by their tags, as upstream v1.23 decides it
 * (awsutils isSubnetValidForENICreation / IsSubnetExcluded). `kubernetes.io/role/cni`:
 * "0" always excludes; any other non-empty value opts a subnet in; untagged, only the
 * node's own (primary) subnet is used. A tagged subnet that carries
 * `cni.networking.k8s.aws/cluster/<name>` tags is used only by a cluster it names (checked
 * when CLUSTER_NAME is set). Pure: tags in, verdict out.
 */

export const CNI_ROLE_TAG = "kubernetes.io/role/cni";
export const CLUSTER_TAG_PREFIX = "cni.networking.k8s.aws/cluster/";

type Tags = Readonly<Record<string, string>>;

/** No cluster tags, or one for this cluster (always true without CLUSTER_NAME). */
export function subnetForThisCluster(tags: Tags, clusterName: string | undefined): boolean {
  if (!clusterName) return true;
  const clusterKeys = Object.keys(tags).filter((k) => k.startsWith(CLUSTER_TAG_PREFIX));
  return clusterKeys.length === 0 || clusterKeys.includes(CLUSTER_TAG_PREFIX + clusterName);
}

/** ENIs in this subnet give no address to pods (upstream IsSubnetExcluded). The primary subnet is no exception. */
export function subnetExcluded(tags: Tags, clusterName: string | undefined): boolean {
  const role = tags[CNI_ROLE_TAG] ?? "";
  if (role === "") return false;
  if (role === "0") return true;
  return !subnetForThisCluster(tags, clusterName);
}

/** A new ENI may be created in this subnet (upstream isSubnetValidForENICreation). */
export function subnetTakesNewEnis(tags: Tags, isPrimarySubnet: boolean, clusterName: string | undefined): boolean {
  const role = tags[CNI_ROLE_TAG] ?? "";
  if (role === "0") return false;
  if (role === "") return isPrimarySubnet;
  return subnetForThisCluster(tags, clusterName);
}
