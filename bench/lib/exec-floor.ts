/**
 * Pure helpers of the exec-floor bench: reading an `strace -f` log (system calls by kind,
 * and how many came before a marker call), /proc/<pid>/status fields and `perf stat -x,`
 * output. No I/O here.
 */

export interface SyscallCounts {
  /** Every system call entered, by every thread (an `<unfinished ...>` call counts once). */
  total: number;
  /** Those entered before the first line naming the marker (the program's first own call). */
  beforeMarker: number;
  /** Whether the marker was seen at all. */
  markerSeen: boolean;
  /** Per kind: [before the marker, in total]. */
  byKind: Map<string, [number, number]>;
}

// `1234 openat(AT_FDCWD, ...) = 3`, `1234 futex(... <unfinished ...>`, with or without the pid
// (strace -f writes it; -tt/-r would add a time column, which is skipped too).
const CALL = /^(?:\d+\s+)?(?:[\d:.]+\s+)?([a-z_][a-z0-9_]*)\(/;

/** Counts the system calls of an `strace -f -o FILE` log, and those before `marker` appears. */
export function countSyscalls(log: string, marker: string): SyscallCounts {
  const byKind = new Map<string, [number, number]>();
  let total = 0;
  let beforeMarker = 0;
  let markerSeen = false;
  for (const line of log.split("\n")) {
    // "<... futex resumed>" continues a call already counted; "+++ exited", "--- SIGCHLD" are not calls.
    const m = CALL.exec(line);
    if (!m) continue;
    if (!markerSeen && line.includes(marker)) markerSeen = true;
    const kind = m[1]!;
    const counts = byKind.get(kind) ?? [0, 0];
    if (!markerSeen) {
      counts[0]++;
      beforeMarker++;
    }
    counts[1]++;
    total++;
    byKind.set(kind, counts);
  }
  return { total, beforeMarker, markerSeen, byKind };
}

/** The numeric fields of /proc/<pid>/status that matter here (sizes in KiB, as the kernel gives them). */
export interface StatusFields {
  vmSizeKiB: number;
  vmRssKiB: number;
  rssAnonKiB: number;
  rssFileKiB: number;
  /** File pages of a tmpfs file count here, not in RssFile. */
  rssShmemKiB: number;
  threads: number;
}

export function statusFields(status: string): StatusFields {
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status);
    if (!m) throw new Error(`/proc status: no ${name} field`);
    return Number(m[1]);
  };
  return { vmSizeKiB: field("VmSize"), vmRssKiB: field("VmRSS"), rssAnonKiB: field("RssAnon"), rssFileKiB: field("RssFile"), rssShmemKiB: field("RssShmem"), threads: field("Threads") };
}

/**
 * `perf stat -x,` output → event name → value (a count, or msec for task-clock). Events perf
 * could not count ("<not supported>", "<not counted>") are left out.
 */
export function parsePerfStat(csv: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of csv.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const cols = line.split(",");
    const value = Number(cols[0]);
    const event = cols[2];
    if (event && cols[0] !== "" && Number.isFinite(value)) out.set(event.replace(/:u$/, ""), value);
  }
  return out;
}

/** The median of each position over several runs' counts (system call counts vary a little run to run). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}
