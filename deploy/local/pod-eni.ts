/**
 * `up --pod-eni strict|standard`: the local deployment's nodes run security groups for pods.
 * Every node gets ENABLE_POD_ENI=true and POD_SECURITY_GROUP_ENFORCING_MODE,
 * the SecurityGroupPolicy CRD is applied, and the simulated VPC resource controller (always
 * running with the API) does the rest once a node's CNINode has SecurityGroupsForPods.
 * A kernel built without 802.1Q links cannot make `vlan.eth.<id>`: there net-config runs with
 * its stand-in (a macvlan with the branch ENI's MAC on the trunk's link, untagged), and `up`
 * says so in its log. On a kernel with 802.1Q, real VLANs.
 */
import { join } from "node:path";
import type { ClusterApi } from "./controllers/cluster.ts";
import { RESOURCES } from "./sim-kube/resources.ts";
import type { KubeObject } from "./sim-kube/validate.ts";
import { runCommand } from "./vpc/command.ts";
import { assertNetnsName } from "./vpc/names.ts";
import { REPO_ROOT, type LocalService } from "./node-services.ts";

export type PodEniMode = "strict" | "standard";
export const POD_ENI_MODES: readonly PodEniMode[] = ["strict", "standard"];

export const SGP_CRD_FILE = join(REPO_ROOT, "deploy/k8s/securitygrouppolicy-crd.yaml");

/** What `up --pod-eni MODE` sets on every node, under the operator's --env. */
export function podEniNodeEnv(mode: PodEniMode): Record<string, string> {
  return { ENABLE_POD_ENI: "true", POD_SECURITY_GROUP_ENFORCING_MODE: mode };
}

/**
 * What a pod-ENI node runs instead of the ordinary entries (argv after bun): on a kernel
 * without 802.1Q, net-config with its VLAN stand-in; otherwise nothing changes.
 */
export function podEniEntries(vlan: boolean): Partial<Record<LocalService, string[]>> {
  return vlan ? {} : { "net-config": [join(REPO_ROOT, "services/net-config/test-support/main-vlan-standin.ts")] };
}

/** Whether this kernel makes 802.1Q links: tried on a veth pair in the node's namespace (some kernels lack dummy links too), then removed. */
export async function kernelHasVlan(netns: string): Promise<boolean> {
  assertNetnsName(netns);
  const parent = "podeni-probe";
  const add = await runCommand(["ip", "-n", netns, "link", "add", parent, "type", "veth", "peer", "name", `${parent}-p`]);
  if (add.exitCode !== 0) throw new Error(`probing 802.1Q in ${netns}: ${add.stderr.trim()}`);
  try {
    return (await runCommand(["ip", "-n", netns, "link", "add", "link", parent, "name", `${parent}.5`, "type", "vlan", "id", "5"])).exitCode === 0;
  } finally {
    await runCommand(["ip", "-n", netns, "link", "del", parent]);
  }
}

/** Serves the SecurityGroupPolicy CRD (deploy/k8s) through the API's own validation; present already is fine. */
export async function applySgpCrd(cluster: ClusterApi): Promise<void> {
  const crd = RESOURCES.find((r) => r.kind === "CustomResourceDefinition")!;
  const doc = Bun.YAML.parse(await Bun.file(SGP_CRD_FILE).text()) as KubeObject;
  if (cluster.get(crd, undefined, doc.metadata.name ?? "")) return;
  cluster.create(crd, undefined, doc);
}
