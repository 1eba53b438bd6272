// The exposition, byte for byte as the services wrote it with their former Prometheus client
// (the text below was that client's output for the same calls), so scrapers and the metrics
// service's merge see no change.
import { describe, expect, test } from "bun:test";
import { Counter, Gauge, Histogram, Registry, Summary } from "./index.ts";

const EXPECTED = `# HELP t_requests Requests\\\\ with "quotes"\\nand a newline
# TYPE t_requests counter
t_requests{fn="a\\"b\\\\c\\nd",error="x"} 1
t_requests{fn="b",error="y"} 2.5

# HELP t_plain plain
# TYPE t_plain counter
t_plain 0

# HELP t_gauge g
# TYPE t_gauge gauge
t_gauge{eni="eni-1"} 4
t_gauge{eni="eni-2"} -2

# HELP t_g2 g2
# TYPE t_g2 gauge
t_g2 7

# HELP t_hist h
# TYPE t_hist histogram
t_hist_bucket{le="0.1",op="add"} 1
t_hist_bucket{le="1",op="add"} 1
t_hist_bucket{le="5",op="add"} 2
t_hist_bucket{le="+Inf",op="add"} 3
t_hist_sum{op="add"} 12.05
t_hist_count{op="add"} 3

# HELP t_hist_plain hp
# TYPE t_hist_plain histogram
t_hist_plain_bucket{le="0.005"} 0
t_hist_plain_bucket{le="0.01"} 0
t_hist_plain_bucket{le="0.025"} 0
t_hist_plain_bucket{le="0.05"} 0
t_hist_plain_bucket{le="0.1"} 0
t_hist_plain_bucket{le="0.25"} 0
t_hist_plain_bucket{le="0.5"} 1
t_hist_plain_bucket{le="1"} 1
t_hist_plain_bucket{le="2.5"} 1
t_hist_plain_bucket{le="5"} 1
t_hist_plain_bucket{le="10"} 1
t_hist_plain_bucket{le="+Inf"} 1
t_hist_plain_sum 0.3
t_hist_plain_count 1

# HELP t_sum s
# TYPE t_sum summary
t_sum_sum{api="x"} 15
t_sum_count{api="x"} 2

# HELP t_sumq sq
# TYPE t_sumq summary
t_sumq{quantile="0.01",name="p"} 4
t_sumq{quantile="0.05",name="p"} 4
t_sumq{quantile="0.5",name="p"} 4
t_sumq{quantile="0.9",name="p"} 4
t_sumq{quantile="0.95",name="p"} 4
t_sumq{quantile="0.99",name="p"} 4
t_sumq{quantile="0.999",name="p"} 4
t_sumq_sum{name="p"} 4
t_sumq_count{name="p"} 1

# HELP t_nan n
# TYPE t_nan gauge
t_nan +Inf
`;

