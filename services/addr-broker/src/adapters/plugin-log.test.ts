import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pluginLogWriter } from "./plugin-log.ts";

const dir = mkdtempSync(join(tmpdir(), "ab-plugin-log-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = { CNI_COMMAND: "ADD", CNI_CONTAINERID: "c1", CNI_NETNS: "/run/netns/x", CNI_IFNAME: "eth0", CNI_ARGS: "K8S_POD_NAME=p" };
const conf = (file: string, level = "DEBUG") => JSON.stringify({ cniVersion: "1.0.0", name: "aws-cni", type: "aws-cni", pluginLogFile: file, pluginLogLevel: level });
const lines = (file: string) => readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));

describe("addr-broker's plugin log writer", () => {
  test("DEBUG: a line per call in the configured file (directory made), failures keep their result", async () => {
    const file = join(dir, "debug/sub/plugin.log");
    const w = pluginLogWriter(file, () => new Date("2026-11-26T00:00:00Z"));
    expect(await w.record(env, conf(file), 0, '{"cniVersion":"1.0.0"}', 1.234)).toBe(true);
    expect(await w.record({ ...env, CNI_COMMAND: "DEL" }, conf(file), 1, '{"code":11,"msg":"no address"}', 2)).toBe(true);
    expect(lines(file).map((l) => [l.msg, l.containerId, l.exitCode, l.level, l.ms, l.result])).toEqual([
      ["CNI ADD", "c1", 0, "info", 1.23, undefined],
      ["CNI DEL", "c1", 1, "error", 2, '{"code":11,"msg":"no address"}'],
    ]);
    expect(lines(file)[0].time).toBe("2026-11-26T00:00:00.000Z");
  });

  test("ERROR: a success is handled without a line, a failure is written", async () => {
    const file = join(dir, "error.log");
    const w = pluginLogWriter(file);
    expect(await w.record(env, conf(file, "error"), 0, "{}", 1)).toBe(true);
    expect(existsSync(file)).toBe(false);
    expect(await w.record(env, conf(file, "error"), 1, "{}", 1)).toBe(true);
    expect(lines(file)).toHaveLength(1);
  });

  test("a file other than the configured one, no file, or no configured file: left to the shim, nothing written", async () => {
    const configured = join(dir, "configured.log");
    const other = join(dir, "other.log");
    const w = pluginLogWriter(configured);
    expect(await w.record(env, conf(other), 0, "{}", 1)).toBe(false);
    expect(await w.record(env, JSON.stringify({ cniVersion: "1.0.0", name: "n", type: "aws-cni" }), 0, "{}", 1)).toBe(false);
    expect(await w.record(env, "not json " + configured, 0, "{}", 1)).toBe(false);
    expect(await pluginLogWriter(undefined).record(env, conf(configured), 0, "{}", 1)).toBe(false);
    expect(existsSync(configured) || existsSync(other)).toBe(false);
  });

  test("an unwritable file: false, so the shim tries", async () => {
    const blocker = join(dir, "blocker");
    writeFileSync(blocker, "a file where a directory should be");
    const file = join(blocker, "plugin.log");
    expect(await pluginLogWriter(file).record(env, conf(file), 0, "{}", 1)).toBe(false);
  });
});

describe("plugin log rotation", () => {
  test("past the size the file is rotated aside and the next line starts a new file", async () => {
    const file = join(dir, "rotate/plugin.log");
    const w = pluginLogWriter(file, () => new Date("2026-11-26T00:00:00Z"), { maxBytes: 400, maxBackups: 5, maxAgeDays: 30, compress: false });
    for (let i = 0; i < 4; i++) expect(await w.record({ ...env, CNI_CONTAINERID: `c${i}` }, conf(file), 0, "{}", 1)).toBe(true);
    const rotated = readdirSync(join(dir, "rotate")).filter((n) => n !== "plugin.log");
    expect(rotated).toHaveLength(1);
    const before = lines(join(dir, "rotate", rotated[0]!)).map((l) => l.containerId);
    const after = existsSync(file) ? lines(file).map((l) => l.containerId) : [];
    expect([...before, ...after]).toEqual(["c0", "c1", "c2", "c3"]);
  });
});
