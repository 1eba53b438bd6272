/** Resident memory of a process from /proc: VmRSS (status) and PSS (smaps_rollup when the kernel has it), in KiB. */
import { existsSync, readFileSync } from "node:fs";

export interface Memory {
  rssKiB: number;
  /** undefined when smaps_rollup is not available. */
  pssKiB?: number;
}

function field(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
}

export function processMemory(pid: number): Memory {
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`pid: not a process id: ${pid}`);
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKiB = field(status, "VmRSS");
  if (rssKiB === undefined) throw new Error(`/proc/${pid}/status has no VmRSS (a kernel thread or a zombie?)`);
  const rollup = `/proc/${pid}/smaps_rollup`;
  let pssKiB: number | undefined;
  if (existsSync(rollup)) {
    try {
      pssKiB = field(readFileSync(rollup, "utf8"), "Pss");
    } catch {
      pssKiB = undefined;
    }
  }
  return { rssKiB, pssKiB };
}

/** The executable a pid runs (to check that a supervisor's pid is the service itself, not a wrapper). */
export function processComm(pid: number): string {
  return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
}
