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
  [["up", "--dir", "/tmp/local-cli-args-never", "--ipv6", "--v6-egress"], "--v6-egress"],
  [["down", "--dir", "/tmp/local-cli-args-never", "--v6-egress"], "down takes only --dir"],
  [["up", "--dir", "/tmp/local-cli-args-never", "--bogus"], "bogus"],
  [["exec", "--dir", "/tmp/local-cli-args-never", "default/web"], "the command: expected after --"],
  [["exec", "--dir", "/tmp/local-cli-args-never", "web", "--", "true"], "NAMESPACE/POD"],
  [["exec", "default/web", "--", "true"], "--dir"],
  [["exec", "--dir", "/tmp/local-cli-args-never", "default/web", "extra", "--", "true"], "the command goes after --"],
  [["logs", "--dir", "/tmp/local-cli-args-never", "default/Web"], "pod"],
  [["logs", "--dir", "/tmp/local-cli-args-never", "default/web", "-c", "Main"], "-c"],
  [["logs", "--dir", "/tmp/local-cli-args-never", "kube_system/web"], "namespace"],
])("%j is refused naming %s", async (args, field) => {
  const r = await run(args);
  expect(r.code).toBe(2);
  expect(r.stdout).toBe("");
  expect(r.stderr).toContain("LOCAL_BAD_ARGS");
  expect(r.stderr).toContain(field);
  expect(existsSync("/tmp/local-cli-args-never")).toBe(false);
});

test("exec and logs on a DIR without a deployment: exit 1 naming it", async () => {
  for (const args of [["exec", "--dir", "/tmp/local-cli-args-never", "default/web", "--", "true"], ["logs", "--dir", "/tmp/local-cli-args-never", "default/web"]]) {
    const r = await run(args);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("LOCAL_NO_STACK");
  }
  expect(existsSync("/tmp/local-cli-args-never")).toBe(false);
});
