import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { contextFiles, contextHash, stageContext } from "./context.ts";

let root = "";
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "image-context-"));
  const files: Record<string, string> = {
    "package.json": "{}",
    "tsconfig.json": "{}",
    "bunfig.toml": "[test]",
    ".env": "SECRET=1",
    "README.md": "# readme",
    "services/metrics/main.ts": "export {};",
    "services/metrics/main.test.ts": "test",
    "services/metrics/README.md": "# metrics",
    "shared/ip.ts": "export {};",
    "cni-shim/main.ts": "export {};",
    "deploy/k8s/install-cni.ts": "export {};",
    "deploy/k8s/aws-node.yaml": "kind: DaemonSet",
    "deploy/k8s/Containerfile": "FROM x",
    "deploy/local/main.ts": "export {};",
    "tests/e2e/x.test.ts": "test",
    "node_modules/hono/index.js": "hono",
    "node_modules/typescript/lib/tsc.js": "tsc",
    "node_modules/bun/bin/bun.exe": "bun",
    "node_modules/bun/bin/bunx.exe": "bunx",
    ".git/HEAD": "ref",
  };
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  mkdirSync(join(root, "node_modules/.bin"));
  symlinkSync("../bun/bin/bun.exe", join(root, "node_modules/.bin/bun"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const hashOf = (cache?: string) => contextHash(root, ["Containerfile text"], contextFiles(root), cache);

describe("the curated build context", () => {
  test("holds the sources and runtime node_modules only: no tests, docs, manifests, dev packages, .git, .env", () => {
    expect(contextFiles(root).map((f) => f.rel)).toEqual([
      "cni-shim/main.ts",
      "deploy/k8s/install-cni.ts",
      "node_modules/.bin/bun",
      "node_modules/bun/bin/bun.exe",
      "node_modules/hono/index.js",
      "package.json",
      "services/metrics/main.ts",
      "shared/ip.ts",
      "tsconfig.json",
    ]);
  });

  test("the hash follows content, not times; a digest cache does not hide an edit", () => {
    const cache = join(root, ".build/digests.json");
    const first = hashOf(cache);
    expect(hashOf()).toBe(first);
    const file = join(root, "services/metrics/main.ts");
    utimesSync(file, new Date(), new Date(Date.now() + 60_000));
    expect(hashOf(cache)).toBe(first);
    // same size, same mtime as before: only the ctime tells, and the cache honours it
    const { mtime } = statSync(file);
    writeFileSync(file, "export {}!");
    utimesSync(file, mtime, mtime);
    const edited = hashOf(cache);
    expect(edited).not.toBe(first);
    expect(hashOf()).toBe(edited);
    writeFileSync(join(root, "services/metrics/main.test.ts"), "another test");
    expect(hashOf(cache)).toBe(edited);
    expect(contextHash(root, ["another Containerfile"], contextFiles(root))).not.toBe(edited);
  });

  test("staging makes exactly the context, of hard links; staging again drops what left the tree", () => {
    const dir = join(root, ".build/context");
    stageContext(root, dir);
    expect(statSync(join(dir, "shared/ip.ts")).ino).toBe(statSync(join(root, "shared/ip.ts")).ino);
    expect(readlinkSync(join(dir, "node_modules/.bin/bun"))).toBe("../bun/bin/bun.exe");
    expect(existsSync(join(dir, ".env"))).toBe(false);
    expect(existsSync(join(dir, "services/metrics/main.test.ts"))).toBe(false);
    rmSync(join(root, "shared/ip.ts"));
    writeFileSync(join(root, "shared/naming.ts"), "export {};");
    // an editor's save replaces the file: a new inode, which staging must follow
    rmSync(join(root, "cni-shim/main.ts"));
    writeFileSync(join(root, "cni-shim/main.ts"), "export const v = 2;");
    writeFileSync(join(dir, "stray"), "left by hand");
    stageContext(root, dir);
    expect(existsSync(join(dir, "shared/ip.ts"))).toBe(false);
    expect(existsSync(join(dir, "stray"))).toBe(false);
    expect(lstatSync(join(dir, "shared/naming.ts")).ino).toBe(lstatSync(join(root, "shared/naming.ts")).ino);
    expect(Bun.file(join(dir, "cni-shim/main.ts")).size).toBe("export const v = 2;".length);
  });
});
