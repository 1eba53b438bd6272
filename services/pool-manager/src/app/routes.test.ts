// getCapacity long poll and postUsage through hono's app.request, on a pool started against the fake EC2.
import { afterAll, expect, test } from "bun:test";
import { Hono } from "hono";
import { capacitySnapshot } from "../../../../shared/contracts/index.ts";
import { UPSTREAM_DEFAULTS } from "../core/settings.ts";
import { fakeWorld, manager } from "../../test-support/harness.ts";
import { introspectionApp, serviceRoutes } from "./routes.ts";

const h = manager(fakeWorld(), { ...UPSTREAM_DEFAULTS });
await h.start();
afterAll(() => h.pm.stop());
const app = new Hono();
serviceRoutes(app, h.pm);

test("getCapacity answers a valid snapshot at once for an old version, and long-polls for a current one", async () => {
  const first = capacitySnapshot.parse(await (await app.request("/v1/capacity?since=-1")).json());
  expect(first.ready).toBe(true);
  expect(first.enis[0]!.cidrs).toHaveLength(9);
  const waiting = app.request(`/v1/capacity?since=${first.version}&epoch=${first.epoch}&waitMs=5000`);
  h.pm.model.bump();
  const next = capacitySnapshot.parse(await (await waiting).json());
  expect(next.version).toBe(first.version + 1);
});

test("postUsage is validated and stored; a bad body names its field", async () => {
  const ok = await app.request("/v1/usage", { method: "POST", body: JSON.stringify({ capacityVersion: 1, assigned: 1, cooling: 0, cidrs: [], misses: 0, waiting: 0 }) });
  expect(ok.status).toBe(200);
  expect(h.pm.model.usage?.assigned).toBe(1);
  const bad = await app.request("/v1/usage", { method: "POST", body: JSON.stringify({ capacityVersion: 1, assigned: -1, cooling: 0, cidrs: [], misses: 0, waiting: 0 }) });
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { error: { field: string } }).error.field).toBe("assigned");
});

test("/v1/enis in upstream's shape", async () => {
  const body = (await (await introspectionApp(h.pm, { ipamd: {}, networkutils: {} }).request("/v1/enis")).json()) as Record<string, { TotalIPs: number; ENIs: Record<string, { IsPrimary: boolean }> }>;
  expect(body["0"]!.TotalIPs).toBe(9);
  expect(Object.values(body["0"]!.ENIs)[0]!.IsPrimary).toBe(true);
});
