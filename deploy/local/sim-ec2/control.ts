/** Control API of the simulated EC2 (served on a Unix socket): state, counters, faults. */
import { Hono } from "hono";
import { describeIssue, FaultPatchSchema } from "./faults.ts";
import type { SimEc2Service } from "./service.ts";

export function controlApp(sim: SimEc2Service): Hono {
  const app = new Hono();
  app.get("/state", (c) => c.json(sim.model.state));
  app.get("/calls", (c) => c.json(sim.calls));
  app.get("/faults", (c) => c.json(sim.faults));
  app.put("/faults", async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return c.json({ error: "body: not JSON" }, 400);
    }
    const parsed = FaultPatchSchema.safeParse(body);
    if (!parsed.success) return c.json({ error: describeIssue(parsed.error) }, 400);
    sim.setFaults(parsed.data);
    return c.json(sim.faults);
  });
  app.post("/reset", (c) => {
    sim.resetCounters();
    return c.json({ ok: true });
  });
  return app;
}
