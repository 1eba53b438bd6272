/**
 * pool-manager: owns the node's ENIs, secondary IPs and prefixes. Reads config only via
 * shared/config, wires the adapters to the PoolManager, serves the capacity on
 * `<runDir>/pool-manager.sock` and the introspection routes on INTROSPECTION_BIND_ADDRESS.
 */
import { existsSync, unlinkSync } from "node:fs";
import { bootstrap } from "../../shared/bootstrap.ts";
import { ipamdEnvSettings, networkutilsEnvSettings } from "../../shared/config/upstream-env-settings.ts";
import { createFrame, runFrame } from "../../shared/service.ts";
import { Ec2Guard } from "./src/adapters/ec2-guard.ts";
import { createEc2Client, SdkEc2 } from "./src/adapters/ec2.ts";
import { SdkImds } from "./src/adapters/imds.ts";
import { createKubeAdapter, type KubeAdapter } from "./src/adapters/kube.ts";
import { brokerClient, netConfigClient } from "./src/adapters/peer-services.ts";
import { poolMetrics } from "./src/app/metrics.ts";
import { PoolManager } from "./src/app/pool-manager.ts";
import { introspectionApp, serviceRoutes } from "./src/app/routes.ts";
import { bucketsFrom, poolSettingsFrom } from "./src/app/settings-from-config.ts";

const { config, log, socketGid } = bootstrap("pool-manager");
const settings = poolSettingsFrom(config);
const imds = new SdkImds({ ...(config.imds.endpoint ? { endpoint: config.imds.endpoint } : {}) });
let pm: PoolManager | undefined;
// Why start-up has not finished yet (IMDS or EC2 failing): on /healthz, /debug and in the capacity.
let startupError: string | undefined;
const frame = createFrame({
  name: "pool-manager",
  debug: () => ({ ...(startupError ? { startup: `retrying: ${startupError}` } : {}), pool: pm?.debug(), ec2: { buckets: guard.buckets.state(Date.now()), calls: guard.counts, recentErrors: guard.recentErrors.slice(-20) } }),
  healthy: () => (pm?.model.ready ? { ok: true } : { ok: false, reason: startupError ? `start-up failed, retrying: ${startupError}` : "starting" }),
});
const metrics = poolMetrics(frame.registry);
// The pool's components log through one function; it lands in the service's pino logger
// (AWS_VPC_K8S_CNI_LOGLEVEL / AWS_VPC_K8S_CNI_LOG_FILE).
const logLine = (level: string, msg: string, f?: Record<string, unknown>) => {
  const at = (["debug", "info", "warn", "error", "fatal"].includes(level) ? level : "info") as "info";
  log[at](f ?? {}, msg);
};
// Kubernetes only when KUBECONFIG or an in-cluster API server is configured; else the port reports "not configured".
let kube: KubeAdapter | undefined;
try {
  kube = createKubeAdapter(config, { watchPods: settings.demandAware, log: logLine, onChange: () => pm?.onKubeChange() });
} catch (err) {
  logLine("error", "Kubernetes client configuration unusable (KUBECONFIG)", { kubeconfig: config.kubernetes.kubeconfig, err: String(err) });
  process.exit(1);
}
kube?.start();
const guard = new Ec2Guard({
  buckets: bucketsFrom(config),
  metrics,
  onError: (e) => {
    if (e.code === "UnauthorizedOperation") void kube?.ec2Unauthorized(e.api, e.message);
  },
});
const region = config.ec2.region ?? (await imds.availabilityZone()).replace(/[a-z]$/, "");
const ec2Client = createEc2Client({ region, requestTimeoutMs: config.ec2.httpTimeoutSeconds * 1000, userAgentVersion: config.ec2.userAgentVersion, ...(config.ec2.endpoint ? { endpoint: config.ec2.endpoint } : {}) });
const ec2 = new SdkEc2(ec2Client, guard);
pm = new PoolManager(
  settings,
  { ec2, imds, net: netConfigClient(config.sockets.netConfig), broker: brokerClient(config.sockets.addrBroker), ...(kube ? { kube } : {}) },
  {
    clusterName: config.eni.clusterName || undefined,
    additionalTags: config.eni.additionalTags,
    subnetDiscovery: config.pool.subnetDiscovery,
    disableProvisioning: config.pool.disableNetworkResourceProvisioning,
    disableLeakedEniCleanup: config.pool.disableLeakedEniCleanup,
    imdsOnly: config.pool.imdsOnlyMode,
    manageUntaggedEnis: config.pool.manageUntaggedEnis,
    multiNic: config.pool.multiNic,
    now: Date.now,
    sleep: (ms) => Bun.sleep(ms),
    log: (msg, f) => logLine("info", msg, f),
  },
  metrics,
);
serviceRoutes(frame.app, pm);
await runFrame(frame, {
  runDir: config.runDir,
  gid: socketGid,
  onStop: () => {
    pm?.stop();
    kube?.stop();
  },
});
if (config.introspection.enabled) {
  const broker = brokerClient(config.sockets.addrBroker);
  const app = introspectionApp(pm, { ipamd: ipamdEnvSettings(config), networkutils: networkutilsEnvSettings(config) }, { ...(kube ? { kube } : {}), assignments: () => broker.assignments!() });
  const b = config.introspection.bind;
  if (b.kind === "unix") {
    if (existsSync(b.path)) unlinkSync(b.path);
    Bun.serve({ unix: b.path, fetch: app.fetch });
  } else Bun.serve({ hostname: b.host || "0.0.0.0", port: b.port, fetch: app.fetch });
}
// Start-up retries until EC2/IMDS answer (jittered back-off, 2 s → 60 s): the node is not ready before.
// addr-broker tells pods why there is no address yet (CNI error 11 carries the shortage startWithRetry sets).
await pm.startWithRetry((err, retryInMs) => {
  startupError = String((err as Error)?.message ?? err);
  log.error({ err: String(err), retryInMs }, "start-up failed, retrying");
});
startupError = undefined;
pm.startLoops();
