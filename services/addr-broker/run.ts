/** addr-broker's wiring of adapters to the service (main.ts runs it with the loaded configuration). */
import type { Bootstrapped } from "../../shared/bootstrap.ts";
import { flushLogger } from "../../shared/log.ts";
import { runFrame } from "../../shared/service.ts";
import { nodeConflist } from "../../shared/conflist.ts";
import { FileCheckpointStore } from "./src/adapters/checkpoint-store.ts";
import { createPodReader, type PodReaderPort } from "./src/adapters/pod-reader.ts";
import { BranchBook } from "./src/app/branch-pods.ts";
import { conflistInstaller } from "./src/adapters/conflist-installer.ts";
import { ipKernelScan } from "./src/adapters/kernel-scan.ts";
import { createPodAnnotator, type PodAnnotatorPort } from "./src/adapters/pod-annotator.ts";
import { branchNetClient, egressNetClient, netConfigClient, policyAgentClient, poolManagerClient } from "./src/adapters/peers.ts";
import { EgressBook } from "./src/app/egress-cni.ts";
import { join } from "node:path";
import { createAddrBroker } from "./src/app/app.ts";
import { settingsFromConfig } from "./src/app/settings-from-config.ts";

/** The service, from a bootstrapped configuration (main.ts). */
export async function runAddrBroker(boot: Bootstrapped): Promise<void> {
  const { config, log, socketGid } = boot;
  const settings = settingsFromConfig(config);
  const kernel = ipKernelScan();
  // ANNOTATE_POD_IP: the Kubernetes client is loaded only then (dynamic import inside the adapter).
  let podAnnotator: PodAnnotatorPort | undefined;
  if (config.kubernetes.annotatePodIp) {
    try {
      podAnnotator = await createPodAnnotator(config.kubernetes, { log, onResult: (result) => service.deps.metrics?.podIpAnnotations.inc({ result }) });
    } catch (err) {
      log.error({ err: String(err), kubeconfig: config.kubernetes.kubeconfig }, "ANNOTATE_POD_IP=true but the Kubernetes client configuration is unusable: pods are not annotated");
    }
  }
  // ENABLE_POD_ENI: branch-ENI pods need the pod's annotation from the Kubernetes API.
  let podReader: PodReaderPort | undefined;
  if (settings.podEni) {
    try {
      podReader = await createPodReader(config.kubernetes);
      if (!podReader) log.error({}, "ENABLE_POD_ENI=true but no Kubernetes API is configured: pods asking for a branch ENI cannot be served");
    } catch (err) {
      log.error({ err: String(err), kubeconfig: config.kubernetes.kubeconfig }, "ENABLE_POD_ENI=true but the Kubernetes client configuration is unusable: pods asking for a branch ENI cannot be served");
    }
  }
  const service = createAddrBroker(settings, {
    ...(podReader ? { branch: { book: new BranchBook(new FileCheckpointStore(join(settings.runDir, "branch-pods.json")), log), pods: podReader, net: branchNetClient(settings.netConfigSocket) } } : {}),
    ...(podAnnotator ? { podAnnotator } : {}),
    store: new FileCheckpointStore(settings.checkpointPath),
    kernel,
    netConfig: netConfigClient(settings.netConfigSocket, { kernel, vethPrefix: settings.vethPrefix }),
    pool: poolManagerClient(settings.poolManagerSocket),
    // NETWORK_POLICY_ENFORCING_MODE standard or strict: the policy agent is told of every new and deleted pod (none: never).
    policyAgent: policyAgentClient(settings.policyAgentSocket),
    // egress-cni's addresses, in a file of their own beside the run dir's sockets (survives restarts, not reboots, as the pods).
    egress: { book: new EgressBook(new FileCheckpointStore(join(settings.runDir, "egress-ipam.json")), log), net: egressNetClient(settings.netConfigSocket) },
    // HOST_CNI_CONFDIR_PATH: written once ADDs can be served (a non-default run dir is carried in the conflist for the shim).
    pendingDelRunDir: settings.runDir,
    // egress-cni is chained when enabled and the node's addresses (from pool-manager's capacity) allow it.
    conflist: conflistInstaller(config.cni.confDir, (capacity) =>
      nodeConflist(config, config.runDir === "/var/run/aws-node" ? undefined : config.runDir, capacity?.nodeIps ?? {}, (why) => log.error({ nodeIps: capacity?.nodeIps ?? {} }, why)),
    ),
    log,
  });
  // Serve first (requests wait for the load), so the shim never sees a missing socket during start-up.
  await runFrame(service.frame, {
    runDir: settings.runDir,
    gid: socketGid,
    onStop: () => {
      service.stop();
      flushLogger(log);
    },
  });
  await service.start();
  log.info({ socket: settings.socketPath, checkpoint: service.broker.checkpoint }, "addr-broker started");
}
