/** Long-polls pool-manager for capacity; reconnects with backoff while pool-manager is down. */
import type { Broker } from "./broker.ts";
import type { PoolManagerPort } from "../core/ports.ts";

export interface CapacityLoop {
  stop(): void;
  /** Resolves once a snapshot has been applied (or the loop stopped). */
  firstSnapshot: Promise<void>;
}

export function startCapacityLoop(broker: Broker, pool: PoolManagerPort, waitMs: number): CapacityLoop {
  let stopped = false;
  let wake: (() => void) | undefined;
  let resolveFirst!: () => void;
  const firstSnapshot = new Promise<void>((r) => (resolveFirst = r));
  const sleep = (ms: number) =>
    new Promise<void>((r) => {
      const t = setTimeout(r, ms);
      wake = () => {
        clearTimeout(t);
        r();
      };
    });
  (async () => {
    let backoff = 100;
    let failures = 0;
    while (!stopped) {
      const have = broker.capacity;
      try {
        const snap = await pool.getCapacity(have?.version ?? -1, have?.epoch, have ? waitMs : 0);
        if (stopped) break;
        if (!have || snap.version !== have.version || snap.epoch !== have.epoch) broker.setCapacity(snap);
        resolveFirst();
        if (failures > 0) broker.log.info({ failures }, "pool-manager reachable again");
        backoff = 100;
        failures = 0;
      } catch (err) {
        if (stopped) break;
        failures++;
        if (failures === 1 || failures % 20 === 0) broker.log.warn({ err: String(err), failures }, "cannot get capacity from pool-manager; retrying");
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 5_000);
      }
    }
    resolveFirst();
  })();
  return {
    firstSnapshot,
    stop() {
      stopped = true;
      wake?.();
    },
  };
}
