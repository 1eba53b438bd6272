/** addr-broker's metrics, upstream's names where upstream has one. */
import { Counter, Gauge, Histogram, type Registry } from "../../../../shared/metrics/index.ts";
import { UPSTREAM_METRIC_HELP as HELP } from "../../../../shared/upstream-metric-help.ts";
import type { Broker } from "./broker.ts";

export interface BrokerMetrics {
  addRequests: Counter<string>;
  delRequests: Counter<"reason">;
  noAvailableIp: Counter<string>;
  cniDuration: Histogram<"command" | "outcome">;
  podIpAnnotations: Counter<"result">;
}

export function createBrokerMetrics(registry: Registry, broker: Broker): BrokerMetrics {
  const registers = [registry];
  new Gauge({
    name: "awscni_assigned_ip_addresses",
    // Counts addresses reserved for pods whose owner is unknown too (they are not free).
    help: HELP.awscni_assigned_ip_addresses,
    registers,
    collect() {
      this.set(broker.state.allocations.size + broker.state.reserved.size);
    },
  });
  new Gauge({
    name: "awscni_assigned_ip_per_cidr",
    help: HELP.awscni_assigned_ip_per_cidr,
    labelNames: ["cidr"],
    registers,
    collect() {
      this.reset();
      for (const c of broker.usage().cidrs) this.set({ cidr: c.cidr }, c.assigned);
    },
  });
  new Gauge({
    name: "awscni_cooling_ip_addresses",
    help: "Released addresses waiting for IP_COOLDOWN_PERIOD before they are handed out again",
    registers,
    collect() {
      this.set(broker.usage().cooling);
    },
  });
  new Gauge({
    name: "awscni_capacity_version",
    help: "Version of the capacity snapshot last received from pool-manager (-1: none yet)",
    registers,
    collect() {
      this.set(broker.capacity?.version ?? -1);
    },
  });
  new Gauge({
    name: "awscni_checkpoint_writes",
    help: "Checkpoint writes (tmp + fsync + rename) since start",
    registers,
    collect() {
      this.set(broker.checkpoint.writes);
    },
  });
  return {
    addRequests: new Counter({ name: "awscni_add_ip_req_count", help: HELP.awscni_add_ip_req_count, registers }),
    // reason: PodDeleted (each CNI DEL), SetupNSFailed (ADD undone after failed wiring), gc and sweep (CNI GC, the start-up sweep).
    delRequests: new Counter({ name: "awscni_del_ip_req_count", help: HELP.awscni_del_ip_req_count, labelNames: ["reason"], registers }),
    noAvailableIp: new Counter({ name: "awscni_no_available_ip_addresses", help: HELP.awscni_no_available_ip_addresses, registers }),
    cniDuration: new Histogram({
      name: "awscni_cni_request_duration_seconds",
      help: "CNI command handling time in addr-broker, by command and outcome",
      labelNames: ["command", "outcome"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    podIpAnnotations: new Counter({ name: "awscni_pod_ip_annotations_total", help: "ANNOTATE_POD_IP: pod annotations written (ok) or given up after retries (error)", labelNames: ["result"], registers }),
  };
}
