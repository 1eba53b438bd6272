// tests/setup-host.sh checks what it installed: with an apt-get that installs nothing (a stub
// first on a PATH holding nothing else), it exits non-zero naming each tool still missing.
import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const SCRIPT = resolve(import.meta.dir, "../setup-host.sh");
const bin = mkdtempSync(join(tmpdir(), "setup-host-stubs-"));
afterAll(() => rmSync(bin, { recursive: true, force: true }));

function stub(name: string, body: string): void {
  writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(bin, name), 0o755);
}

async function setupHost(uid: number): Promise<{ code: number; err: string }> {
  stub("id", `echo ${uid}`);
  stub("apt-get", "exit 0");
  const p = Bun.spawn(["/bin/bash", SCRIPT], { env: { PATH: bin }, stdout: "pipe", stderr: "pipe" });
  const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  return { code, err };
}

test("as root: what apt-get did not install is named, and the script fails", async () => {
  const r = await setupHost(0);
  expect(r.code).toBe(1);
  expect(r.err).toContain("setup-host: still missing after installing");
  for (const name of ["ip (iproute2)", "iptables (iptables)", "podman (podman)", "nsenter (util-linux)", "kubectl (kubernetes-client)"]) expect(r.err).toContain(name);
});

test("not root: nothing installed, what is missing reported, exit 0 (the tests themselves skip or fail)", async () => {
  const r = await setupHost(1000);
  expect(r.code).toBe(0);
  expect(r.err).toContain("setup-host: not root; cannot install:");
  expect(r.err).toContain("ip (iproute2)");
});
