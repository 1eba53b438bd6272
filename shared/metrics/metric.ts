/**
 * The metric kinds the services use (counter, gauge, histogram, summary), with labels, in
 * the shape of the Prometheus client the services were written against: `inc`, `dec`, `set`,
 * `observe` take the labels first when the metric has any; `collect()` runs (bound to the
 * metric) before each exposition; `get()` returns the samples. Each series is keyed by its
 * label values in the order of `labelNames`. The text itself is written by registry.ts.
 */

export type LabelValues<L extends string> = Partial<Record<L, string | number>>;

/** One sample: `metricName` when it is not the family's name (`_bucket`, `_sum`, `_count`). */
export interface Sample {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  values: Sample[];
}

export type MetricType = "counter" | "gauge" | "histogram" | "summary";

/** What every metric kind offers a registry. */
export interface Collectable {
  readonly name: string;
  get(): Promise<MetricFamily>;
}

export interface Registering {
  registerMetric(metric: Collectable): void;
}

export interface MetricConfiguration<L extends string, M> {
  name: string;
  help: string;
  labelNames?: readonly L[];
  /** Registries to join (none: the metric is only used directly). */
  registers?: readonly Registering[];
  /** Called with the metric as `this` before every exposition (a gauge reading its fact). */
  collect?: (this: M) => void | Promise<void>;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

abstract class Metric<L extends string, S> implements Collectable {
  abstract readonly type: MetricType;
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  protected series = new Map<string, { labels: LabelValues<L>; data: S }>();
  private readonly collector: ((this: never) => void | Promise<void>) | undefined;

  constructor(cfg: MetricConfiguration<L, unknown>, reserved?: string) {
    if (!METRIC_NAME.test(cfg.name)) throw new Error(`metric name: "${cfg.name}" is not a valid Prometheus metric name`);
    if (typeof cfg.help !== "string" || cfg.help === "") throw new Error(`metric ${cfg.name}: help is required`);
    for (const l of cfg.labelNames ?? []) {
      if (!LABEL_NAME.test(l) || l.startsWith("__")) throw new Error(`metric ${cfg.name}: labelNames: "${l}" is not a valid label name`);
      if (l === reserved) throw new Error(`metric ${cfg.name}: labelNames: "${l}" is reserved for the ${reserved === "le" ? "histogram's buckets" : "summary's quantiles"}`);
    }
    this.name = cfg.name;
    this.help = cfg.help;
    this.labelNames = [...(cfg.labelNames ?? [])];
    this.collector = cfg.collect as typeof this.collector;
  }

  /** Joins the registries once the metric is complete (a refused configuration joins none). */
  protected ready(cfg: { labelNames?: readonly string[]; registers?: readonly Registering[] }): void {
    if (this.labelNames.length === 0) this.at();
    for (const r of cfg.registers ?? []) r.registerMetric(this);
  }

  /** The series of these labels (created on first use); every label must be declared. */
  protected at(labels: LabelValues<L> = {}): S {
    const key = this.key(labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels: { ...labels }, data: this.fresh() };
      this.series.set(key, s);
    }
    return s.data;
  }

  private key(labels: LabelValues<L>): string {
    let key = "";
    for (const k of Object.keys(labels)) {
      if (!(this.labelNames as readonly string[]).includes(k)) throw new Error(`metric ${this.name}: label "${k}" is not one of its labelNames (${this.labelNames.join(", ") || "none"})`);
    }
    for (const k of this.labelNames) {
      const v = labels[k];
      if (v !== undefined) key += `${k}\u0000${v}\u0001`;
    }
    return key;
  }

  protected abstract fresh(): S;
  protected abstract samples(labels: LabelValues<L>, data: S): Sample[];

  /** Removes the series of exactly these labels; false when there was none. */
  remove(labels: LabelValues<L>): boolean {
    return this.series.delete(this.key(labels));
  }

  /** Removes every series (an unlabelled metric starts again at its zero). */
  reset(): void {
    this.series.clear();
    if (this.labelNames.length === 0) this.at();
  }

  async get(): Promise<MetricFamily> {
    if (this.collector) await this.collector.call(this as never);
    const values: Sample[] = [];
    for (const s of this.series.values()) values.push(...this.samples(s.labels, s.data));
    return { name: this.name, help: this.help, type: this.type, values };
  }
}

/** `(labels, value)` or `(value)`: the labels first when given. */
function split<L extends string>(a?: LabelValues<L> | number, b?: number): [LabelValues<L> | undefined, number | undefined] {
  return typeof a === "object" ? [a, b] : [undefined, a];
}

function finite(metric: string, v: number): number {
  if (typeof v !== "number" || Number.isNaN(v)) throw new TypeError(`metric ${metric}: value is not a number: ${String(v)}`);
  return v;
}

abstract class Scalar<L extends string> extends Metric<L, { value: number }> {
  constructor(cfg: MetricConfiguration<L, unknown>) {
    super(cfg);
    this.ready(cfg);
  }
  protected fresh() {
    return { value: 0 };
  }
  protected samples(labels: LabelValues<L>, data: { value: number }): Sample[] {
    return [{ value: data.value, labels: labels as Sample["labels"] }];
  }
}

