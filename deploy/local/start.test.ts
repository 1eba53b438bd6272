// npm start's argument checks, which run before anything is touched (no root needed).
import { expect, test } from "bun:test";

const START = new URL("./start.ts", import.meta.url).pathname;

async function start(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  const p = Bun.spawn([process.execPath, "run", START, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [code, stdout, stderr] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code, stdout, stderr };
}

test("--mode other than processes or daemonset exits 2 naming --mode, before anything starts", async () => {
  for (const mode of ["foo", "DaemonSet", ""]) {
    const r = await start(["--once", "--mode", mode]);
    expect({ mode, code: r.code, stdout: r.stdout }).toEqual({ mode, code: 2, stdout: "" });
    expect(r.stderr).toStartWith(`error START_BAD_ARGS: --mode: must be processes or daemonset, got ${JSON.stringify(mode)}`);
  }
});

test("--ipv6 with --v6-egress exits 2 naming --v6-egress, before anything starts", async () => {
  const r = await start(["--once", "--ipv6", "--v6-egress"]);
  expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: "" });
  expect(r.stderr).toStartWith("error START_BAD_ARGS: --v6-egress");
});
