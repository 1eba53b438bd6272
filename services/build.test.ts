import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUNDLED_SERVICES, buildServices } from "./build.ts";

const dir = mkdtempSync(join(tmpdir(), "services-build-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("buildServices", () => {
  test("bundles every service, with the project's process metrics and no Prometheus client package", async () => {
    const out = await buildServices(join(dir, "services"));
    const files = readdirSync(out, { recursive: true }).map(String).filter((f) => f.endsWith(".js"));
    for (const s of BUNDLED_SERVICES) expect(files).toContain(join(s, "main.js"));
    const all = files.map((f) => readFileSync(join(out, f), "utf8")).join("\n");
    expect(all).toContain("process_cpu_user_seconds_total");
    expect(all).toContain("process_resident_memory_bytes");
    // prom-client's default metrics and its Pushgateway are gone with the package.
    expect(all).not.toContain("nodejs_eventloop_lag");
    expect(all).not.toContain("Missing jobName parameter");
    expect(all).not.toContain("prom-client");
  }, 60_000);

  test("a service loads only what it uses: no zod in metrics, no classic zod API, no node:crypto or node:util in net-config, addr-broker and policy-agent", async () => {
    const out = join(dir, "services");
    // What a service's process evaluates at start: its main.js and every chunk it imports statically (not `import()`).
    const loaded = (service: string): { code: string; builtins: Set<string> } => {
      const seen = new Set<string>();
      const builtins = new Set<string>();
      const todo = [join(out, service, "main.js")];
      let code = "";
      for (let file = todo.pop(); file !== undefined; file = todo.pop()) {
        if (seen.has(file)) continue;
        seen.add(file);
        const text = readFileSync(file, "utf8");
        code += text;
        for (const [, spec] of text.matchAll(/(?:^|[;}\s])(?:import|export)[^"'()]*?from\s*"([^"]+)"/g)) {
          if (spec!.startsWith(".")) todo.push(join(file, "..", spec!));
          else builtins.add(spec!.replace(/^node:/, ""));
        }
      }
      return { code, builtins };
    };
    const zod = (s: string) => loaded(s).code.includes('"$ZodType"');
    expect({ metrics: zod("metrics"), "net-config": zod("net-config") }).toEqual({ metrics: false, "net-config": true });
    // The classic API's object (zod/mini's is ZodMiniObject).
    for (const s of ["net-config", "pool-manager", "addr-broker", "metrics", "policy-agent"]) expect({ s, classic: loaded(s).code.includes('"ZodObject"') }).toEqual({ s, classic: false });
    for (const s of ["net-config", "addr-broker", "policy-agent"]) {
      const { builtins } = loaded(s);
      expect({ s, crypto: builtins.has("crypto"), util: builtins.has("util") }).toEqual({ s, crypto: false, util: false });
    }
  }, 30_000);

  test("a bundled service answers /metrics with its own metrics and its process metrics", async () => {
    const out = join(dir, "services");
    const probe = join(dir, "probe.ts");
    await Bun.write(
      probe,
      `import { createFrame } from ${JSON.stringify(join(import.meta.dir, "../shared/service.ts"))};\n` +
        `import { Counter } from ${JSON.stringify(join(import.meta.dir, "../shared/metrics/index.ts"))};\n` +
        `const f = createFrame({ name: "net-config", debug: () => ({}) });\n` +
        `new Counter({ name: "t_total", help: "t", registers: [f.registry] }).inc(2);\n` +
        `const res = await f.app.request("/metrics");\n` +
        `console.log(res.headers.get("content-type"));\nconsole.log(await res.text());\n`,
    );
    const result = await Bun.build({ entrypoints: [probe], outdir: join(out, "probe"), target: "bun", minify: true });
    expect(result.success).toBe(true);
    const run = Bun.spawnSync([process.execPath, join(out, "probe", "probe.js")]);
    const text = run.stdout.toString();
    expect(run.exitCode).toBe(0);
    expect(text).toContain("text/plain; version=0.0.4; charset=utf-8");
    expect(text).toContain("# TYPE t_total counter\nt_total 2");
    expect(text).toMatch(/^awscni_net_config_process_resident_memory_bytes [1-9]\d+$/m);
  }, 30_000);
});
