import { describe, expect, test } from "bun:test";
import { createFrame } from "./service.ts";
import { IdleGc } from "./service-gc.ts";

/** An IdleGc on a hand-driven clock and RSS; a "collection" drops RSS to `afterGc`. */
function rig(opts: { quietMs?: number; growthBytes?: number } = {}) {
  const s = { now: 0, rss: 10 << 20, afterGc: 8 << 20, collections: 0 };
  const gc = new IdleGc({
    ...opts,
    now: () => s.now,
    rss: () => s.rss,
    gc: () => {
      s.collections++;
      s.rss = s.afterGc;
    },
  });
  return { s, gc };
}

describe("IdleGc", () => {
  test("collects start-up garbage once the service is first quiet, then not again at the same size", () => {
    const { s, gc } = rig();
    expect(gc.check()).toBe(true);
    expect(s.collections).toBe(1);
    expect(s.rss).toBe(8 << 20);
    s.now += 10_000;
    expect(gc.check()).toBe(false);
    expect(s.collections).toBe(1);
  });

  test("waits until no request for quietMs, then collects what the burst left", () => {
    const { s, gc } = rig({ quietMs: 1000 });
    gc.check();
    s.rss = 20 << 20; // a burst grew the process
    s.now = 5000;
    gc.touch();
    s.now = 5500;
    expect(gc.check()).toBe(false);
    expect(s.collections).toBe(1);
    s.now = 6000;
    expect(gc.check()).toBe(true);
    expect(s.collections).toBe(2);
  });

  test("growth below growthBytes since the last collection does not collect", () => {
    const { s, gc } = rig({ growthBytes: 1 << 20 });
    gc.check();
    s.now = 60_000;
    s.rss = (8 << 20) + (512 << 10);
    expect(gc.check()).toBe(false);
    s.rss = (8 << 20) + (1 << 20);
    expect(gc.check()).toBe(true);
    expect(s.collections).toBe(2);
  });

  test("live growth a collection cannot free is not collected again and again", () => {
    const { s, gc } = rig();
    gc.check();
    s.afterGc = 30 << 20; // real data: a collection frees nothing
    s.rss = 30 << 20;
    s.now = 10_000;
    expect(gc.check()).toBe(true);
    s.now = 20_000;
    expect(gc.check()).toBe(false);
    expect(s.collections).toBe(2);
  });

  test("growth is measured from the low point after a collection (pages go back to the OS late)", () => {
    const { s, gc } = rig({ growthBytes: 1 << 20 });
    s.afterGc = 10 << 20; // right after the collection nothing is returned yet
    gc.check();
    s.now = 5000;
    s.rss = 7 << 20; // the allocator gave the pages back
    expect(gc.check()).toBe(false);
    s.now = 10_000;
    s.rss = (8 << 20) + (512 << 10); // grew 1.5 MiB over the low point, still below the size after the collection
    expect(gc.check()).toBe(true);
    expect(s.collections).toBe(2);
  });

  test("enough requests since the last collection collect even without growth; fewer do not", () => {
    const { s, gc } = rig();
    gc.check();
    for (let i = 0; i < 31; i++) gc.touch(true);
    s.now = 5000;
    expect(gc.check()).toBe(false);
    gc.touch(true);
    s.now = 10_000;
    expect(gc.check()).toBe(true);
    expect(s.collections).toBe(2);
  });

  test("a frame's requests keep its service busy", async () => {
    const s = { now: 0, rss: 10 << 20, collections: 0 };
    const frame = createFrame({
      name: "metrics",
      debug: () => ({}),
      processMetrics: false,
      idleGc: { quietMs: 1000, now: () => s.now, rss: () => s.rss, gc: () => s.collections++ },
    });
    s.now = 10_000;
    expect((await frame.app.request("/healthz")).status).toBe(200);
    s.now = 10_500;
    expect(frame.idleGc.check()).toBe(false);
    s.now = 11_000;
    expect(frame.idleGc.check()).toBe(true);
    expect(s.collections).toBe(1);
  });
  test("with the real collector, RSS and clock it collects start-up garbage and reports it", () => {
    const gc = new IdleGc();
    expect(gc.check()).toBe(true);
    expect(gc.runs).toBe(1);
  });
});
