/**
 * HTTP surface: getCapacity (long poll) and postUsage on the service socket, and upstream's
 * introspection routes (/v1/enis, /v1/eni-configs, /v1/ipamd-env-settings,
 * /v1/networkutils-env-settings) in upstream's JSON shape.
 */
import { Hono } from "hono";
import { getCapacity, postUsage } from "../../../../shared/contracts/index.ts";
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

export function introspectionApp(pm: PoolManager, env: { ipamd: Record<string, unknown>; networkutils: Record<string, unknown> }): Hono {
  const app = new Hono();
  app.get("/v1/enis", (c) => {
    const usage = pm.model.poolUsage(false);
    const enis: Record<string, unknown> = {};
    let total = 0;
    let assigned = 0;
    for (const m of pm.model.enis.values()) {
      const cidrs: Record<string, unknown> = {};
      for (const x of m.pool.cidrs) {
        const u = usage.byCidr[x.cidr] ?? { assigned: 0, cooling: 0 };
        total += x.kind === "address" ? 1 : x.size;
        assigned += u.assigned;
        cidrs[x.cidr] = { Cidr: x.cidr, IsPrefix: x.kind === "prefix", AddressFamily: pm.settings.family === "ipv6" ? "6" : "4", AssignedIPs: u.assigned, CoolingIPs: u.cooling };
      }
      enis[m.pool.id] = { ID: m.pool.id, IsPrimary: m.pool.primary, IsTrunk: m.pool.trunk, IsEFA: m.pool.efa, DeviceNumber: m.pool.deviceNumber, AvailableIPv4Cidrs: cidrs };
    }
    return c.json({ "0": { TotalIPs: total, AssignedIPs: assigned, ENIs: enis } });
  });
  app.get("/v1/eni-configs", (c) => c.json(pm.model.conditions.newEniBlocked ? { error: pm.model.conditions.newEniBlocked } : {}));
  app.get("/v1/ipamd-env-settings", (c) => c.json(env.ipamd));
  app.get("/v1/networkutils-env-settings", (c) => c.json(env.networkutils));
  return app;
}
