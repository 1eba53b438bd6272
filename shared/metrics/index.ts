/** The project's Prometheus metrics: metric kinds (metric.ts), registry and text exposition (registry.ts), process metrics (process.ts). */
export { Counter, Gauge, Histogram, Summary, DEFAULT_BUCKETS, DEFAULT_PERCENTILES, type LabelValues, type MetricFamily, type Sample } from "./metric.ts";
export { Registry, PROMETHEUS_CONTENT_TYPE } from "./registry.ts";
export { collectProcessMetrics } from "./process.ts";
