import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUNDLED_SERVICES, buildServices, promClientParts } from "./build.ts";

const dir = mkdtempSync(join(tmpdir(), "services-build-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("buildServices", () => {
  test("bundles every service, with prom-client's default metrics and without its Pushgateway", async () => {
    const out = await buildServices(join(dir, "services"));
    const files = readdirSync(out, { recursive: true }).map(String).filter((f) => f.endsWith(".js"));
    for (const s of BUNDLED_SERVICES) expect(files).toContain(join(s, "main.js"));
    const all = files.map((f) => readFileSync(join(out, f), "utf8")).join("\n");
    expect(all).toContain("process_cpu_user_seconds_total");
    expect(all).not.toContain("Missing jobName parameter"); // an error message of the Pushgateway
  }, 60_000);

  test("a module importing a part of prom-client the services do not bundle fails the build, naming it", async () => {
    const entry = join(dir, "uses-pushgateway.ts");
    writeFileSync(entry, 'import { Pushgateway } from "prom-client";\nconsole.log(Pushgateway);\n');
    const result = await Bun.build({ entrypoints: [entry], outdir: join(dir, "bad"), target: "bun", plugins: [promClientParts], throw: false });
    expect(result.success).toBe(false);
    expect(result.logs.map((l) => String(l.message)).join("\n")).toContain("Pushgateway");
  });

  test("the parts the services use resolve to prom-client's own classes", async () => {
    const entry = join(dir, "uses-parts.ts");
    writeFileSync(
      entry,
      'import { Registry, Counter, collectDefaultMetrics } from "prom-client";\nconst r = new Registry();\ncollectDefaultMetrics({ register: r });\nnew Counter({ name: "t_total", help: "t", registers: [r] }).inc(2);\nconsole.log(await r.metrics());\n',
    );
    const result = await Bun.build({ entrypoints: [entry], outdir: join(dir, "good"), target: "bun", plugins: [promClientParts] });
    expect(result.success).toBe(true);
    const run = Bun.spawnSync([process.execPath, join(dir, "good", "uses-parts.js")]);
    const text = run.stdout.toString();
    expect(run.exitCode).toBe(0);
    expect(text).toContain("t_total 2");
    expect(text).toContain("process_cpu_user_seconds_total");
  });
});
