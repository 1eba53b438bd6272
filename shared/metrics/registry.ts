/**
 * A service's metrics and their Prometheus text exposition (format 0.0.4): per family
 * `# HELP` (backslash and newline escaped), `# TYPE`, then its samples,
 * `name{label="value",…} value` (label values escape backslash, newline and the double quote;
 * `+Inf`, `-Inf`, `Nan` for the non-finite); families apart by an empty line, in the order
 * they were registered.
 */
import type { Collectable, MetricFamily, Registering, Sample } from "./metric.ts";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const escapeText = (s: string) => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
const escapeLabel = (s: string) => escapeText(s).replace(/"/g, '\\"');

/** A sample's value as the exposition writes it. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "Nan";
  if (!Number.isFinite(v)) return v < 0 ? "-Inf" : "+Inf";
  return `${v}`;
}

export function formatSample(family: string, s: Sample): string {
  const labels = Object.entries(s.labels)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}="${typeof v === "string" ? escapeLabel(v) : v}"`);
  return `${s.metricName ?? family}${labels.length ? `{${labels.join(",")}}` : ""} ${formatValue(s.value)}`;
}

export function formatFamily(f: MetricFamily): string {
  const name = escapeText(f.name);
  return [`# HELP ${name} ${escapeText(f.help)}`, `# TYPE ${name} ${f.type}`, ...f.values.map((s) => formatSample(name, s))].join("\n");
}

export class Registry implements Registering {
  readonly contentType = PROMETHEUS_CONTENT_TYPE;
  private readonly byName = new Map<string, Collectable>();

  registerMetric(metric: Collectable): void {
    const known = this.byName.get(metric.name);
    if (known && known !== metric) throw new Error(`A metric with the name ${metric.name} has already been registered.`);
    this.byName.set(metric.name, metric);
  }

  getSingleMetric(name: string): Collectable | undefined {
    return this.byName.get(name);
  }

  getMetricsAsArray(): Collectable[] {
    return [...this.byName.values()];
  }

  removeSingleMetric(name: string): void {
    this.byName.delete(name);
  }

  /** The exposition text of every registered metric (each one's collect() runs first). */
  async metrics(): Promise<string> {
    const families = await Promise.all(this.getMetricsAsArray().map((m) => m.get()));
    return `${families.map(formatFamily).join("\n\n")}\n`;
  }
}
