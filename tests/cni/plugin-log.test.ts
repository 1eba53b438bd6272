/**
 * Upstream's plugin.log (the conflist's pluginLogFile): a line per call at DEBUG/INFO, only
 * failures at WARN/ERROR, never on stdout (the CNI result channel). The shim writes it when
 * addr-broker did not (unreachable here, or an answer without pluginLogged), and never
 * when addr-broker says it wrote the line (no duplicate).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildShim } from "../../cni-shim/build.ts";

const dir = mkdtempSync(join(tmpdir(), "plugin-log-"));
let shim = "";
beforeAll(async () => {
  shim = await buildShim(join(dir, "aws-cni"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(command: string, level: string, log: string) {
  // No broker listens in this run dir: ADD fails with 11, DEL succeeds.
  const conf = { cniVersion: "1.0.0", name: "aws-cni", type: "aws-cni", runDir: join(dir, "run"), pluginLogFile: log, pluginLogLevel: level };
  const p = Bun.spawnSync([shim], {
    env: { CNI_COMMAND: command, CNI_CONTAINERID: "c1", CNI_NETNS: "/run/netns/none", CNI_IFNAME: "eth0", CNI_ARGS: "K8S_POD_NAME=p" },
    stdin: new TextEncoder().encode(JSON.stringify(conf)),
  });
  return { code: p.exitCode, stdout: p.stdout.toString() };
}

test("DEBUG: every call is logged with its command, container and outcome", () => {
  const log = join(dir, "logs/debug.log");
  const del = run("DEL", "DEBUG", log);
  const add = run("ADD", "DEBUG", log);
  expect(del.code).toBe(0);
  expect(add.code).not.toBe(0);
  expect(JSON.parse(add.stdout).code).toBe(11);
  const lines = readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  expect(lines.map((l) => [l.msg, l.containerId, l.exitCode])).toEqual([
    ["CNI DEL", "c1", 0],
    ["CNI ADD", "c1", 1],
  ]);
  expect(lines[1].result).toContain("not reachable");
});

test("ERROR: only failures are logged", () => {
  const log = join(dir, "logs/error.log");
  run("DEL", "ERROR", log);
  expect(existsSync(log)).toBe(false);
  run("ADD", "error", log);
  expect(readFileSync(log, "utf8").trim().split("\n")).toHaveLength(1);
});

test("a broker that wrote the line: the shim writes none; one that did not: the shim writes it", async () => {
  const runDir = join(dir, "broker-run");
  mkdirSync(runDir, { recursive: true });
  let logged = true;
  const server = Bun.serve({
    unix: join(runDir, "addr-broker.sock"),
    fetch: () => Response.json({ exitCode: 0, stdout: "", stderr: "", pluginLogged: logged }),
  });
  try {
    const log = join(dir, "logs/broker.log");
    // spawnSync would block this process's event loop, and with it the fake broker.
    const runAsync = async (command: string) => {
      const conf = { cniVersion: "1.0.0", name: "aws-cni", type: "aws-cni", runDir, pluginLogFile: log, pluginLogLevel: "DEBUG" };
      const p = Bun.spawn([shim], {
        env: { CNI_COMMAND: command, CNI_CONTAINERID: "c2", CNI_NETNS: "/run/netns/none", CNI_IFNAME: "eth0" },
        stdin: new TextEncoder().encode(JSON.stringify(conf)),
        stdout: "pipe",
      });
      return p.exited;
    };
    expect(await runAsync("DEL")).toBe(0);
    expect(existsSync(log)).toBe(false);
    logged = false;
    expect(await runAsync("DEL")).toBe(0);
    expect(readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l).msg)).toEqual(["CNI DEL"]);
  } finally {
    server.stop(true);
  }
});
