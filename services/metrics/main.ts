/**
 * metrics: serves :61678/metrics, dual-stack (AWS_VPC_CNI_METRICS_BIND_ADDRESS; off with
 * DISABLE_METRICS) by scraping each service's /metrics over its socket, and its own
 * /healthz, /metrics, /debug on <run dir>/metrics.sock.
 */
import { bootstrap } from "../../shared/bootstrap.ts";
import { createFrame, runFrame } from "../../shared/service.ts";
import { listenTcp } from "./src/adapters/tcp-listener.ts";
import { Exporter } from "./src/app/exporter.ts";

const { config, log, socketGid } = bootstrap("metrics");
const exporter = new Exporter({
  "pool-manager": config.sockets.poolManager,
  "addr-broker": config.sockets.addrBroker,
  "net-config": config.sockets.netConfig,
  // Upstream's agent serves its awsnodeagent_* metrics on :8162; here they join the node's endpoint.
  "policy-agent": config.sockets.policyAgent,
});

let tcp: ReturnType<typeof Bun.serve> | undefined;
if (config.metrics.enabled) {
  const bind = config.metrics.bind;
  const app = exporter.app();
  tcp =
    bind.kind === "unix"
      ? Bun.serve({ unix: bind.path, fetch: app.fetch })
      : listenTcp(bind.host, bind.port, app.fetch, (err) => log.warn({ err: err.message }, "no IPv6 on this node: /metrics listens on IPv4 only"));
  log.info({ bind }, "serving /metrics");
} else {
  log.info("DISABLE_METRICS=true: not serving /metrics on TCP");
}

const frame = createFrame({
  name: "metrics",
  debug: () => ({ enabled: config.metrics.enabled, bind: config.metrics.bind, ...(exporter.debug() as object) }),
});
await runFrame(frame, {
  runDir: config.runDir,
  gid: socketGid,
  onStop: async () => {
    await tcp?.stop(false);
  },
});
log.info({ socket: config.sockets.metrics }, "metrics started");
