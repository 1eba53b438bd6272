import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { prepareVolumes } from "./volume-setup.ts";
import type { VolumeSource } from "./volumes.ts";

const dir = mkdtempSync(join(tmpdir(), "kubelet-volumes-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const host = (path: string, type: string, machine = false): VolumeSource => ({ kind: "hostPath", path: join(dir, path), type, machine });

test("DirectoryOrCreate and an untyped hostPath are made; FileOrCreate makes the file and its parents; emptyDir is world-writable", () => {
  prepareVolumes(new Map<string, VolumeSource>([
    ["a", host("made/dir", "DirectoryOrCreate")],
    ["b", host("untyped/dir", "")],
    ["c", host("run/xtables.lock", "FileOrCreate")],
    ["d", { kind: "emptyDir", path: join(dir, "empty") }],
  ]), new Map());
  expect(statSync(join(dir, "made/dir")).isDirectory()).toBe(true);
  expect(statSync(join(dir, "untyped/dir")).isDirectory()).toBe(true);
  expect(statSync(join(dir, "run/xtables.lock")).isFile()).toBe(true);
  expect(statSync(join(dir, "empty")).mode & 0o777).toBe(0o777);
});

test.each([
  ["Directory", "missing"],
  ["File", "missing"],
  ["Socket", "missing"],
  ["DirectoryOrCreate", "a-file"],
  ["FileOrCreate", "a-dir"],
])("type %s on %s fails naming the volume and changes nothing", (type, what) => {
  writeFileSync(join(dir, "a-file"), "x");
  prepareVolumes(new Map([["mk", host("a-dir", "DirectoryOrCreate")]]), new Map());
  expect(() => prepareVolumes(new Map([["vol", host(what, type)]]), new Map())).toThrow('volume "vol"');
  expect(existsSync(join(dir, "missing"))).toBe(false);
});

test("a machine path is never created, even when the type would", () => {
  prepareVolumes(new Map([["m", host("machine-only", "", true)]]), new Map());
  expect(existsSync(join(dir, "machine-only"))).toBe(false);
});

test("configMap: every key as a file, or the items at their paths with their modes; optional and missing is empty", () => {
  const cm = { metadata: { name: "settings" }, data: { a: "A", b: "B" } };
  prepareVolumes(new Map<string, VolumeSource>([
    ["all", { kind: "configMap", path: join(dir, "cm-all"), configMap: "settings", defaultMode: 0o600, optional: false }],
    ["some", { kind: "configMap", path: join(dir, "cm-some"), configMap: "settings", items: [{ key: "b", path: "sub/b.txt", mode: 0o755 }], defaultMode: 0o644, optional: false }],
    ["opt", { kind: "configMap", path: join(dir, "cm-opt"), configMap: "absent", defaultMode: 0o644, optional: true }],
  ]), new Map([["settings", cm]]));
  expect(readFileSync(join(dir, "cm-all/a"), "utf8")).toBe("A");
  expect(statSync(join(dir, "cm-all/b")).mode & 0o777).toBe(0o600);
  expect(readFileSync(join(dir, "cm-some/sub/b.txt"), "utf8")).toBe("B");
  expect(statSync(join(dir, "cm-some/sub/b.txt")).mode & 0o777).toBe(0o755);
  expect(existsSync(join(dir, "cm-some/a"))).toBe(false);
  expect(statSync(join(dir, "cm-opt")).isDirectory()).toBe(true);
  expect(() => prepareVolumes(new Map<string, VolumeSource>([["req", { kind: "configMap", path: join(dir, "cm-req"), configMap: "absent", defaultMode: 0o644, optional: false }]]), new Map())).toThrow('configmap "absent" not found');
});
