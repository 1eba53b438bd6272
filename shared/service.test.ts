import { describe, expect, test } from "bun:test";
import { createFrame } from "./service.ts";

describe("service frame probes", () => {
  test("/livez answers 200 while /healthz says the service cannot do its job yet", async () => {
    let ready = false;
    const frame = createFrame({ name: "pool-manager", debug: () => ({}), processMetrics: false, healthy: () => (ready ? { ok: true } : { ok: false, reason: "EC2 unreachable" }) });
    expect((await frame.app.request("/livez")).status).toBe(200);
    const notReady = await frame.app.request("/healthz");
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ ok: false, reason: "EC2 unreachable" });
    ready = true;
    expect((await frame.app.request("/healthz")).status).toBe(200);
    expect((await frame.app.request("/livez")).status).toBe(200);
  });
});