export class Counter<L extends string = string> extends Scalar<L> {
  readonly type = "counter" as const;
  constructor(cfg: MetricConfiguration<L, Counter<L>>) {
    super(cfg as MetricConfiguration<L, unknown>);
  }
  inc(labels?: LabelValues<L> | number, value?: number): void {
    const [l, v = 1] = split(labels, value);
    if (finite(this.name, v) < 0) throw new Error(`metric ${this.name}: a counter cannot decrease (inc by ${v})`);
    this.at(l).value += v;
  }
}

export class Gauge<L extends string = string> extends Scalar<L> {
  readonly type = "gauge" as const;
  constructor(cfg: MetricConfiguration<L, Gauge<L>>) {
    super(cfg as MetricConfiguration<L, unknown>);
  }
  set(labels: LabelValues<L> | number, value?: number): void {
    const [l, v] = split(labels, value);
    this.at(l).value = finite(this.name, v ?? NaN);
  }
  inc(labels?: LabelValues<L> | number, value?: number): void {
    const [l, v = 1] = split(labels, value);
    this.at(l).value += finite(this.name, v);
  }
  dec(labels?: LabelValues<L> | number, value?: number): void {
    const [l, v = 1] = split(labels, value);
    this.at(l).value -= finite(this.name, v);
  }
}

/** Prometheus' default buckets: 5 ms … 10 s. */
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Histogram<L extends string = string> extends Metric<L, { counts: number[]; sum: number; count: number }> {
  readonly type = "histogram" as const;
  readonly buckets: readonly number[];
  constructor(cfg: MetricConfiguration<L, Histogram<L>> & { buckets?: readonly number[] }) {
    super(cfg as MetricConfiguration<L, unknown>, "le");
    const b = [...(cfg.buckets ?? DEFAULT_BUCKETS)];
    if (b.some((x, i) => !Number.isFinite(x) || (i > 0 && x <= b[i - 1]!))) throw new Error(`metric ${cfg.name}: buckets must be finite and increasing`);
    this.buckets = b;
    this.ready(cfg);
  }
  protected fresh() {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }
  observe(labels: LabelValues<L> | number, value?: number): void {
    const [l, v] = split(labels, value);
    const s = this.at(l);
    finite(this.name, v ?? NaN);
    const i = this.buckets.findIndex((b) => v! <= b);
    if (i >= 0) s.counts[i]!++;
    s.sum += v!;
    s.count++;
  }
  protected samples(labels: LabelValues<L>, d: { counts: number[]; sum: number; count: number }): Sample[] {
    const out: Sample[] = [];
    const bucket = `${this.name}_bucket`;
    let acc = 0;
    // `le` first, then the series' labels (the order the services' exposition has always had).
    for (const [i, le] of this.buckets.entries()) out.push({ value: (acc += d.counts[i]!), labels: { le, ...labels } as Sample["labels"], metricName: bucket });
    out.push({ value: d.count, labels: { le: "+Inf", ...labels } as Sample["labels"], metricName: bucket });
    out.push({ value: d.sum, labels: labels as Sample["labels"], metricName: `${this.name}_sum` });
    out.push({ value: d.count, labels: labels as Sample["labels"], metricName: `${this.name}_count` });
    return out;
  }
}

/** The quantiles a summary reports unless told otherwise. */
export const DEFAULT_PERCENTILES: readonly number[] = [0.01, 0.05, 0.5, 0.9, 0.95, 0.99, 0.999];
/** Observations a summary keeps per series for its quantiles (the newest). */
export const SUMMARY_WINDOW = 500;

export class Summary<L extends string = string> extends Metric<L, { recent: number[]; sum: number; count: number }> {
  readonly type = "summary" as const;
  readonly percentiles: readonly number[];
  constructor(cfg: MetricConfiguration<L, Summary<L>> & { percentiles?: readonly number[] }) {
    super(cfg as MetricConfiguration<L, unknown>, "quantile");
    this.percentiles = [...(cfg.percentiles ?? DEFAULT_PERCENTILES)];
    if (this.percentiles.some((p) => !(p >= 0 && p <= 1))) throw new Error(`metric ${cfg.name}: percentiles must be within 0…1`);
    this.ready(cfg);
  }
  protected fresh() {
    return { recent: [] as number[], sum: 0, count: 0 };
  }
  observe(labels: LabelValues<L> | number, value?: number): void {
    const [l, v] = split(labels, value);
    const s = this.at(l);
    finite(this.name, v ?? NaN);
    // Without quantiles nothing but the sum and count is kept.
    if (this.percentiles.length > 0) {
      s.recent.push(v!);
      if (s.recent.length > SUMMARY_WINDOW) s.recent.shift();
    }
    s.sum += v!;
    s.count++;
  }
  protected samples(labels: LabelValues<L>, d: { recent: number[]; sum: number; count: number }): Sample[] {
    const sorted = [...d.recent].sort((a, b) => a - b);
    const out: Sample[] = this.percentiles.map((quantile) => ({ value: quantileOf(sorted, quantile), labels: { quantile, ...labels } as Sample["labels"] }));
    out.push({ value: d.sum, labels: labels as Sample["labels"], metricName: `${this.name}_sum` });
    out.push({ value: d.count, labels: labels as Sample["labels"], metricName: `${this.name}_count` });
    return out;
  }
}

/** The q-quantile of sorted values, interpolated between the closest ranks; 0 when there are none. */
export function quantileOf(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}
