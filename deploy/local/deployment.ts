/**
 * The whole local deployment: the simulated cloud (cloud.ts) plus, on every node, the
 * product itself — the four services in the node's namespace and the node's CNI
 * directories — and the per-node fields of stack.json that tell users where they are.
 */
import type pino from "pino";
import { startCloud, type CloudOptions, type RunningCloud } from "./cloud.ts";
import { buildShim, installCni, nodeLayout, NodeServices, type NodeLayout } from "./node-services.ts";
import type { Stack } from "./stack.ts";

export interface DeploymentOptions extends CloudOptions {
  /** aws-node variables applied to every node (already validated with parseEnvPairs). */
  env?: Record<string, string>;
  /** Only the simulated cloud, no services on the nodes (`up --cloud-only`). */
  cloudOnly?: boolean;
}

export interface RunningDeployment {
  cloud: RunningCloud;
  stack: Stack;
  nodes: Array<{ services: NodeServices; layout: NodeLayout }>;
  stop(): Promise<void>;
}

export async function startDeployment(opts: DeploymentOptions): Promise<RunningDeployment> {
  const cloud = await startCloud(opts);
  const log = (opts.logger ?? (await import("pino")).default({ level: "silent" })) as pino.Logger;
  const nodes: RunningDeployment["nodes"] = [];
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
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
    return { cloud, stack, nodes, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
