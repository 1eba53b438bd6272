import { afterAll, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CniError, CniRuntime } from "./cni-runtime.ts";

const dir = mkdtempSync(join(tmpdir(), "cni-runtime-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A recording plugin: appends "<COMMAND> <type> <has prevResult>" to a log, and on ADD
// answers its prevResult with its own name appended to `interfaces` (or a fresh result).
function plugin(name: string, failOn?: string): void {
  const path = join(dir, name);
  writeFileSync(
    path,
    `#!/usr/bin/env bun
const conf = JSON.parse(await Bun.stdin.text());
const log = ${JSON.stringify(join(dir, "calls.log"))};
const fs = require("node:fs");
fs.appendFileSync(log, process.env.CNI_COMMAND + " " + conf.type + " " + (conf.prevResult ? "prev" : "noprev") + " " + process.env.CNI_ARGS + (conf.runtimeConfig ? " rc=" + JSON.stringify(conf.runtimeConfig) : "") + "\\n");
if (process.env.CNI_COMMAND === ${JSON.stringify(failOn ?? "")}) { console.log(JSON.stringify({ cniVersion: conf.cniVersion, code: 11, msg: "try later" })); process.exit(1); }
if (process.env.CNI_COMMAND === "ADD") {
  const r = conf.prevResult ?? { cniVersion: conf.cniVersion, interfaces: [], ips: [] };
  r.interfaces.push({ name: conf.type });
  console.log(JSON.stringify(r));
}
`,
  );
  chmodSync(path, 0o755);
}
plugin("first");
plugin("second");
plugin("broken", "ADD");

const conflist = { cniVersion: "1.0.0", name: "testnet", plugins: [{ type: "first" }, { type: "second", capabilities: { portMappings: true } }] };
const attachment = { containerId: "c1", netns: "/proc/self/ns/net", ifName: "eth0", args: { K8S_POD_NAME: "p" }, capabilityArgs: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }] } };
const env = { PATH: `${join(import.meta.dir, "../../node_modules/.bin")}:/usr/bin:/bin` };

test("ADD chains prevResult, caches the result; DEL runs in reverse with the cached result", async () => {
  const rt = new CniRuntime(conflist, { binDirs: [dir], cacheDir: join(dir, "cache"), env });
  const result = await rt.add(attachment);
  expect(result.interfaces).toEqual([{ name: "first" }, { name: "second" }]);
  expect(existsSync(join(dir, "cache/testnet-c1-eth0"))).toBe(true);
  await rt.check(attachment);
  await rt.del(attachment);
  expect(existsSync(join(dir, "cache/testnet-c1-eth0"))).toBe(false);
  const calls = readFileSync(join(dir, "calls.log"), "utf8").trim().split("\n");
  expect(calls.map((l) => l.split(" ").slice(0, 3).join(" "))).toEqual([
    "ADD first noprev",
    "ADD second prev",
    "CHECK first prev",
    "CHECK second prev",
    "DEL second prev",
    "DEL first prev",
  ]);
  // runtimeConfig only for the plugin declaring the capability; CNI_ARGS carries the pod name
  expect(calls[1]).toContain('rc={"portMappings"');
  expect(calls[0]).not.toContain("rc=");
  expect(calls[0]).toContain("IgnoreUnknown=1;K8S_POD_NAME=p");
});

test("a failing plugin surfaces its CNI error code and message", async () => {
  const rt = new CniRuntime({ cniVersion: "1.0.0", name: "testnet", plugins: [{ type: "first" }, { type: "broken" }] }, { binDirs: [dir], cacheDir: join(dir, "cache"), env });
  const err = await rt.add({ ...attachment, containerId: "c2" }).catch((e) => e);
  expect(err).toBeInstanceOf(CniError);
  expect(err.code).toBe(11);
  expect(err.plugin).toBe("broken");
});

test("unsafe names never reach a path or an exec", () => {
  expect(() => new CniRuntime({ ...conflist, name: "../etc" }, { binDirs: [dir], cacheDir: dir })).toThrow("conflist name");
  const rt = new CniRuntime({ cniVersion: "1.0.0", name: "n", plugins: [{ type: "../../bin/sh" }] }, { binDirs: [dir], cacheDir: dir });
  expect(rt.add(attachment)).rejects.toThrow("plugin type");
});
