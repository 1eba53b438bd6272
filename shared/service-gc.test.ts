import { describe, expect, test } from "bun:test";
import { createFrame } from "./service.ts";
import { IdleGc } from "./service-gc.ts";

/** An IdleGc on a hand-driven clock, RSS and JS heap; a "collection" drops RSS to `afterGc` and the heap to `heapAfterGc`. */
function rig(opts: { quietMs?: number; growthBytes?: number; heapGrowthBytes?: number } = {}) {
  const s = { now: 0, rss: 10 << 20, afterGc: 8 << 20, heap: 4 << 20, heapAfterGc: 2 << 20, collections: 0, shrinks: 0 };
  const collect = () => {
    s.collections++;
    s.rss = s.afterGc;
    s.heap = s.heapAfterGc;
  };
  const gc = new IdleGc({
    ...opts,
    now: () => s.now,
    rss: () => s.rss,
    heap: () => s.heap,
    gc: collect,
    shrink: () => {
      s.shrinks++;
      collect();
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

  test("the first collection also drops start-up code (a shrink); later ones are plain collections", () => {
    const { s, gc } = rig();
    expect(gc.check()).toBe(true);
    expect(s.shrinks).toBe(1);
    s.now = 10_000;
    s.rss = 20 << 20;
    expect(gc.check()).toBe(true);
    expect(s.collections).toBe(2);
    expect(s.shrinks).toBe(1);
  });

  test("garbage of work that is not a request (the heap grew, the resident size did not) is collected once quiet", () => {
    const { s, gc } = rig({ heapGrowthBytes: 1 << 20 });
    gc.check();
    s.now = 5000;
    s.heap = (2 << 20) + (512 << 10); // below the threshold
    expect(gc.check()).toBe(false);
    s.now = 10_000;
    s.heap = (3 << 20) + (1 << 10); // a pool loop's garbage, in pages the process already had
    expect(gc.check()).toBe(true);
    expect(s.collections).toBe(2);
    expect(s.heap).toBe(2 << 20);
    s.now = 20_000;
    expect(gc.check()).toBe(false);
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

  // real data: a collection frees nothing of it
  test.each([
    ["resident size", { afterGc: 30 << 20, rss: 30 << 20 }],
    ["JS heap", { heapAfterGc: 6 << 20, heap: 6 << 20 }],
  ] as const)("live growth of the %s that a collection cannot free is not collected again and again", (_, grown) => {
    const { s, gc } = rig();
    gc.check();
    Object.assign(s, grown);
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
      idleGc: { quietMs: 1000, now: () => s.now, rss: () => s.rss, heap: () => 0, gc: () => s.collections++, shrink: () => s.collections++ },
    });
    s.now = 10_000;
    expect((await frame.app.request("/healthz")).status).toBe(200);
    s.now = 10_500;
    expect(frame.idleGc.check()).toBe(false);
    s.now = 11_000;
    expect(frame.idleGc.check()).toBe(true);
    expect(s.collections).toBe(1);
  });
  test("/debug/memory reports the process's pages and its JS heap", async () => {
    const frame = createFrame({ name: "metrics", debug: () => ({}), processMetrics: false });
    const res = await frame.app.request("/debug/memory");
    expect(res.status).toBe(200);
    const m = (await res.json()) as any;
    expect(m.service).toBe("metrics");
    expect(m.pid).toBe(process.pid);
    const status = await Bun.file("/proc/self/status").text();
    const vmRss = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024;
    expect(m.residentBytes).toBeGreaterThan(vmRss / 2); // the same process's resident size, read a moment apart
    expect(m.residentBytes).toBeLessThan(vmRss * 2);
    expect(m.anonymousBytes).toBeGreaterThan(0);
    expect(m.privateBytes).toBeGreaterThan(0);
    expect(m.jsHeap.capacityBytes).toBeGreaterThanOrEqual(m.jsHeap.sizeBytes);
    expect(m.jsHeap.objects).toBeGreaterThan(1000);
    expect(m.objectTypes.map(([t]: [string, number]) => t)).toContain("Function");
    expect(m.idleCollections).toBe(0);
  });

  test("with the real collector, RSS and clock it collects start-up garbage and reports it", () => {
    const gc = new IdleGc();
    expect(gc.check()).toBe(true);
    expect(gc.runs).toBe(1);
  });
});
