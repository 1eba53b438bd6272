// Bad command lines get a clear error naming the field, exit 2, and create nothing.
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";

const MAIN = new URL("../../deploy/local/main.ts", import.meta.url).pathname;

async function run(args: string[]) {
  const p = Bun.spawn([process.execPath, "run", MAIN, ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: await p.exited, stdout: await new Response(p.stdout).text(), stderr: await new Response(p.stderr).text() };
}

test.each([
  [["up"], "--dir"],
  [["sideways", "--dir", "/tmp/x"], "command"],
  [["up", "--dir", "/tmp/local-cli-args-never", "--nodes", "0"], "--nodes"],
  [["up", "--dir", "/tmp/local-cli-args-never", "--nodes", "two"], "--nodes"],
  [["down", "--dir", "/tmp/local-cli-args-never", "--nodes", "2"], "down takes only --dir"],
  [["up", "--dir", "/tmp/local-cli-args-never", "--bogus"], "bogus"],
])("%j is refused naming %s", async (args, field) => {
  const r = await run(args);
  expect(r.code).toBe(2);
  expect(r.stdout).toBe("");
  expect(r.stderr).toContain("LOCAL_BAD_ARGS");
  expect(r.stderr).toContain(field);
  expect(existsSync("/tmp/local-cli-args-never")).toBe(false);
});
