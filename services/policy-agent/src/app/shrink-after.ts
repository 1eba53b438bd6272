/**
 * Gives memory back after large applies. A burst of applies that rewrite many pods (a new
 * policy selecting the whole node, a restart, the watch's first list) leaves its transient
 * work resident: the allocator keeps the freed pages and the code compiled for the burst
 * stays. The services' idle collection (shared/service-gc.ts, `Bun.gc(true)`) does not give
 * that back; `Bun.shrink()` does (JSC's shrinkFootprintWhenIdle: a full collection, freed
 * memory returned, compiled code dropped). Dropping compiled code means the next calls run
 * from source again, so it runs only once the burst is over — `quietMs` after the last apply
 * that changed at least `minPods` pods, any apply in between postponing it — never after the
 * small applies of a pod's ADD or DEL. Measured with bench/memory.ts (bench/README.md).
 */
import type { PolicyEngine } from "../engine/engine.ts";

export interface ShrinkAfterOptions {
  /** Pods changed or removed by one apply for it to count as large (default 16). */
  minPods?: number;
  /** No apply for this long after the last large one (default 2 s). */
  quietMs?: number;
  /** Injected for tests: what gives the memory back. */
  shrink?: () => void;
}

export interface ShrinkingEngine extends PolicyEngine {
  /** Shrinks run so far. */
  readonly shrinks: number;
  /** Stops a pending shrink. */
  close(): void;
}

export function shrinkAfterLargeApplies(engine: PolicyEngine, opts: ShrinkAfterOptions = {}): ShrinkingEngine {
  const minPods = opts.minPods ?? 16;
  const quietMs = opts.quietMs ?? 2000;
  const shrink =
    opts.shrink ??
    (() => {
      Bun.gc(true);
      Bun.shrink();
    });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let shrinks = 0;
  const arm = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      shrink();
      shrinks++;
    }, quietMs);
    (timer as { unref?: () => void }).unref?.();
  };
  return {
    ...engine,
    async apply(state) {
      if (timer) arm(); // a burst still going: later
      const report = await engine.apply(state);
      if (report.changedPods.length + report.removedPods.length >= minPods) arm();
      return report;
    },
    get shrinks() {
      return shrinks;
    },
    close() {
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}
