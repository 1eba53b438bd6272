/** The agent's metrics: upstream agent's names where it has one, the project's own prefix otherwise. */
import { Counter, Gauge, Histogram, Summary, type Registry } from "../../../../shared/metrics/index.ts";
import { RetiredPodSeries } from "./pod-series.ts";

export interface AgentMetrics {
  setupLatencyMs: Summary<"name" | "namespace">;
  teardownLatencyMs: Summary<"name" | "namespace">;
  programmingLatency: Histogram<string>;
  applies: Counter<"outcome">;
  applyDuration: Histogram<string>;
  watchEvents: Counter<"type">;
  /** Removes the two per-pod series of pods deleted long enough ago (pod-series.ts). */
  podSeries: RetiredPodSeries;
}

export function createAgentMetrics(registry: Registry, counts: () => { pods: number; endpoints: number }, podSeriesRetainMs?: number): AgentMetrics {
  const registers = [registry];
  new Gauge({
    name: "awscni_policy_agent_local_pods",
    help: "Pods on this node the policy agent programs",
    registers,
    collect() {
      this.set(counts().pods);
    },
  });
  new Gauge({
    name: "awscni_policy_agent_policy_endpoints",
    help: "PolicyEndpoints that select a pod on this node",
    registers,
    collect() {
      this.set(counts().endpoints);
    },
  });
  // Per pod, as upstream's agent: its SummaryVecs set no objectives, so client_golang exposes only _sum and _count.
  // With quantiles each pod carried 9 series and a window of samples: /metrics with 110 pods was 111 KB.
  const perPod = { labelNames: ["name", "namespace"] as Array<"name" | "namespace">, percentiles: [], registers };
  const setupLatencyMs = new Summary({ name: "awsnodeagent_policy_setup_latency_ms", help: "Time to program a new pod's policy during its ADD (ms)", ...perPod });
  const teardownLatencyMs = new Summary({ name: "awsnodeagent_policy_teardown_latency_ms", help: "Time to remove a deleted pod's policy during its DEL (ms)", ...perPod });
  return {
    setupLatencyMs,
    teardownLatencyMs,
    podSeries: new RetiredPodSeries([setupLatencyMs, teardownLatencyMs], podSeriesRetainMs),
    programmingLatency: new Histogram({
      name: "awsnodeagent_policy_programming_latency_seconds",
      help: "From a PolicyEndpoint change (its last-change-trigger-time annotation) to its rules programmed on this node",
      buckets: [0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    }),
    applies: new Counter({ name: "awscni_policy_agent_applies_total", help: "Kernel transactions of the policy engine, by outcome", labelNames: ["outcome"], registers }),
    applyDuration: new Histogram({ name: "awscni_policy_agent_apply_seconds", help: "Wall time of one apply of the node's policy state", buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers }),
    watchEvents: new Counter({ name: "awscni_policy_agent_watch_events_total", help: "PolicyEndpoint watch events received, by type", labelNames: ["type"], registers }),
  };
}
