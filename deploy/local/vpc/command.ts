// Runs kernel tools (ip, iptables-restore, sysctl) with argv arrays, never a shell string.
import { assertNetnsName } from "./names.ts";

export class CommandError extends Error {
  readonly code = "LOCAL_COMMAND_FAILED";
  constructor(readonly argv: readonly string[], readonly exitCode: number, readonly stderr: string) {
    super(`${argv.join(" ")} exited ${exitCode}: ${stderr.trim()}`);
  }
}

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function runCommand(argv: readonly string[], stdin?: string): Promise<CommandResult> {
  const proc = Bun.spawn([...argv], {
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { exitCode, stdout, stderr };
}

/** Runs and throws CommandError on a non-zero exit. */
export async function mustRun(argv: readonly string[], stdin?: string): Promise<string> {
  const r = await runCommand(argv, stdin);
  if (r.exitCode !== 0) throw new CommandError(argv, r.exitCode, r.stderr);
  return r.stdout;
}

/** `ip [-n NS] ...args`; ns undefined means the root namespace. */
export function ip(ns: string | undefined, ...args: string[]): Promise<string> {
  return mustRun(ns === undefined ? ["ip", ...args] : ["ip", "-n", assertNetnsName(ns), ...args]);
}

/** Like ip(), but a failure whose stderr matches `tolerate` is ignored (e.g. "No such process" on delete). */
export async function ipTolerant(ns: string | undefined, tolerate: RegExp, ...args: string[]): Promise<void> {
  const argv = ns === undefined ? ["ip", ...args] : ["ip", "-n", assertNetnsName(ns), ...args];
  const r = await runCommand(argv);
  if (r.exitCode !== 0 && !tolerate.test(r.stderr)) throw new CommandError(argv, r.exitCode, r.stderr);
}

/** Runs argv inside a namespace (`ip netns exec NS ...`). */
export function inNetns(ns: string, argv: readonly string[], stdin?: string): Promise<string> {
  return mustRun(["ip", "netns", "exec", assertNetnsName(ns), ...argv], stdin);
}

const SYSCTL_KEY = /^[a-z0-9_.\/-]+$/i;

/** Sets several sysctls inside a namespace with one process. */
export function sysctlIn(ns: string, settings: Record<string, string | number>): Promise<string> {
  const args: string[] = [];
  for (const [k, v] of Object.entries(settings)) {
    if (!SYSCTL_KEY.test(k)) throw new Error(`sysctl key ${JSON.stringify(k)} is not valid`);
    args.push(`${k}=${v}`);
  }
  return inNetns(ns, ["sysctl", "-q", "-w", ...args]);
}

export async function listNetns(): Promise<string[]> {
  const out = await mustRun(["ip", "netns", "list"]);
  return out
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0] ?? "")
    .filter((n) => n.length > 0);
}

export async function netnsPids(ns: string): Promise<number[]> {
  const r = await runCommand(["ip", "netns", "pids", assertNetnsName(ns)]);
  if (r.exitCode !== 0) return [];
  return r.stdout
    .split("\n")
    .map((l) => Number.parseInt(l.trim(), 10))
    .filter((n) => Number.isInteger(n) && n > 0);
}
