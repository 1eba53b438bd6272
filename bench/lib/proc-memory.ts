/** Resident memory of a process from /proc: VmRSS (status) and PSS (smaps_rollup when the kernel has it), in KiB. */
import { existsSync, readFileSync } from "node:fs";

export interface Memory {
  rssKiB: number;
  /** undefined when smaps_rollup is not available. */
  pssKiB?: number;
  /** Private_Clean + Private_Dirty (pages no other process maps); undefined without smaps_rollup. */
  ussKiB?: number;
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
  let ussKiB: number | undefined;
  if (existsSync(rollup)) {
    try {
      const text = readFileSync(rollup, "utf8");
      pssKiB = field(text, "Pss");
      const clean = field(text, "Private_Clean");
      const dirty = field(text, "Private_Dirty");
      ussKiB = clean !== undefined && dirty !== undefined ? clean + dirty : undefined;
    } catch {
      pssKiB = undefined;
    }
  }
  return { rssKiB, pssKiB, ussKiB };
}

/**
 * What a set of processes costs together: the pages each holds alone (USS), plus the pages
 * they share (the runtime binary, mostly) counted once: the largest RSS − USS among them.
 * Unlike summed PSS it does not depend on how many unrelated processes map the same binary.
 */
export function together(ms: Memory[]): number {
  if (ms.some((m) => m.ussKiB === undefined)) return NaN;
  const uss = ms.reduce((a, m) => a + m.ussKiB!, 0);
  return uss + Math.max(0, ...ms.map((m) => m.rssKiB - m.ussKiB!));
}

/** The executable a pid runs (to check that a supervisor's pid is the service itself, not a wrapper). */
export function processComm(pid: number): string {
  return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
}
