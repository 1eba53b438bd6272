/**
 * net-config's Prometheus metrics (the project's own; upstream has no separate net-config):
 * operations by kind and result, their duration, and kernel drift repaired by reconcile.
 */
import { Counter, Gauge, Histogram, type Registry } from "../../../../shared/metrics/index.ts";
import { UPSTREAM_METRIC_HELP as HELP } from "../../../../shared/upstream-metric-help.ts";

export function operationMetrics(registry: Registry) {
  return {
    total: new Counter({ name: "awscni_netconfig_operations_total", help: "net-config operations by kind and result", labelNames: ["op", "result"], registers: [registry] }),
    seconds: new Histogram({
      name: "awscni_netconfig_operation_seconds",
      help: "Duration of net-config operations",
      labelNames: ["op"],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2],
      registers: [registry],
    }),
  };
}

export function repairCounter(registry: Registry): Counter<"kind"> {
  return new Counter({ name: "awscni_netconfig_repairs_total", help: "Kernel drift repaired by net-config's reconcile, by kind", labelNames: ["kind"], registers: [registry] });
}
