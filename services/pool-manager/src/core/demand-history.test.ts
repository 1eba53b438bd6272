// The demand history the demand policy plans from: arrivals, misses, bursts, peaks (pure).
import { describe, expect, test } from "bun:test";
import { addressedWithin, bursts, burstStillToCome, medianOf, recordDemand, recordScheduled, peakArrivals, peakAssigned, type DemandHistory } from "./demand-history.ts";

describe("demand history", () => {
  test("arrivals are rises of the assigned count; misses count once", () => {
    let h = recordDemand(undefined, 0, 0, 0, 60_000);
    h = recordDemand(h, 1_000, 3, 0, 60_000); // 3 arrived
    h = recordDemand(h, 2_000, 2, 0, 60_000); // 1 left
    h = recordDemand(h, 3_000, 2, 4, 60_000); // 4 missed
    h = recordDemand(h, 4_000, 6, 4, 60_000); // the 4 got addresses: not counted again
    expect(h.samples.map((x) => x.arrivals)).toEqual([0, 3, 0, 4, 4]);
    expect(peakArrivals(h, 4_000, 1_500, 60_000)).toBe(8);
    expect(peakAssigned(h, 4_000, 10_000, 0)).toBe(6);
  });

  test("pods watched: arrivals are the pods seen scheduled, not misses (ADD attempts) nor the pace of assignment", () => {
    let h = recordDemand(undefined, 0, 0, 0, 60_000, false);
    h = recordScheduled(h, 500, 10, 60_000); // 10 pods scheduled together
    h = recordDemand(h, 1_000, 0, 40, 60_000, false); // retried 4 times each
    h = recordDemand(h, 2_000, 4, 40, 60_000, false); // addresses reach them over 20 s
    h = recordDemand(h, 22_000, 10, 40, 60_000, false);
    expect(h.samples.map((x) => x.arrivals)).toEqual([0, 10, 0, 0, 0]);
    expect(peakArrivals(h, 22_000, 10_000, 60_000)).toBe(10);
    expect(peakAssigned(h, 22_000, 60_000, 0)).toBe(10);
    // The miss counter is still followed: unwatched again, only new misses count.
    h = recordDemand(h, 3_000, 10, 42, 60_000);
    expect(h.samples[h.samples.length - 1]!.arrivals).toBe(2);
  });

  test("bursts: pods scheduled within 2 s of each other; the one still arriving apart; what is still to come", () => {
    // Bursts of 8, 8, 30 and 8 (each spread over a few reads), lone pods in between, one of 3 arriving now.
    const events: Array<[number, number]> = [[200_000, 1], [380_000, 1], [599_000, 3]];
    for (const start of [0, 150_000, 450_000]) [0, 700, 1_500].forEach((d, i) => events.push([start + d, [3, 3, 2][i]!]));
    [0, 1_000, 2_500, 4_000].forEach((d) => events.push([300_000 + d, 7])); // a wave: 28 over 4 s...
    events.push([304_500, 2]); // ...and 2 more: 30
    let h: DemandHistory | undefined;
    for (const [t, n] of events.sort((a, b) => a[0] - b[0])) h = recordScheduled(h, t, n, 3_600_000);
    const b = bursts(h, 600_000, 2_000, 3_600_000);
    expect(b).toEqual({ sizes: [8, 8, 30, 8], current: 3 });
    expect(medianOf(b.sizes)).toBe(8);
    // 3 so far: bursts that got this far were 8, 8, 30, 8 → 5 more; 10 so far: only the wave → 20 more.
    expect(burstStillToCome(b.sizes, 3)).toBe(5);
    expect(burstStillToCome(b.sizes, 10)).toBe(20);
    // A lone pod is no burst; a burst bigger than all seen brings nothing more.
    expect(burstStillToCome(b.sizes, 1)).toBe(0);
    expect(burstStillToCome(b.sizes, 31)).toBe(0);
    // 3 s later the burst of 3 has ended.
    expect(bursts(h, 602_000, 2_000, 3_600_000)).toEqual({ sizes: [8, 8, 30, 8, 3], current: 0 });
  });

  test("pods addressed within a window: the assigned count's rise over its lowest sample", () => {
    let h = recordDemand(undefined, 0, 10, 0, 60_000, false);
    h = recordDemand(h, 9_500, 12, 0, 60_000, false);
    h = recordDemand(h, 9_800, 11, 0, 60_000, false); // one left
    h = recordDemand(h, 10_000, 14, 0, 60_000, false);
    expect(addressedWithin(h, 10_000, 1_000, 14)).toBe(4); // lowest since 9 s: 10 (the count then)
    expect(addressedWithin(h, 10_000, 100, 14)).toBe(3); // since 9.9 s: 11
    expect(addressedWithin(h, 20_000, 1_000, 14)).toBe(0); // nothing since 19 s
  });

  test("samples older than the keep span are dropped", () => {
    let h = recordDemand(undefined, 0, 5, 0, 10_000);
    h = recordDemand(h, 20_000, 5, 0, 10_000);
    expect(h.samples.length).toBe(1);
  });
});
