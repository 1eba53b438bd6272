import { expect, test } from "bun:test";
import { countSyscalls, median, parsePerfStat, statusFields } from "./exec-floor.ts";

test("system calls of an strace -f log: by kind, before the marker, a resumed call counted once", () => {
  const log = [
    '100 execve("./probe", ["./probe"], 0x7ffc /* 1 var */) = 0',
    '100 openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3',
    "100 clone3({flags=CLONE_VM, child_tid=0x7f}, 88) = 101",
    "101 futex(0x6900f98, FUTEX_WAIT_PRIVATE, 0, NULL <unfinished ...>",
    '100 chdir("/exec-floor-marker") = -1 ENOENT (No such file or directory)',
    "101 <... futex resumed>) = 0",
    '100 openat(AT_FDCWD, "/proc/self/status", O_RDONLY) = 5',
    "100 exit_group(0)                     = ?",
    "101 +++ exited with 0 +++",
    "100 +++ exited with 0 +++",
    "",
  ].join("\n");
  const c = countSyscalls(log, '"/exec-floor-marker"');
  expect(c.markerSeen).toBe(true);
  expect(c.beforeMarker).toBe(4);
  expect(c.total).toBe(7);
  expect(c.byKind.get("openat")).toEqual([1, 2]);
  expect(c.byKind.get("futex")).toEqual([1, 1]);
  expect(c.byKind.get("chdir")).toEqual([0, 1]);
  expect(countSyscalls("1 write(1, \"x\", 1) = 1\n", '"/nowhere"').markerSeen).toBe(false);
});

test("status fields in KiB and the thread count; a missing field is an error naming it", () => {
  const status = "Name:\tprobe\nVmSize:\t 6484260 kB\nVmRSS:\t   25848 kB\nRssAnon:\t    2252 kB\nRssFile:\t   23596 kB\nRssShmem:\t       0 kB\nThreads:\t2\n";
  expect(statusFields(status)).toEqual({ vmSizeKiB: 6484260, vmRssKiB: 25848, rssAnonKiB: 2252, rssFileKiB: 23596, rssShmemKiB: 0, threads: 2 });
  expect(() => statusFields("VmSize:\t1 kB\n")).toThrow("VmRSS");
});

test("perf stat -x, output: counted events by name, unsupported ones left out", () => {
  const csv = "# started on Fri Dec  4 02:16:54 2026\n\n26.33,msec,task-clock,26328225,100.00,0.443,CPUs utilized\n822,,page-faults,26328225,100.00,31.221,K/sec\n<not supported>,,cycles,0,100.00,,\n";
  const m = parsePerfStat(csv);
  expect(m.get("task-clock")).toBe(26.33);
  expect(m.get("page-faults")).toBe(822);
  expect(m.has("cycles")).toBe(false);
});

test("median: the lower middle of an even count", () => {
  expect(median([3, 1, 2])).toBe(2);
  expect(median([4, 1, 3, 2])).toBe(2);
  expect(median([])).toBeNaN();
});
