import { describe, expect, test } from "bun:test";
import { FlagError, durationMs, parseFlags } from "./flags.ts";
import { ControllerMetrics, controllerApp } from "./metrics.ts";

describe("flags", () => {
  test("upstream's defaults", () => {
    expect(parseFlags([])).toEqual({
      chunkSize: 200,
      batchPeriodMs: 1000,
      concurrency: 3,
      configMapCheck: true,
      metricsBind: { host: "0.0.0.0", port: 8080 },
      healthBind: { host: "0.0.0.0", port: 8081 },
      logLevel: "info",
    });
  });

  test("values as upstream spells them", () => {
    const flags = parseFlags(["--endpoint-chunk-size=1000", "--pod-update-batch-period-duration=250ms", "--enable-configmap-check=false", "--metrics-bind-addr=127.0.0.1:9000", "--health-probe-bind-addr=[::1]:0"]);
    expect([flags.chunkSize, flags.batchPeriodMs, flags.configMapCheck, flags.metricsBind, flags.healthBind]).toEqual([1000, 250, false, { host: "127.0.0.1", port: 9000 }, { host: "::1", port: 0 }]);
    expect(durationMs("x", "1.5s")).toBe(1500);
    expect(durationMs("x", "2m")).toBe(120_000);
  });

  test("as Go's flag package reads them: one dash, a separate value, a bare boolean", () => {
    const flags = parseFlags(["-endpoint-chunk-size", "50", "--enable-configmap-check"]);
    expect([flags.chunkSize, flags.configMapCheck]).toEqual([50, true]);
  });

  test.each([
    [["--endpoint-chunk-size=0"], "--endpoint-chunk-size"],
    [["--endpoint-chunk-size=ten"], "--endpoint-chunk-size"],
    [["--pod-update-batch-period-duration=1h"], "--pod-update-batch-period-duration"],
    [["--enable-configmap-check=yes"], "--enable-configmap-check"],
    [["--metrics-bind-addr=8080"], "--metrics-bind-addr"],
    [["--log-level=loud"], "--log-level"],
    [["--no-such-flag"], "no-such-flag"],
  ])("%j is refused, naming the flag", (argv, name) => {
    expect(() => parseFlags(argv)).toThrow(FlagError);
    expect(() => parseFlags(argv)).toThrow(name);
  });
});

describe("HTTP", () => {
  test("/healthz is 503 until synced; /metrics has upstream's metric names", async () => {
    const metrics = new ControllerMetrics(false);
    let synced = false;
    const app = controllerApp(metrics, { synced: () => synced, debug: () => ({ policies: 0 }) });
    expect((await app.request("/healthz")).status).toBe(503);
    synced = true;
    expect((await app.request("/healthz")).status).toBe(200);
    metrics.reconciled(12, 4);
    const text = await (await app.request("/metrics")).text();
    expect(text).toContain("network_policy_reconciliations_total 1");
    expect(text).toContain("network_policy_objects_total 4");
    expect(text).toContain("network_policy_reconcile_duration_seconds_count 1");
    expect(await (await app.request("/debug")).json()).toMatchObject({ service: "policy-controller", policies: 0 });
  });
});
