/**
 * The whole local deployment: the simulated cloud (cloud.ts) plus, on every node, the
 * product itself and a kubelet that runs the pods bound to the node, and the per-node fields
 * of stack.json that tell users where they are. The product runs either as processes (the
 * four services in the node's namespace, the node's CNI directories installed directly: fast,
 * the default) or as the aws-node DaemonSet of deploy/k8s (aws-node-daemonset.ts: applied
 * with kubectl, run by the kubelets from the image built here). The NetworkPolicy controller
 * likewise: a process in the root namespace (processes mode, policy-controller.ts) or the
 * policy-controller Deployment of deploy/k8s (daemonset mode, policy-controller-deployment.ts).
 */
import type pino from "pino";
import { startCloud, type CloudOptions, type RunningCloud } from "./cloud.ts";
import { buildShim, installCni, nodeLayout, NodeServices, type NodeLayout } from "./node-services.ts";
import type { Kubelet } from "./kubelet/kubelet.ts";
import { startKubelets, type KubeletTuning } from "./kubelet/node-kubelets.ts";
import { ensureImage } from "../k8s/image/build.ts";
import { applyAwsNode, ENFORCE_FLAG, waitAwsNodeReady } from "./aws-node-daemonset.ts";
import type { DeployMode, Stack } from "./stack.ts";
import { enablePolicyEndpoints, startPolicyController, type RunningPolicyController } from "./policy-controller.ts";
import { applyPolicyController, waitPolicyControllerAvailable } from "./policy-controller-deployment.ts";
import { ClusterApi } from "./controllers/cluster.ts";
import { applySgpCrd, kernelHasVlan, podEniEntries, podEniNodeEnv, type PodEniMode } from "./pod-eni.ts";

export interface DeploymentOptions extends CloudOptions {
  /** processes (default) or daemonset. */
  mode?: DeployMode;
  /** daemonset mode: how long aws-node may take to be Ready on every node (and the policy-controller Deployment to be available). */
  awsNodeReadyTimeoutMs?: number;
  /** aws-node variables applied to every node (already validated with parseEnvPairs). */
  env?: Record<string, string>;
  /** Only the simulated cloud, no services on the nodes (`up --cloud-only`). */
  cloudOnly?: boolean;
  /** A kubelet per node (default: unless cloudOnly); false runs the services alone. */
  kubelets?: boolean;
  /** Kubelet settings for tests (shorter back-offs). */
  kubeletTuning?: KubeletTuning;
  /** `up --network-policy`: every node's policy agent enforces (--enable-network-policy=true) in this mode; absent: off, as upstream. */
  networkPolicy?: NetworkPolicyMode;
  /** `up --pod-eni`: security groups for pods on every node in this enforcing mode (pod-eni.ts); absent: off, as upstream. */
  podEni?: PodEniMode;
}

export type NetworkPolicyMode = "standard" | "strict";
export const NETWORK_POLICY_MODES: readonly NetworkPolicyMode[] = ["standard", "strict"];

/** What an IPv6 deployment (`up --ipv6`) sets on every node, under the operator's --env: upstream's IPv6 mode. */
export const IPV6_NODE_ENV: Readonly<Record<string, string>> = { ENABLE_IPv6: "true", ENABLE_IPv4: "false", ENABLE_PREFIX_DELEGATION: "true" };

/** What `up --v6-egress` sets on every node: IPv4 pods with egress-cni's IPv6 egress. */
export const V6_EGRESS_NODE_ENV: Readonly<Record<string, string>> = { ENABLE_V6_EGRESS: "true" };

/** The aws-node variables of every node: IPv6 mode's (or IPv6 egress's) under such a deployment, the operator's on top. */
export function nodeSettings(opts: Pick<DeploymentOptions, "ipv6" | "v6Egress" | "env" | "networkPolicy" | "podEni">): Record<string, string> {
  const policy: Record<string, string> = opts.networkPolicy ? { NETWORK_POLICY_ENFORCING_MODE: opts.networkPolicy } : {};
  const podEni = opts.podEni ? podEniNodeEnv(opts.podEni) : {};
  return { ...(opts.ipv6 ? IPV6_NODE_ENV : opts.v6Egress ? V6_EGRESS_NODE_ENV : {}), ...policy, ...podEni, ...(opts.env ?? {}) };
}

export interface RunningDeployment {
  cloud: RunningCloud;
  stack: Stack;
  /** Processes mode: each node's services (empty in daemonset mode and with cloudOnly). */
  nodes: Array<{ services: NodeServices; layout: NodeLayout }>;
  /** Each node's directories (both modes; empty with cloudOnly). */
  layouts: NodeLayout[];
  /** One per node (empty without kubelets). */
  kubelets: Kubelet[];
  /** The NetworkPolicy controller process (processes mode; absent with cloudOnly, and in daemonset mode, where its Deployment's pod runs it). */
  policyController?: RunningPolicyController;
  stop(): Promise<void>;
}

