/**
 * The pool-manager's Prometheus metrics on one registry: upstream's (awscni_*, with upstream's
 * name, type, HELP and labels) and a few of the project's own.
 */
import { Counter, Gauge, Histogram, Registry, Summary } from "../../../../shared/metrics/index.ts";
import pkg from "../../../../package.json" with { type: "json" };
import { UPSTREAM_METRIC_HELP as HELP } from "../../../../shared/upstream-metric-help.ts";

/** The node's metrics endpoint shows awscni_build_info once: pool-manager (upstream's ipamd) owns it. */
export function poolMetrics(registry: Registry) {
  const r = [registry];
  const counter = <L extends string>(name: keyof typeof HELP, labelNames: L[] = []) => new Counter<L>({ name, help: HELP[name], labelNames, registers: r });
  const gauge = <L extends string>(name: keyof typeof HELP, labelNames: L[] = []) => new Gauge<L>({ name, help: HELP[name], labelNames, registers: r });
  const m = {
    // Upstream's summary has no objectives: only _sum and _count.
    apiLatency: new Summary({ name: "awscni_aws_api_latency_ms", help: HELP.awscni_aws_api_latency_ms, labelNames: ["api", "error", "status"], percentiles: [], registers: r }),
    ec2Requests: counter("awscni_ec2api_req_count", ["fn"]),
    ec2Errors: counter("awscni_ec2api_error_count", ["fn"]),
    awsErrors: counter("awscni_aws_api_error_count", ["api", "error"]),
    awsUtilsErrors: counter("awscni_aws_utils_error_count", ["fn", "error"]),
    podEniErrors: counter("awscni_pod_eni_error_count", ["fn"]),
    bucketWait: new Histogram({ name: "awscni_ec2_bucket_wait_seconds", help: "Time an EC2 call waited on the client-side token bucket", labelNames: ["api"], buckets: [0, 0.01, 0.1, 0.5, 1, 5, 30], registers: r }),
    clientRate: new Gauge({ name: "awscni_ec2_client_rate_per_second", help: "Refill rate of the client-side EC2 token bucket now (AIMD: halved on throttling, recovering on success)", labelNames: ["bucket"], registers: r }),
    eniMax: gauge("awscni_eni_max"),
    ipMax: gauge("awscni_ip_max"),
    eniAllocated: gauge("awscni_eni_allocated"),
    totalIps: gauge("awscni_total_ip_addresses"),
    totalPrefixes: gauge("awscni_total_ipv4_prefixes"),
    assignedPerEni: gauge("awscni_assigned_ip_per_eni", ["eni"]),
    forceRemovedEnis: counter("awscni_force_removed_enis"),
    forceRemovedIps: counter("awscni_force_removed_ips"),
    reconcile: counter("awscni_reconcile_count", ["fn"]),
    ipamdErrors: counter("awscni_ipamd_error_count", ["fn"]),
    inProgress: gauge("awscni_ipamd_action_inprogress", ["fn"]),
    // Upstream's default buckets (shared/metrics' DEFAULT_BUCKETS are the same: 5 ms … 10 s).
    startup: new Histogram({ name: "awscni_ipamd_startup_duration_seconds", help: HELP.awscni_ipamd_startup_duration_seconds, labelNames: ["success", "with_api_server", "failure_reason"], registers: r }),
    nodeInit: new Histogram({ name: "awscni_ipamd_node_initialization_duration_seconds", help: HELP.awscni_ipamd_node_initialization_duration_seconds, labelNames: ["success"], registers: r }),
    // Upstream's labels (version, goversion); goversion carries the runtime that runs this build (e.g. "bun1.2.3").
    buildInfo: gauge("awscni_build_info", ["version", "goversion"]),
  };
  m.buildInfo.set({ version: pkg.version, goversion: `bun${Bun.version}` }, 1);
  return m;
}

export type PoolMetrics = ReturnType<typeof poolMetrics>;
