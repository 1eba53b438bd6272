import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseProbeArgs, probe } from "./probe.ts";

const runDir = mkdtempSync(join(tmpdir(), "probe-"));
afterAll(() => rmSync(runDir, { recursive: true, force: true }));
let server: ReturnType<typeof Bun.serve> | undefined;
afterEach(() => {
  server?.stop(true);
  server = undefined;
});

/** A service stand-in on <runDir>/metrics.sock answering each path with its status. */
function serve(statuses: Record<string, number>, hang = false): void {
  server = Bun.serve({
    unix: join(runDir, "metrics.sock"),
    fetch: async (req) => {
      if (hang) await Bun.sleep(5000);
      const path = new URL(req.url).pathname;
      return new Response(JSON.stringify({ path }), { status: statuses[path] ?? 404 });
    },
  });
}

describe("parseProbeArgs", () => {
  test("a service, live or ready, an absolute run dir", () => {
    expect(parseProbeArgs(["addr-broker", "ready", "/var/run/aws-node"])).toEqual({ service: "addr-broker", kind: "ready", runDir: "/var/run/aws-node" });
  });

  test("anything else is a usage error naming what is wrong", () => {
    expect(parseProbeArgs(["metrics", "live"])).toMatch(/got 2 arguments/);
    expect(parseProbeArgs(["ipamd", "live", "/run"])).toMatch(/unknown service "ipamd"/);
    expect(parseProbeArgs(["metrics", "startup", "/run"])).toMatch(/unknown probe "startup"/);
    expect(parseProbeArgs(["metrics", "live", "relative/dir"])).toMatch(/must be an absolute path/);
  });
});

describe("probe", () => {
  test("live asks /livez, ready asks /healthz; 0 only for 200", async () => {
    serve({ "/livez": 200, "/healthz": 503 });
    const live = await probe({ service: "metrics", kind: "live", runDir });
    expect(live).toEqual({ code: 0, line: `metrics live (GET /livez on ${runDir}/metrics.sock): 200 {"path":"/livez"}` });
    const ready = await probe({ service: "metrics", kind: "ready", runDir });
    expect(ready).toEqual({ code: 1, line: `metrics ready (GET /healthz on ${runDir}/metrics.sock): 503 {"path":"/healthz"}` });
  });

  test("no socket: 1, saying it is unreachable", async () => {
    const r = await probe({ service: "pool-manager", kind: "live", runDir });
    expect(r.code).toBe(1);
    expect(r.line).toBe(`pool-manager live (GET /livez on ${runDir}/pool-manager.sock): unreachable (ENOENT)`);
  });

  test("no answer in time: 1, saying so", async () => {
    serve({ "/livez": 200 }, true);
    const started = performance.now();
    const r = await probe({ service: "metrics", kind: "live", runDir }, 200);
    expect(r).toEqual({ code: 1, line: `metrics live (GET /livez on ${runDir}/metrics.sock): no answer within 200 ms` });
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
