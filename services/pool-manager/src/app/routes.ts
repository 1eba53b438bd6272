/** HTTP surface on the service socket: getCapacity (long poll) and postUsage. */
import { Hono } from "hono";
import { getCapacity } from "../../../../shared/contracts/capacity.ts";
import { postUsage } from "../../../../shared/contracts/usage.ts";
import { handle } from "../../../../shared/ipc/server.ts";
import type { PoolManager } from "./pool-manager.ts";

export function serviceRoutes(app: Hono, pm: PoolManager): void {
  handle(app, getCapacity, async (q) => {
    await pm.model.waitFor(q.since, q.epoch, q.waitMs);
    return pm.model.snapshot();
  });
  handle(app, postUsage, (u) => {
    pm.onUsage(u);
    return { ok: true as const };
  });
}

// Upstream's introspection routes live in introspection.ts.
export { introspectionApp } from "./introspection.ts";
