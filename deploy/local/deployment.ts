/**
 * The whole local deployment: the simulated cloud (cloud.ts) plus, on every node, the
 * product itself — the four services in the node's namespace and the node's CNI
 * directories — a kubelet that runs the pods bound to the node, and the per-node fields of
 * stack.json that tell users where they are.
 */
import type pino from "pino";
import { startCloud, type CloudOptions, type RunningCloud } from "./cloud.ts";
import { buildShim, installCni, nodeLayout, NodeServices, type NodeLayout } from "./node-services.ts";
import type { Kubelet } from "./kubelet/kubelet.ts";
import { startKubelets, type KubeletTuning } from "./kubelet/node-kubelets.ts";
import type { Stack } from "./stack.ts";

export interface DeploymentOptions extends CloudOptions {
  /** aws-node variables applied to every node (already validated with parseEnvPairs). */
  env?: Record<string, string>;
  /** Only the simulated cloud, no services on the nodes (`up --cloud-only`). */
  cloudOnly?: boolean;
  /** A kubelet per node (default: unless cloudOnly); false runs the services alone. */
  kubelets?: boolean;
  /** Kubelet settings for tests (shorter back-offs). */
  kubeletTuning?: KubeletTuning;
}

export interface RunningDeployment {
  cloud: RunningCloud;
  stack: Stack;
  nodes: Array<{ services: NodeServices; layout: NodeLayout }>;
  /** One per node (empty without kubelets). */
  kubelets: Kubelet[];
  stop(): Promise<void>;
}

export async function startDeployment(opts: DeploymentOptions): Promise<RunningDeployment> {
  const withKubelets = opts.kubelets ?? !opts.cloudOnly;
  const cloud = await startCloud({ ...opts, kubelets: withKubelets });
  const log = (opts.logger ?? (await import("pino")).default({ level: "silent" })) as pino.Logger;
  const nodes: RunningDeployment["nodes"] = [];
  const kubelets: Kubelet[] = [];
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      // Pods first: their CNI DEL needs the node's services.
      for (const p of (await Promise.all(kubelets.map((k) => k.stop()))).flat()) log.warn({ problem: p }, "kubelet teardown");
      await Promise.all(nodes.map((n) => n.services.stop()));
      await cloud.stop();
    })());
  try {
    const stack: Stack = structuredClone(cloud.stack);
    if (!opts.cloudOnly) {
      const shim = await buildShim(cloud.stack.dir);
      const extra = opts.env ?? {};
      for (const [i, node] of stack.nodes.entries()) {
        const layout = nodeLayout(stack.dir, i);
        installCni(layout, shim);
        const services = new NodeServices(stack, node, layout, extra, log);
        nodes.push({ services, layout });
        Object.assign(node, {
          runDir: layout.runDir,
          cniBinDir: layout.cniBinDir,
          cniConfDir: layout.cniConfDir,
          conflist: layout.conflist,
          metrics: "http://127.0.0.1:61678/metrics",
        });
      }
      // Nodes start in parallel; each node's services start in order.
      await Promise.all(nodes.map((n) => n.services.start()));
    }
    if (withKubelets) {
      const paths = stack.nodes.map((_, i) => nodeLayout(stack.dir, i));
      kubelets.push(...(await startKubelets(stack, paths, log, opts.kubeletTuning)));
    }
    return { cloud, stack, nodes, kubelets, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
