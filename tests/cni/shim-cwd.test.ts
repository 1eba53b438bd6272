/**
 * The compiled shim ignores the runtime's working directory: a `.env` or `bunfig.toml`
 * there must not change what it does (Bun's standalone executables autoload both unless
 * built with --no-compile-autoload-dotenv/-bunfig; an earlier build took CNI_COMMAND from it).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildShim } from "../../cni-shim/build.ts";

const dir = mkdtempSync(join(tmpdir(), "shim-cwd-"));
let shim = "";
beforeAll(async () => {
  shim = await buildShim(join(dir, "aws-cni"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a .env in the runtime's working directory is not read", () => {
  const cwd = join(dir, "cwd");
  Bun.spawnSync(["mkdir", "-p", cwd]);
  writeFileSync(join(cwd, ".env"), "CNI_COMMAND=VERSION\n");
  writeFileSync(join(cwd, "bunfig.toml"), 'preload = ["./nope.ts"]\n');
  const conf = { cniVersion: "1.0.0", name: "aws-cni", type: "aws-cni", runDir: join(dir, "run") };
  const p = Bun.spawnSync([shim], { cwd, env: {}, stdin: new TextEncoder().encode(JSON.stringify(conf)) });
  // No CNI_COMMAND in the environment: forwarded as is, the absent broker makes it error 11 (not a VERSION answer).
  expect({ code: p.exitCode, answer: JSON.parse(p.stdout.toString()) }).toMatchObject({ code: 1, answer: { code: 11 } });
});
