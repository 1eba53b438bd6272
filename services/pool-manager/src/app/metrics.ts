/** The pool-manager's Prometheus metrics, with upstream's names (awscni_*), on one registry. */
import { Counter, Gauge, Histogram, Registry, Summary } from "prom-client";
import pkg from "../../../../package.json" with { type: "json" };

/** The node's metrics endpoint shows awscni_build_info once: pool-manager (upstream's ipamd) owns it. */
export function poolMetrics(registry: Registry) {
  const r = [registry];
  const m = {
    apiLatency: new Summary({ name: "awscni_aws_api_latency_ms", help: "AWS API call latency in ms", labelNames: ["api", "error", "status"], registers: r }),
    ec2Requests: new Counter({ name: "awscni_ec2api_req_count", help: "EC2 API requests", labelNames: ["fn"], registers: r }),
    ec2Errors: new Counter({ name: "awscni_ec2api_error_count", help: "EC2 API errors", labelNames: ["fn"], registers: r }),
    awsErrors: new Counter({ name: "awscni_aws_api_error_count", help: "AWS API errors by code", labelNames: ["api", "error"], registers: r }),
    bucketWait: new Histogram({ name: "awscni_ec2_bucket_wait_seconds", help: "Time an EC2 call waited on the client-side token bucket", labelNames: ["api"], buckets: [0, 0.01, 0.1, 0.5, 1, 5, 30], registers: r }),
    clientRate: new Gauge({ name: "awscni_ec2_client_rate_per_second", help: "Refill rate of the client-side EC2 token bucket now (AIMD: halved on throttling, recovering on success)", labelNames: ["bucket"], registers: r }),
    eniMax: new Gauge({ name: "awscni_eni_max", help: "Max ENIs the node may attach", registers: r }),
    ipMax: new Gauge({ name: "awscni_ip_max", help: "Max addresses the node may hold", registers: r }),
    eniAllocated: new Gauge({ name: "awscni_eni_allocated", help: "ENIs managed", registers: r }),
    totalIps: new Gauge({ name: "awscni_total_ip_addresses", help: "Addresses in the pool", registers: r }),
    totalPrefixes: new Gauge({ name: "awscni_total_ipv4_prefixes", help: "IPv4 prefixes in the pool", registers: r }),
    assignedPerEni: new Gauge({ name: "awscni_assigned_ip_per_eni", help: "Assigned addresses per ENI", labelNames: ["eni"], registers: r }),
    forceRemovedEnis: new Counter({ name: "awscni_force_removed_enis", help: "ENIs removed from the pool although pods used them", registers: r }),
    forceRemovedIps: new Counter({ name: "awscni_force_removed_ips", help: "Addresses removed from the pool although pods used them", registers: r }),
    reconcile: new Counter({ name: "awscni_reconcile_count", help: "Reconcile actions", labelNames: ["fn"], registers: r }),
    ipamdErrors: new Counter({ name: "awscni_ipamd_error_count", help: "Pool errors", labelNames: ["fn"], registers: r }),
    inProgress: new Gauge({ name: "awscni_ipamd_action_inprogress", help: "Pool actions in progress", labelNames: ["fn"], registers: r }),
    startup: new Histogram({ name: "awscni_ipamd_startup_duration_seconds", help: "Start-up duration", buckets: [0.5, 1, 2, 5, 10, 30, 60, 120], registers: r }),
    // Upstream's labels (version, goversion); goversion carries the runtime that runs this build (e.g. "bun1.2.3").
    buildInfo: new Gauge({ name: "awscni_build_info", help: "A metric with a constant '1' value labeled by the version and the runtime of this build", labelNames: ["version", "goversion"], registers: r }),
  };
  m.buildInfo.set({ version: pkg.version, goversion: `bun${Bun.version}` }, 1);
  return m;
}

export type PoolMetrics = ReturnType<typeof poolMetrics>;
