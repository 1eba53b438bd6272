/**
 * The metrics exporter: one Prometheus endpoint for the node, made of every service's
 * /metrics (scraped over their sockets at request time) plus a scrape-health gauge.
 */
import { Hono } from "hono";
import { mergeExpositions } from "../core/merge.ts";
import { scrape, type ScrapeResult } from "../adapters/scrape.ts";

export interface ExporterTargets {
  [service: string]: string;
}

export class Exporter {
  private last: ScrapeResult[] = [];
  constructor(private readonly targets: ExporterTargets) {}

  async collect(): Promise<string> {
    const results = await Promise.all(Object.entries(this.targets).map(([name, socket]) => scrape(name, socket)));
    this.last = results;
    const up = [
      "# HELP awscni_metrics_scrape_up Whether the last scrape of a service's /metrics over its socket succeeded",
      "# TYPE awscni_metrics_scrape_up gauge",
      ...results.map((r) => `awscni_metrics_scrape_up{service="${r.service}"} ${r.ok ? 1 : 0}`),
    ].join("\n");
    return mergeExpositions([...results.map((r) => r.text), up]);
  }

  /** The TCP-facing app: GET /metrics only. */
  app(): Hono {
    const app = new Hono();
    app.get("/metrics", async (c) => c.text(await this.collect(), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }));
    return app;
  }

  debug(): unknown {
    return { targets: this.targets, lastScrape: this.last.map(({ text: _t, ...r }) => r) };
  }
}
