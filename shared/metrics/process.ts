/**
 * The process metrics every service exposes under its own prefix (`awscni_<service>_process_*`):
 * CPU time, start time, resident / virtual / data memory and file descriptors, in the
 * Prometheus process collector's names. Read from the process and /proc at scrape time only;
 * nothing runs between scrapes. (The Node.js runtime's own families, event-loop lag, heap
 * spaces and GC, are not kept: nothing reads them, and sampling them cost every service
 * memory and timers.)
 */
import { readdirSync, readFileSync } from "node:fs";
import { Counter, Gauge, type Registering } from "./metric.ts";

const startSeconds = Math.round(Date.now() / 1000 - process.uptime());

/** kB fields of /proc/self/status, in bytes (undefined off Linux or when unreadable). */
export function procStatusBytes(text: string, field: string): number | undefined {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(text);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** The soft limit of open files from /proc/self/limits. */
export function maxOpenFiles(limits: string): number | undefined {
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(limits);
  return m ? (m[1] === "unlimited" ? Infinity : Number(m[1])) : undefined;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

export function collectProcessMetrics(opts: { register: Registering; prefix?: string }): void {
  const p = opts.prefix ?? "";
  const registers = [opts.register];
  // Each CPU counter reads the process's CPU time when collected and moves by what was used since.
  const cpu = (name: string, help: string, read: (u: NodeJS.CpuUsage) => number) => {
    let seen = 0;
    new Counter({
      name: `${p}${name}`,
      help,
      registers,
      collect() {
        const now = read(process.cpuUsage()) / 1e6;
        this.inc(Math.max(0, now - seen));
        seen = Math.max(seen, now);
      },
    });
  };
  cpu("process_cpu_user_seconds_total", "User CPU time of the process, in seconds", (u) => u.user);
  cpu("process_cpu_system_seconds_total", "System CPU time of the process, in seconds", (u) => u.system);
  cpu("process_cpu_seconds_total", "User and system CPU time of the process, in seconds", (u) => u.user + u.system);
  new Gauge({ name: `${p}process_start_time_seconds`, help: "When the process started, in seconds since the Unix epoch", registers }).set(startSeconds);
  const status = () => readText("/proc/self/status") ?? "";
  const memory = (name: string, help: string, field: string) =>
    new Gauge({
      name: `${p}${name}`,
      help,
      registers,
      collect() {
        const v = procStatusBytes(status(), field);
        if (v !== undefined) this.set(v);
      },
    });
  memory("process_resident_memory_bytes", "Resident memory of the process, in bytes", "VmRSS");
  memory("process_virtual_memory_bytes", "Virtual memory of the process, in bytes", "VmSize");
  memory("process_heap_bytes", "Data segment (heap) of the process, in bytes", "VmData");
  new Gauge({
    name: `${p}process_open_fds`,
    help: "File descriptors the process has open",
    registers,
    collect() {
      try {
        this.set(readdirSync("/proc/self/fd").length - 1); // less the one the listing itself held
      } catch {
        // not Linux: the gauge stays at 0
      }
    },
  });
  const max = maxOpenFiles(readText("/proc/self/limits") ?? "");
  if (max !== undefined) new Gauge({ name: `${p}process_max_fds`, help: "Most file descriptors the process may open", registers }).set(max);
}
