// onInterrupt: a SIGTERM or SIGINT runs every registered undo, newest first, skips the ones
// unregistered, and ends the process with 130 — checked on a real child process.
import { expect, test } from "bun:test";
import { join } from "node:path";

const script = (sig: string) => `
import { onInterrupt } from ${JSON.stringify(join(import.meta.dir, "interrupt.ts"))};
onInterrupt(() => console.log("first"));
const forget = onInterrupt(() => console.log("forgotten"));
onInterrupt(async () => { await Bun.sleep(20); console.log("second, awaited"); });
onInterrupt(() => { throw new Error("this one fails"); });
forget();
console.log("ready");
setInterval(() => {}, 1000);
setTimeout(() => process.kill(process.pid, ${JSON.stringify(sig)}), 50);
`;

for (const sig of ["SIGTERM", "SIGINT"]) {
  test(`${sig}: the undos run newest first, a failing one does not stop the rest, exit 130`, async () => {
    const p = Bun.spawn([process.execPath, "-e", script(sig)], { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    expect(code).toBe(130);
    expect(out.trim().split("\n")).toEqual(["ready", "second, awaited", "first"]);
    expect(err).toContain(`${sig}: removing what this bench made`);
    expect(err).toContain("cleanup failed: this one fails");
  });
}
