/**
 * Real network namespaces for root tests: unique names per run, and a cleanup that
 * removes every namespace created (its links and rules go with it) even after a failure.
 */
import { randomBytes } from "node:crypto";

export interface RunResult {
  code: number;
  out: string;
  err: string;
}

/** Run argv (never a shell string); throws with stderr on a non-zero exit unless `allowFail`. */
export function run(argv: string[], allowFail = false): RunResult {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  const res = { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
  if (!allowFail && res.code !== 0) throw new Error(`${argv.join(" ")} → ${res.code}: ${res.err.trim()}`);
  return res;
}

export class Namespaces {
  private readonly created: string[] = [];
  private made = 0;
  readonly tag = `${process.pid.toString(36)}${randomBytes(2).toString("hex")}`;

  /** Creates `nc<kind><tag><n>` (short: also used in link names), with lo up. */
  add(kind: string): { name: string; path: string } {
    const name = `nc${kind}${this.tag}${this.made++}`;
    run(["ip", "netns", "add", name]);
    this.created.push(name);
    run(["ip", "-n", name, "link", "set", "lo", "up"]);
    return { name, path: `/run/netns/${name}` };
  }

  /** Runs argv inside the named namespace. */
  exec(ns: string, argv: string[], allowFail = false): RunResult {
    return run(["ip", "netns", "exec", ns, ...argv], allowFail);
  }

  ip(ns: string, args: string[]): string {
    return run(["ip", "-n", ns, ...args]).out;
  }

  ping(ns: string, target: string): boolean {
    return this.exec(ns, ["ping", "-c", "1", "-W", "2", target], true).code === 0;
  }

  /** Deletes one namespace made by add() (its links go with it). */
  remove(name: string): void {
    const i = this.created.indexOf(name);
    if (i < 0) return;
    this.created.splice(i, 1);
    run(["ip", "netns", "del", name], true);
  }

  cleanup(): void {
    for (const name of this.created.splice(0)) run(["ip", "netns", "del", name], true);
  }
}
