// The kubelets of a local deployment: one per node, sharing the stack's containers.conf and
// busybox root filesystem (under DIR/kubelet), each with its node's paths and identity.
import { existsSync, rmSync } from "node:fs";
import type { Logger } from "pino";
import { buildRootfs } from "../busybox-rootfs.ts";
import type { Stack } from "../stack.ts";
import { stackNames } from "../vpc/names.ts";
import { Kubelet, type KubeletOptions } from "./kubelet.ts";
import { LABEL, kubeletFiles } from "./names.ts";
import { Podman, writeContainersConf } from "./podman.ts";
import type { NodePaths } from "./volumes.ts";

/** What tests may tune: shorter back-offs, faster heartbeats. */
export type KubeletTuning = Partial<Pick<KubeletOptions, "restartBackoff" | "setupBackoff" | "heartbeatMs" | "relistMs" | "parallelStarts">>;

export const TOOLS = ["podman", "runc", "conmon", "nsenter"] as const;
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** What this machine lacks to run kubelets (empty: all there). */
export function missingKubeletTools(): string[] {
  return TOOLS.filter((t) => Bun.which(t, { PATH }) === null);
}

export async function startKubelets(stack: Stack, paths: readonly NodePaths[], log: Logger, tuning: KubeletTuning = {}): Promise<Kubelet[]> {
  const missing = missingKubeletTools();
  if (missing.length > 0) throw Object.assign(new Error(`the kubelets need ${missing.join(", ")} (tests/setup-host.sh installs them)`), { code: "LOCAL_KUBELET_TOOLS" });
  const files = kubeletFiles(stack.dir);
  writeContainersConf(files.containersConf);
  if (existsSync(files.rootfs)) rmSync(files.rootfs, { recursive: true, force: true });
  await buildRootfs(files.rootfs);
  const { prefix } = stackNames(stack.dir);
  const kubelets = stack.nodes.map((node, i) => {
    const p = paths[i];
    if (!p) throw new Error(`node ${i}: no paths`);
    return new Kubelet({
      prefix,
      apiEndpoint: stack.kube.endpoint,
      nodeIndex: i,
      nodeName: node.name,
      nodeNetns: node.netns,
      hostIP: node.primaryIp,
      paths: p,
      rootfs: files.rootfs,
      containersConf: files.containersConf,
      log,
      ...tuning,
    });
  });
  try {
    for (const k of kubelets) await k.start();
  } catch (err) {
    await Promise.all(kubelets.map((k) => k.stop()));
    throw err;
  }
  return kubelets;
}

/**
 * `down`'s part: removes every container of the stack (its kubelets label them all), what a
 * crashed `up` or a kubelet stopped with leavePods left. Returns problems.
 */
export async function removeStackContainers(prefix: string, containersConf: string | undefined): Promise<string[]> {
  if (Bun.which("podman", { PATH }) === null) return [];
  const podman = new Podman(containersConf && existsSync(containersConf) ? containersConf : undefined, "/tmp");
  const problems: string[] = [];
  try {
    const left = await podman.list({ [LABEL.stack]: prefix });
    for (const c of left) await podman.remove(c.id, 0).catch((e: Error) => problems.push(`container ${c.name}: ${e.message}`));
  } catch (err) {
    problems.push(`listing the stack's containers: ${(err as Error).message}`);
  }
  return problems;
}
