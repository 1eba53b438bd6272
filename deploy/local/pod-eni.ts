/**
 * `up --pod-eni strict|standard`: the local deployment's nodes run security groups for pods.
 * Every node gets POD_SECURITY_GROUP_ENFORCING_MODE (and pod ENIs on, see POD_ENI_OVERRIDE),
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
import { bundledPodEniEntries, type PodEniEntry } from "./pod-eni-override/build.ts";

export type PodEniMode = "strict" | "standard";
export const POD_ENI_MODES: readonly PodEniMode[] = ["strict", "standard"];

export const SGP_CRD_FILE = join(REPO_ROOT, "deploy/k8s/securitygrouppolicy-crd.yaml");

/**
 * TEMPORARY: ENABLE_POD_ENI=true is still refused at start-up (shared/config/variables/aws.ts),
 * so processes-mode nodes start pool-manager, addr-broker and net-config from the entries of
 * pod-eni-override/, which turn pod ENIs on in the typed configuration. Goes with the refusal.
 */
export const POD_ENI_OVERRIDE = true;

/** What `up --pod-eni MODE` sets on every node, under the operator's --env. */
export function podEniNodeEnv(mode: PodEniMode): Record<string, string> {
  return { POD_SECURITY_GROUP_ENFORCING_MODE: mode, ...(POD_ENI_OVERRIDE ? {} : { ENABLE_POD_ENI: "true" }) };
}

/**
 * The bundle each service runs instead of its ordinary one on a pod-ENI node (argv after bun):
 * the override entries (pod-eni-override/) while the refusal stands, net-config's with its
 * VLAN stand-in when the kernel has no 802.1Q. Built into DIR/pod-eni-services once.
 */
export async function podEniEntries(dir: string, vlan: boolean): Promise<Partial<Record<LocalService, string[]>>> {
  const out = await bundledPodEniEntries(join(dir, "pod-eni-services"));
  const entry = (e: PodEniEntry) => [join(out, `${e}.js`)];
  return {
    "net-config": entry(vlan ? "net-config" : "net-config-standin"),
    "pool-manager": entry("pool-manager"),
    "addr-broker": entry("addr-broker"),
  };
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