export async function startDeployment(opts: DeploymentOptions): Promise<RunningDeployment> {
  const mode = opts.mode ?? "processes";
  if (mode === "daemonset" && (opts.cloudOnly || opts.kubelets === false)) throw new Error("daemonset mode needs the nodes' kubelets (not with cloudOnly or kubelets: false)");
  const withKubelets = opts.kubelets ?? !opts.cloudOnly;
  const cloud = await startCloud({ ...opts, kubelets: withKubelets });
  const log = (opts.logger ?? (await import("pino")).default({ level: "silent" })) as pino.Logger;
  const nodes: RunningDeployment["nodes"] = [];
  const layouts: NodeLayout[] = [];
  const kubelets: Kubelet[] = [];
  let policyController: RunningPolicyController | undefined;
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      await policyController?.stop();
      // Pods first (aws-node, hostNetwork, last): their CNI DEL needs the node's services.
      for (const p of (await Promise.all(kubelets.map((k) => k.stop()))).flat()) log.warn({ problem: p }, "kubelet teardown");
      await Promise.all(nodes.map((n) => n.services.stop()));
      await cloud.stop();
    })());
  try {
    const stack: Stack = structuredClone(cloud.stack);
    if (!opts.cloudOnly) {
      stack.mode = mode;
      for (const [i, node] of stack.nodes.entries()) {
        const layout = nodeLayout(stack.dir, i);
        layouts.push(layout);
        Object.assign(node, {
          runDir: layout.runDir,
          cniBinDir: layout.cniBinDir,
          cniConfDir: layout.cniConfDir,
          conflist: layout.conflist,
          metrics: "http://127.0.0.1:61678/metrics",
        });
      }
    }
    let sources = {};
    if (opts.podEni && !opts.cloudOnly) {
      await applySgpCrd(new ClusterApi(cloud.faults.kube.store));
      const vlan = await kernelHasVlan(stack.nodes[0]!.netns);
      if (mode === "daemonset") throw new Error("--pod-eni: processes mode only (the aws-node image's net-config makes 802.1Q links; daemonset mode with pod ENIs has not been run here)");
      log.info({ podEni: opts.podEni, vlanLinks: vlan ? "802.1Q" : "macvlan stand-in (this kernel has no 802.1Q: branch frames leave the trunk untagged, the branch ENI's MAC identifies the VLAN)" }, "security groups for pods");
      sources = podEniEntries(vlan);
    }
    if (mode === "processes" && !opts.cloudOnly) {
      const shim = await buildShim(cloud.stack.dir);
      const extra = nodeSettings(opts);
      for (const [i, node] of stack.nodes.entries()) {
        const layout = layouts[i]!;
        installCni(layout, shim);
        nodes.push({ services: new NodeServices(stack, node, layout, extra, log, opts.networkPolicy ? { "policy-agent": [ENFORCE_FLAG] } : {}, sources), layout });
      }
      // Nodes start in parallel; each node's services start in order.
      await Promise.all(nodes.map((n) => n.services.start()));
    }
    if (withKubelets) kubelets.push(...(await startKubelets(stack, layouts.length > 0 ? layouts : stack.nodes.map((_, i) => nodeLayout(stack.dir, i)), log, opts.kubeletTuning)));
    if (mode === "daemonset") {
      const readyTimeoutMs = opts.awsNodeReadyTimeoutMs ?? 300_000;
      const image = await ensureImage({ onLine: (line) => log.debug({ line }, "image build") });
      log.info({ image: image.tag, built: image.built, seconds: image.seconds }, "aws-node image");
      await applyAwsNode(stack, { image: image.tag, env: nodeSettings(opts), enforce: opts.networkPolicy !== undefined });
      // after aws-node.yaml, whose ConfigMap ships the switch "false"; its pod starts once a node is Ready
      await enablePolicyEndpoints(stack);
      await applyPolicyController(stack, { image: image.tag });
      await waitAwsNodeReady(stack, readyTimeoutMs);
      log.info({}, "aws-node Ready on every node");
      await waitPolicyControllerAvailable(stack, readyTimeoutMs);
      log.info({}, "policy-controller Deployment available");
    } else if (!opts.cloudOnly) {
      policyController = await startPolicyController(stack, log);
    }
    return { cloud, stack, nodes, layouts, kubelets, ...(policyController ? { policyController } : {}), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
