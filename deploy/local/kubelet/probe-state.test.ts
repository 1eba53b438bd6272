import { describe, expect, test } from "bun:test";
import { ProbeCounter, ProbeSpecError, probeTiming } from "./probe-state.ts";

describe("probeTiming", () => {
  test("the kubelet's defaults", () => {
    expect(probeTiming({ exec: { command: ["true"] } }, "liveness", "f")).toEqual({ initialDelayMs: 0, periodMs: 10_000, timeoutMs: 1000, successThreshold: 1, failureThreshold: 3 });
  });
  test.each([
    [{}, "liveness", "f: exactly one of exec"],
    [{ exec: {}, tcpSocket: { port: 1 } }, "readiness", "exactly one"],
    [{ exec: {}, periodSeconds: 0 }, "readiness", "f.periodSeconds"],
    [{ exec: {}, initialDelaySeconds: -1 }, "readiness", "f.initialDelaySeconds"],
    [{ exec: {}, successThreshold: 2 }, "liveness", "must be 1 for a liveness probe"],
  ] as const)("%j (%s) is refused: %s", (probe, kind, text) => {
    expect(() => probeTiming(probe as never, kind, "f")).toThrow(ProbeSpecError);
    expect(() => probeTiming(probe as never, kind, "f")).toThrow(text);
  });
});

describe("ProbeCounter", () => {
  const timing = { initialDelayMs: 0, periodMs: 1000, timeoutMs: 1000, successThreshold: 2, failureThreshold: 3 };
  test("before any result: readiness not ready, liveness alive, startup unknown", () => {
    expect(new ProbeCounter("readiness", timing).result).toBe(false);
    expect(new ProbeCounter("liveness", timing).result).toBe(true);
    expect(new ProbeCounter("startup", timing).result).toBeUndefined();
  });
  test("flips only after the thresholds in a row; an interruption starts the count over", () => {
    const c = new ProbeCounter("readiness", timing);
    const seen = [true, false, true, true, false, false, true, false, false, false].map((ok) => [c.record(ok), c.result]);
    expect(seen).toEqual([
      [false, false], [false, false], [false, false], [true, true],
      [false, true], [false, true], [false, true], [false, true], [false, true], [true, false],
    ]);
  });
  test("dueAt: initial delay, then every period", () => {
    const t = { ...timing, initialDelayMs: 5000, periodMs: 2000 };
    expect([0, 1, 2].map((n) => ProbeCounter.dueAt(t, 100, n))).toEqual([5100, 7100, 9100]);
  });
});
