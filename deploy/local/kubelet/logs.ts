// Container logs: podman's k8s-file driver writes each attempt of a container to
// `<pod dir>/logs/<container>/<attempt>.log` (the CRI layout, `<attempt>` being the restart
// count), bounded by conmon's size limit; the kubelet keeps the current and the previous
// attempt. `main.ts logs` prints them without the timestamp/stream/tag prefix.
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";

export const LOG_MAX_SIZE = "1mb";

export function containerLogDir(podDir: string, container: string): string {
  return join(podDir, "logs", container);
}

export function containerLogPath(podDir: string, container: string, attempt: number): string {
  return join(containerLogDir(podDir, container), `${attempt}.log`);
}

/** Attempts with a log file, newest last. */
export function logAttempts(dir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((n) => /^(\d+)\.log$/.exec(n)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** Removes the logs of attempts older than `keepFrom`. */
export function pruneLogs(dir: string, keepFrom: number): void {
  for (const a of logAttempts(dir)) if (a < keepFrom) rmSync(join(dir, `${a}.log`), { force: true });
}

/**
 * The text of a k8s-file log: each line `<time> <stdout|stderr> <P|F> <text>`, P marking a
 * partial line continued by the next record. Unparseable lines are kept as they are.
 */
export function parseK8sFileLog(text: string): string {
  let out = "";
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const m = /^\S+ (?:stdout|stderr) ([PF]) ?(.*)$/.exec(line);
    if (!m) {
      out += `${line}\n`;
      continue;
    }
    out += m[1] === "P" ? m[2] : `${m[2]}\n`;
  }
  return out;
}
