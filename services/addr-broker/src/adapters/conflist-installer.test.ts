import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { conflistInstaller } from "./conflist-installer.ts";

const dir = mkdtempSync(join(tmpdir(), "conflist-installer-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("writes the conflist (directory made), leaves no temporary file, and does not rewrite an identical one", () => {
  const confDir = join(dir, "net.d");
  const installer = conflistInstaller(confDir, { cniVersion: "1.0.0", name: "aws-cni", plugins: [{ type: "aws-cni" }] });
  expect(installer.install()).toBe(true);
  expect(JSON.parse(readFileSync(join(confDir, "10-aws.conflist"), "utf8"))).toEqual({ cniVersion: "1.0.0", name: "aws-cni", plugins: [{ type: "aws-cni" }] });
  expect(readdirSync(confDir)).toEqual(["10-aws.conflist"]);
  const mtime = statSync(join(confDir, "10-aws.conflist")).mtimeMs;
  expect(installer.install()).toBe(false);
  expect(statSync(join(confDir, "10-aws.conflist")).mtimeMs).toBe(mtime);
  const changed = conflistInstaller(confDir, { cniVersion: "1.0.0", name: "aws-cni", plugins: [{ type: "aws-cni", mtu: "1500" }] });
  expect(changed.install()).toBe(true);
  expect(readFileSync(join(confDir, "10-aws.conflist"), "utf8")).toContain('"mtu": "1500"');
});

test("a conf dir that cannot be made (a file is in the way): throws, naming nothing written", () => {
  const file = join(dir, "not-a-dir");
  writeFileSync(file, "");
  expect(() => conflistInstaller(join(file, "net.d"), {}).install()).toThrow();
  expect(readFileSync(file, "utf8")).toBe("");
});
