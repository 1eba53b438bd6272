/**
 * The controller's HTTP side: /healthz (503 until the caches are synced), /livez, /metrics
 * (upstream's metric names: reconciliations, reconcile duration, objects) and /debug.
 */
import { Hono } from "hono";
import { Counter, Gauge, Histogram, Registry, collectProcessMetrics } from "../../../shared/metrics/index.ts";

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly #reconciliations = new Counter({ name: "network_policy_reconciliations_total", help: "NetworkPolicy reconciliations", registers: [this.registry] });
  readonly #duration = new Histogram({ name: "network_policy_reconcile_duration_seconds", help: "Time to reconcile one NetworkPolicy", buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [this.registry] });
  readonly #objects = new Gauge({ name: "network_policy_objects_total", help: "PolicyEndpoint objects the controller knows", registers: [this.registry] });

  constructor(processMetrics = true) {
    if (processMetrics) collectProcessMetrics({ register: this.registry, prefix: "awscni_policy_controller_" });
  }

  reconciled(ms: number, objects: number): void {
    this.#reconciliations.inc();
    this.#duration.observe(ms / 1000);
    this.#objects.set(objects);
  }
}

export function controllerApp(metrics: ControllerMetrics, state: { synced: () => boolean; debug: () => unknown }): Hono {
  const app = new Hono();
  app.get("/livez", (c) => c.json({ ok: true }));
  app.get("/healthz", (c) => (state.synced() ? c.json({ ok: true }) : c.json({ ok: false, reason: "caches not synced yet" }, 503)));
  app.get("/metrics", async (c) => c.text(await metrics.registry.metrics(), 200, { "content-type": metrics.registry.contentType }));
  app.get("/debug", (c) => c.json({ service: "policy-controller", pid: process.pid, ...(state.debug() as object) }));
  return app;
}
