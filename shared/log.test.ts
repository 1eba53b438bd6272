// createLogger honours the service and plugin log settings: level filter, destination, format.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "./config/index.ts";
import { createLogger, flushLogger, logTarget } from "./log.ts";

const dir = mkdtempSync(join(tmpdir(), "log-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Lines of a file written asynchronously: wait (bounded) until `count` lines are there. */
async function readLines(path: string, count: number): Promise<Record<string, unknown>[]> {
  let text = "";
  for (let i = 0; i < 300; i++) {
    text = await Bun.file(path).text().catch(() => "");
    if (text.split("\n").length > count) break;
    await Bun.sleep(10);
  }
  return text.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

test.each([
  // [kind, env, expected level, expected destination]
  ["service", {}, "debug", "/host/var/log/aws-routed-eni/ipamd.log"],
  ["service", { AWS_VPC_K8S_CNI_LOGLEVEL: "ERROR", AWS_VPC_K8S_CNI_LOG_FILE: "stdout" }, "error", "stdout"],
  ["plugin", {}, "debug", "/var/log/aws-routed-eni/plugin.log"],
  ["plugin", { AWS_VPC_K8S_PLUGIN_LOG_LEVEL: "Warn", AWS_VPC_K8S_PLUGIN_LOG_FILE: "" }, "warn", "stderr"],
  // the plugin does not read the service settings and vice versa
  ["plugin", { AWS_VPC_K8S_CNI_LOGLEVEL: "fatal", AWS_VPC_K8S_CNI_LOG_FILE: "stdout" }, "debug", "/var/log/aws-routed-eni/plugin.log"],
] as ["service" | "plugin", Record<string, string>, string, string][])("%s %p", (kind, env, level, file) => {
  expect(logTarget(loadConfig(env).config, kind)).toEqual({ level: level as never, file });
});

test("a service logger writes JSON lines at or above its level to its file, with its name", async () => {
  const path = join(dir, "nested", "ipamd.log");
  const { config } = loadConfig({ AWS_VPC_K8S_CNI_LOG_FILE: path, AWS_VPC_K8S_CNI_LOGLEVEL: "warn" });
  const log = createLogger(config, { service: "pool-manager", kind: "service" });
  log.info("hidden");
  log.warn({ eni: "eni-1" }, "shown");
  log.error("also shown");
  flushLogger(log);
  const lines = await readLines(path, 2);
  expect(lines.map((l) => l.msg)).toEqual(["shown", "also shown"]);
  expect(lines[0]).toMatchObject({ level: "warn", service: "pool-manager", eni: "eni-1" });
  expect(typeof lines[0]?.time).toBe("string");
});

test("a plugin logger uses the plugin file and level and writes synchronously", () => {
  const path = join(dir, "plugin.log");
  const { config } = loadConfig({ AWS_VPC_K8S_PLUGIN_LOG_FILE: path, AWS_VPC_K8S_PLUGIN_LOG_LEVEL: "info" });
  const log = createLogger(config, { service: "cni-shim", kind: "plugin" });
  log.debug("hidden");
  log.info("added");
  const lines = readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines.map((l) => [l.level, l.msg])).toEqual([["info", "added"]]);
});

test("stdout and stderr destinations, and buffered lines are flushed on exit", async () => {
  const file = join(dir, "exit.log");
  const script = join(dir, "emit.ts");
  writeFileSync(
    script,
    `import { loadConfig } from ${JSON.stringify(new URL("./config/index.ts", import.meta.url).pathname)};
import { createLogger } from ${JSON.stringify(new URL("./log.ts", import.meta.url).pathname)};
const out = createLogger(loadConfig({ AWS_VPC_K8S_CNI_LOG_FILE: "stdout" }).config, { service: "a", kind: "service" });
const err = createLogger(loadConfig({ AWS_VPC_K8S_PLUGIN_LOG_FILE: "stderr" }).config, { service: "b", kind: "plugin" });
const toFile = createLogger(loadConfig({ AWS_VPC_K8S_CNI_LOG_FILE: ${JSON.stringify(file)} }).config, { service: "c", kind: "service" });
out.info("to stdout"); err.info("to stderr");
for (let i = 0; i < 100; i++) toFile.info({ i }, "buffered");
process.exit(0);
`,
  );
  const proc = Bun.spawn([process.execPath, "run", script], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect(code).toBe(0);
  expect(JSON.parse(stdout.trim())).toMatchObject({ msg: "to stdout", service: "a" });
  expect(JSON.parse(stderr.trim())).toMatchObject({ msg: "to stderr", service: "b" });
  expect(readFileSync(file, "utf8").trim().split("\n").length).toBe(100);
});
