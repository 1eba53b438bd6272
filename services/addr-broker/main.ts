/**
 * addr-broker: owns pod → address assignments. Serves the CNI contract for the shim on
 * <run dir>/addr-broker.sock, long-polls capacity from pool-manager, wires pods through
 * net-config, keeps the upstream-compatible checkpoint, and installs the node's
 * 10-aws.conflist once it can serve ADDs. Configuration comes only from shared/config.
 */
import { bootstrap } from "../../shared/bootstrap.ts";
import { flushLogger } from "../../shared/log.ts";
import { runFrame } from "../../shared/service.ts";
import { conflistSettingsFromConfig, renderConflist } from "../../shared/conflist.ts";
import { FileCheckpointStore } from "./src/adapters/checkpoint-store.ts";
import { conflistInstaller } from "./src/adapters/conflist-installer.ts";
import { ipKernelScan } from "./src/adapters/kernel-scan.ts";
import { createPodAnnotator, type PodAnnotatorPort } from "./src/adapters/pod-annotator.ts";
import { netConfigClient, poolManagerClient } from "./src/adapters/peers.ts";
import { createAddrBroker } from "./src/app/app.ts";
import { settingsFromConfig } from "./src/app/settings-from-config.ts";

const { config, log, socketGid } = bootstrap("addr-broker");
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
const service = createAddrBroker(settings, {
  ...(podAnnotator ? { podAnnotator } : {}),
  store: new FileCheckpointStore(settings.checkpointPath),
  kernel,
  netConfig: netConfigClient(settings.netConfigSocket, { kernel, vethPrefix: settings.vethPrefix }),
  pool: poolManagerClient(settings.poolManagerSocket),
  // HOST_CNI_CONFDIR_PATH: written once ADDs can be served (a non-default run dir is carried in the conflist for the shim).
  pendingDelRunDir: settings.runDir,
  conflist: conflistInstaller(config.cni.confDir, renderConflist(conflistSettingsFromConfig(config, config.runDir === "/var/run/aws-node" ? undefined : config.runDir))),
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