describe("Registry.metrics", () => {
  test("every kind, labels escaped, +Inf buckets, _sum and _count, families in registration order", async () => {
    const r = new Registry();
    const c = new Counter({ name: "t_requests", help: 'Requests\\ with "quotes"\nand a newline', labelNames: ["fn", "error"], registers: [r] });
    c.inc({ fn: 'a"b\\c\nd', error: "x" });
    c.inc({ fn: "b", error: "y" }, 2.5);
    new Counter({ name: "t_plain", help: "plain", registers: [r] });
    const g = new Gauge({ name: "t_gauge", help: "g", labelNames: ["eni"], registers: [r] });
    g.set({ eni: "eni-1" }, 3);
    g.inc({ eni: "eni-1" });
    g.dec({ eni: "eni-2" }, 2);
    new Gauge({ name: "t_g2", help: "g2", registers: [r], collect() { this.set(7); } });
    const h = new Histogram({ name: "t_hist", help: "h", labelNames: ["op"], buckets: [0.1, 1, 5], registers: [r] });
    for (const v of [0.05, 2, 10]) h.observe({ op: "add" }, v);
    new Histogram({ name: "t_hist_plain", help: "hp", registers: [r] }).observe(0.3);
    const s = new Summary({ name: "t_sum", help: "s", labelNames: ["api"], percentiles: [], registers: [r] });
    s.observe({ api: "x" }, 12);
    s.observe({ api: "x" }, 3);
    new Summary({ name: "t_sumq", help: "sq", labelNames: ["name"], registers: [r] }).observe({ name: "p" }, 4);
    new Gauge({ name: "t_nan", help: "n", registers: [r] }).set(Infinity);
    expect(await r.metrics()).toBe(EXPECTED);
  });

  test("a gauge's reset drops its series; an unlabelled one goes back to 0", async () => {
    const r = new Registry();
    const g = new Gauge({ name: "per_eni", help: "x", labelNames: ["eni"], registers: [r] });
    g.set({ eni: "a" }, 1);
    g.reset();
    g.set({ eni: "b" }, 2);
    const u = new Gauge({ name: "plain", help: "y", registers: [r] });
    u.set(5);
    u.reset();
    expect(await r.metrics()).toBe('# HELP per_eni x\n# TYPE per_eni gauge\nper_eni{eni="b"} 2\n\n# HELP plain y\n# TYPE plain gauge\nplain 0\n');
  });

  test("remove drops one series of exactly those labels; an unknown one is false, an undeclared label an error", async () => {
    const r = new Registry();
    const s = new Summary({ name: "per_pod", help: "x", labelNames: ["name", "namespace"], percentiles: [], registers: [r] });
    s.observe({ name: "a", namespace: "n" }, 1);
    s.observe({ name: "b", namespace: "n" }, 2);
    expect(s.remove({ name: "a", namespace: "n" })).toBe(true);
    expect(s.remove({ name: "a", namespace: "n" })).toBe(false);
    expect(s.remove({ name: "a" })).toBe(false); // a partial label set is another series
    expect(() => s.remove({ pod: "a" } as never)).toThrow(/label "pod" is not one of its labelNames/);
    expect(await r.metrics()).toBe('# HELP per_pod x\n# TYPE per_pod summary\nper_pod_sum{name="b",namespace="n"} 2\nper_pod_count{name="b",namespace="n"} 1\n');
  });

  test("summary quantiles over the recent observations of each series", async () => {
    const s = new Summary({ name: "lat", help: "l", percentiles: [0, 0.5, 1] });
    for (const v of [5, 1, 3, 2, 4]) s.observe(v);
    const f = await s.get();
    expect(f.values.map((v) => [v.metricName ?? "lat", v.labels.quantile ?? "", v.value])).toEqual([
      ["lat", 0, 1],
      ["lat", 0.5, 3],
      ["lat", 1, 5],
      ["lat_sum", "", 15],
      ["lat_count", "", 5],
    ]);
  });

  test("get() returns the samples that upstream-style readers look up by label", async () => {
    const r = new Registry();
    const h = new Histogram({ name: "d", help: "d", labelNames: ["success"], buckets: [1], registers: [r] });
    h.observe({ success: "true" }, 0.5);
    const f = await r.getSingleMetric("d")!.get();
    expect(f.values.find((v) => v.metricName === "d_count" && v.labels.success === "true")?.value).toBe(1);
    expect((r.getSingleMetric("d") as Histogram).labelNames).toEqual(["success"]);
  });
});

describe("bad input: an error naming the field, nothing registered", () => {
  test("an undeclared label", () => {
    const c = new Counter({ name: "c_total", help: "c", labelNames: ["fn"] });
    expect(() => c.inc({ op: "x" } as never)).toThrow(/label "op" is not one of its labelNames \(fn\)/);
  });
  test("a counter cannot go down; a value must be a number", () => {
    const c = new Counter({ name: "c_total", help: "c" });
    expect(() => c.inc(-1)).toThrow(/cannot decrease/);
    expect(() => new Gauge({ name: "g", help: "g" }).set(Number.NaN)).toThrow(/not a number/);
  });
  test("names, reserved labels, buckets, percentiles, duplicates", () => {
    const r = new Registry();
    expect(() => new Counter({ name: "bad-name", help: "x", registers: [r] })).toThrow(/metric name/);
    expect(() => new Histogram({ name: "h", help: "x", labelNames: ["le"], registers: [r] })).toThrow(/labelNames: "le" is reserved/);
    expect(() => new Summary({ name: "s", help: "x", labelNames: ["quantile"], registers: [r] })).toThrow(/labelNames: "quantile" is reserved/);
    expect(() => new Histogram({ name: "h2", help: "x", buckets: [1, 1], registers: [r] })).toThrow(/buckets/);
    expect(() => new Summary({ name: "s2", help: "x", percentiles: [1.5], registers: [r] })).toThrow(/percentiles/);
    expect(r.getMetricsAsArray()).toHaveLength(0);
    new Counter({ name: "once", help: "x", registers: [r] });
    expect(() => new Counter({ name: "once", help: "x", registers: [r] })).toThrow(/already been registered/);
  });
});
