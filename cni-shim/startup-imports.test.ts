// The shim's bundle loads no Node built-in module at start: a static node:fs import alone
// costs every exec ~5–6 ms of CPU (bench/README.md, "the ADD path close to the floor").
// Built-ins the rare paths need (plugin log, DEL fallback) are loaded when those paths run.
import { expect, test } from "bun:test";
import { join } from "node:path";

test("the shim's bundle has no top-level import of a built-in module", async () => {
  const out = await Bun.build({ entrypoints: [join(import.meta.dir, "main.ts")], target: "bun", format: "esm", minify: true });
  expect(out.success).toBe(true);
  const code = await out.outputs[0]!.text();
  expect(code.length).toBeGreaterThan(1000);
  const staticImports = [...code.matchAll(/(?:^|[;}\n])\s*import\s*[^("'`]*?from\s*["']([^"']+)["']/g)].map((m) => m[1]);
  const bare = [...code.matchAll(/(?:^|[;}\n])\s*import\s*["']([^"']+)["']/g)].map((m) => m[1]);
  expect([...staticImports, ...bare]).toEqual([]);
});
