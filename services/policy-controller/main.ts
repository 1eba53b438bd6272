/**
 * policy-controller: resolves NetworkPolicies into PolicyEndpoints (networking.k8s.aws/v1alpha1)
 * for the node agents. Runs as a Deployment (deploy/k8s/policy-controller.yaml) with the
 * in-cluster service account, or anywhere with KUBECONFIG. Flags: src/flags.ts. Serves
 * /healthz, /livez, /metrics and /debug on --metrics-bind-addr and --health-probe-bind-addr.
 */
import pino from "pino";
import { loadConfigOrExit } from "../../shared/config/index.ts";
import { kubeRestFrom } from "../../shared/kube-rest.ts";
import { PolicyController } from "./src/controller.ts";
import { FlagError, parseFlags } from "./src/flags.ts";
import { ControllerMetrics, controllerApp } from "./src/metrics.ts";

let flags;
try {
  flags = parseFlags(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`invalid flags: ${(error as Error).message}\n`);
  process.exit(error instanceof FlagError ? 2 : 1);
}
const { config } = loadConfigOrExit();
const log = pino({ level: flags.logLevel, base: { service: "policy-controller", pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } });
const kube = kubeRestFrom(config.kubernetes);
if (kube === undefined) {
  log.error("no Kubernetes API: set KUBECONFIG, or run in a pod (KUBERNETES_SERVICE_HOST)");
  process.exit(1);
}
const metrics = new ControllerMetrics();
const controller = new PolicyController(kube, flags, log, metrics);
const app = controllerApp(metrics, { synced: () => controller.synced, debug: () => ({ flags, ...controller.debug() }) });
const servers = [Bun.serve({ hostname: flags.metricsBind.host, port: flags.metricsBind.port, fetch: app.fetch })];
if (flags.healthBind.port !== flags.metricsBind.port || flags.healthBind.host !== flags.metricsBind.host) {
  servers.push(Bun.serve({ hostname: flags.healthBind.host, port: flags.healthBind.port, fetch: app.fetch }));
}
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    controller.stop();
    for (const server of servers) void server.stop(true);
    log.info({ signal }, "policy-controller stopped");
    process.exit(0);
  });
}
for (;;) {
  try {
    await controller.start();
    break;
  } catch (error) {
    log.warn({ error: String(error) }, "listing from the API failed; retrying in 2 s");
    await Bun.sleep(2000);
  }
}
log.info({ chunkSize: flags.chunkSize, batchPeriodMs: flags.batchPeriodMs, enabled: controller.enabled, ports: servers.map((server) => server.port) }, "policy-controller started");
