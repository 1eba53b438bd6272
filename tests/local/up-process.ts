// Runs `deploy/local/main.ts up` as a subprocess for tests: waits for its ready line, and
// always tears down (SIGTERM, then `down`), reporting what was left behind.
import { mkdtempSync, openSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { readStack, type Stack } from "../../deploy/local/stack.ts";
import { listNetns, runCommand } from "../../deploy/local/vpc/command.ts";
import { stackNames } from "../../deploy/local/vpc/names.ts";

const MAIN = new URL("../../deploy/local/main.ts", import.meta.url).pathname;

export interface UpProcess {
  dir: string;
  proc: ReturnType<typeof Bun.spawn>;
  stack: Stack;
  readyLine: string;
  /** Spawn → ready line, in ms (measured, not asserted). */
  readyMs: number;
}

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `local-${tag}-${process.pid}-`));
}

export async function startUp(dir: string, extra: string[] = [], timeoutMs = 30_000): Promise<UpProcess> {
  const t0 = performance.now();
  const proc = Bun.spawn([process.execPath, "run", MAIN, "up", "--dir", dir, ...extra], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: openSync(join(dir, "up.stderr"), "w"),
  });
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let out = "";
  const timer = setTimeout(() => proc.kill("SIGTERM"), timeoutMs);
  try {
    while (!out.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`up exited (${await proc.exited}) before ready; stderr: ${await Bun.file(join(dir, "up.stderr")).text()}`);
      out += new TextDecoder().decode(value);
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  const readyMs = performance.now() - t0;
  return { dir, proc, stack: await readStack(dir), readyLine: out, readyMs };
}

/** What a stack with this DIR has left in the kernel and the process table. */
export async function leftovers(dir: string, pids: number[] = []): Promise<string[]> {
  const names = stackNames(dir);
  const found: string[] = (await listNetns()).filter((n) => n.startsWith(`${names.prefix}-`)).map((n) => `netns ${n}`);
  const link = await runCommand(["ip", "link", "show", names.mgmtRootLink]);
  if (link.exitCode === 0) found.push(`link ${names.mgmtRootLink}`);
  const mounts = await Bun.file("/proc/self/mountinfo").text();
  for (const line of mounts.split("\n")) if (line.includes(`/run/netns/${names.prefix}-`)) found.push(`mount ${line}`);
  for (const pid of pids) {
    const status = await Bun.file(`/proc/${pid}/status`).text().catch(() => "");
    if (status && !/^State:\s+Z/m.test(status)) found.push(`process ${pid}`);
  }
  for (const f of ["local-manifest.json", "ec2-control.sock", "stack.json"]) if (await Bun.file(join(dir, f)).exists()) found.push(`file ${f}`);
  return found;
}

/** Runs `down` for DIR (safe when nothing is left). */
export async function runDown(dir: string): Promise<{ exitCode: number; stderr: string }> {
  const r = await runCommand([process.execPath, "run", MAIN, "down", "--dir", dir]);
  return { exitCode: r.exitCode, stderr: r.stderr };
}
