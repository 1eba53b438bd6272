/**
 * The exec floor: what a compiled Bun executable does between exec and its first line of user
 * code, and until it exits, on this machine — for the build the shim uses and for variants of
 * it (build flags, runtime settings, where the binary lies), side by side with `/bin/true` and
 * a Go binary (Debian's ptp answering VERSION) as references. Every arm runs once per round,
 * rounds interleaved (each in its own shuffled order), so the machine's noise hits all alike.
 *
 * The program (the probe) first takes the time (performance.timeOrigin + now, against the
 * bench's clock just before Bun.spawn) and makes one recognisable system call,
 * chdir("/exec-floor-marker"), then reads its RSS, its own page faults (getrusage),
 * /proc/self/status (VmSize, RSS anon/file, Threads) and the number of /proc/self/maps lines,
 * reads its stdin as the shim does (`await Bun.stdin.text()`; by its argument instead through
 * `Bun.stdin.stream()`, node:fs `readFileSync(0)` or not at all) from a pipe, as a container
 * runtime gives it, and exits. Measured per arm:
 *   - wall time exec → first line and exec → exit (p50/p99; ratios against `plain`);
 *   - page faults at the first line and at exit, CPU time (the child's rusage), threads;
 *   - system calls by kind, in total and before the marker (`strace -f`, median of --traces runs);
 *   - `perf stat` software counters (task-clock, page faults, context switches), when perf works.
 * Baseline: `plain`, the probe built with the shim's flags (cni-shim/build.ts), on disk.
 *
 *   npm run bench -- exec-floor [--rounds 150] [--traces 3] [--perf-runs 10]   (≈ 2–3 min)
 */
import { chmodSync, closeSync, constants, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmdirSync, rmSync, writeSync } from "node:fs";
import { cpus, loadavg, release } from "node:os";
import { join } from "node:path";
import { SHIM_BUILD_FLAGS } from "../cni-shim/build.ts";
import { intFlag } from "./lib/args.ts";
import { countSyscalls, median, parsePerfStat, statusFields, type StatusFields, type SyscallCounts } from "./lib/exec-floor.ts";
import { command, pct } from "./lib/stats.ts";

const argv = process.argv.slice(2);
const ROUNDS = intFlag(argv, "rounds", 150);
const TRACES = intFlag(argv, "traces", 3);
const PERF_RUNS = intFlag(argv, "perf-runs", 10, 0);
const MARKER = "/exec-floor-marker";
const SHIM_FLAGS = SHIM_BUILD_FLAGS;
const BASE_ENV = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" };

// argv: <stdin mode: bun | stream | fs | none> [snap]. Timing runs print times and faults only;
// "snap" runs also read /proc/self/status and maps (node:fs costs ~6 ms, so never in timing runs).
const PROBE = `const t1 = performance.timeOrigin + performance.now();
try { process.chdir(${JSON.stringify(MARKER)}); } catch {}
const rss1 = process.memoryUsage.rss();
const ru1 = process.resourceUsage();
const [mode = "bun", snap] = process.argv.slice(2);
const fs = snap || mode === "fs" ? import.meta.require("node:fs") : undefined;
const status1 = snap ? fs.readFileSync("/proc/self/status", "utf8") : "";
const maps1 = snap ? fs.readFileSync("/proc/self/maps", "utf8").split("\\n").length - 1 : 0;
let input = "";
if (mode === "bun") input = await Bun.stdin.text();
else if (mode === "fs") input = fs.readFileSync(0, "utf8");
else if (mode === "stream") {
  const r = Bun.stdin.stream().getReader();
  const d = new TextDecoder();
  for (let c = await r.read(); !c.done; c = await r.read()) input += d.decode(c.value, { stream: true });
}
const ru2 = process.resourceUsage();
const status2 = snap ? fs.readFileSync("/proc/self/status", "utf8") : "";
const t2 = performance.timeOrigin + performance.now();
console.write(JSON.stringify({ t1, t2, rss1, u1: ru1.userCPUTime, s1: ru1.systemCPUTime, min1: ru1.minorPageFault, maj1: ru1.majorPageFault, min2: ru2.minorPageFault, maj2: ru2.majorPageFault, status1, maps1, status2, inputBytes: input.length }) + "\\n");
process.exit(0);
`;

interface Arm {
  name: string;
  argv: string[];
  env: Record<string, string>;
  stdin: string;
  probe: boolean;
}
interface ProbeReport {
  t1: number;
  t2: number;
  rss1: number;
  u1: number;
  s1: number;
  min1: number;
  maj1: number;
  min2: number;
  maj2: number;
  status1: string;
  maps1: number;
  status2: string;
}
type Series = "first" | "exit" | "teardown" | "cpu" | "user1" | "sys1" | "min1" | "min2" | "maj2" | "rss1";
const SERIES: Series[] = ["first", "exit", "teardown", "cpu", "user1", "sys1", "min1", "min2", "maj2", "rss1"];

const now = () => performance.timeOrigin + performance.now();

/** The filesystem type holding `path` (longest mount prefix in /proc/mounts). */
function fsType(path: string): string {
  let best = { len: -1, type: "?" };
  for (const line of readFileSync("/proc/mounts", "utf8").split("\n")) {
    const [, mnt, type] = line.split(" ");
    if (!mnt || !type) continue;
    if ((path === mnt || path.startsWith(mnt.endsWith("/") ? mnt : `${mnt}/`)) && mnt.length > best.len) best = { len: mnt.length, type };
  }
  return best.type;
}

let fifo = ""; // set once the temp dir exists

/**
 * A blocking pipe holding `data` for a child's stdin, as a container runtime gives one (Go's
 * exec copies the config into an os.Pipe). Bun.spawn would hand a Blob over as a memfd, a
 * regular file, which Bun reads another way. A FIFO: the read end opened while a writer is,
 * so it blocks like a pipe; the data written and the writer closed, so the child sees EOF.
 */
function pipeWith(data: string): number {
  const r0 = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const w = openSync(fifo, constants.O_WRONLY);
  const r = openSync(fifo, constants.O_RDONLY);
  closeSync(r0);
  writeSync(w, data);
  closeSync(w);
  return r;
}

/** Runs argv to its end with `stdin` on a pipe; throws on a non-zero exit naming what ran. */
async function run(name: string, argv: string[], env: Record<string, string>, stdin: string) {
  const fd = pipeWith(stdin);
  const t0 = now();
  let p;
  try {
    p = Bun.spawn(argv, { env, stdin: fd, stdout: "pipe", stderr: "pipe" });
  } finally {
    closeSync(fd);
  }
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  const code = await p.exited;
  const t3 = now();
  if (code !== 0) throw new Error(`${name}: exit ${code}: ${err.trim().split("\n").slice(-3).join(" / ")}`);
  const cpuTime = p.resourceUsage()?.cpuTime;
  return { t0, t3, out, cpu: cpuTime ? Number(cpuTime.total) / 1000 : NaN };
}

async function build(dir: string, name: string, flags: readonly string[]): Promise<string | Error> {
  const out = join(dir, name);
  try {
    await run(`bun build ${flags.join(" ")}`, [process.execPath, "build", ...flags, join(dir, "probe.ts"), "--outfile", out], { ...BASE_ENV }, "");
    return out;
  } catch (err) {
    return err as Error;
  }
}

/** One timed run: exec → first line, → exit (reaped), last line → reaped, CPU, faults. */
async function timed(arm: Arm): Promise<Partial<Record<Series, number>>> {
  const { t0, t3, out, cpu } = await run(arm.name, arm.argv, arm.env, arm.stdin);
  if (!arm.probe) return { exit: t3 - t0, cpu };
  const r = JSON.parse(out) as ProbeReport;
  return { first: r.t1 - t0, exit: t3 - t0, teardown: t3 - r.t2, cpu, user1: r.u1 / 1000, sys1: r.s1 / 1000, min1: r.min1, min2: r.min2, maj2: r.maj2, rss1: r.rss1 / 1048576 };
}

/** A run with /proc/self/status and maps read at the first line and before exit. */
async function snapshot(arm: Arm): Promise<{ first: StatusFields; last: StatusFields; maps: number }> {
  const r = JSON.parse((await run(arm.name, [...arm.argv, "snap"], arm.env, arm.stdin)).out) as ProbeReport;
  return { first: statusFields(r.status1), last: statusFields(r.status2), maps: r.maps1 };
}

/** One `strace -f` run of the arm: its system calls, and how many came before the marker. */
async function trace(arm: Arm, logFile: string) {
  await run(`strace ${arm.name}`, ["strace", "-f", "-qq", "-o", logFile, "--", ...arm.argv], arm.env, arm.stdin);
  return countSyscalls(readFileSync(logFile, "utf8"), `"${MARKER}"`);
}

const PERF_EVENTS = ["task-clock", "page-faults", "major-faults", "context-switches", "cpu-migrations"];
async function perfStat(arm: Arm, outFile: string): Promise<Map<string, number>> {
  await run(`perf stat ${arm.name}`, ["perf", "stat", "-x,", "-o", outFile, "-e", PERF_EVENTS.join(","), "--", ...arm.argv], arm.env, arm.stdin);
  return parsePerfStat(readFileSync(outFile, "utf8"));
}

if (!Bun.which("strace")) {
  console.error("bench exec-floor needs strace (Debian package strace; `npm run bench` installs it through tests/setup-host.sh)");
  process.exit(1);
}
const perfWorks = PERF_RUNS > 0 && Bun.which("perf") !== null && Bun.spawnSync(["perf", "stat", "-x,", "-e", "task-clock", "--", "/bin/true"], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;

// The binaries lie in the repository's .build (its disk), a copy on tmpfs when /dev/shm is one.
const repoBuild = join(import.meta.dir, "..", ".build");
const madeRepoBuild = !existsSync(repoBuild);
mkdirSync(repoBuild, { recursive: true });
const dir = mkdtempSync(join(repoBuild, "exec-floor-"));
const shmDir = existsSync("/dev/shm") && fsType("/dev/shm") === "tmpfs" ? mkdtempSync("/dev/shm/exec-floor-") : undefined;
try {
  fifo = join(dir, "stdin.fifo");
  if (Bun.spawnSync(["mkfifo", fifo]).exitCode !== 0) throw new Error(`mkfifo ${fifo} failed`);
  await Bun.write(join(dir, "probe.ts"), PROBE);
  const builds: [string, readonly string[]][] = [
    ["plain", SHIM_FLAGS],
    ["no --bytecode", SHIM_FLAGS.filter((f) => f !== "--bytecode")],
    ["no --minify", SHIM_FLAGS.filter((f) => f !== "--minify")],
    ["--compile-exec-argv=--smol", [...SHIM_FLAGS, "--compile-exec-argv=--smol"]],
  ];
  const bins = new Map<string, string>();
  const skipped: string[] = [];
  for (const [i, [name, flags]] of builds.entries()) {
    const r = await build(dir, `probe-${i}`, flags);
    if (r instanceof Error) skipped.push(`${name}: ${r.message}`);
    else bins.set(name, r);
  }
  const plain = bins.get("plain");
  if (!plain) throw new Error(`the plain build failed: ${skipped.join("; ")}`);
  const arms: Arm[] = [];
  const bunArm = (name: string, bin: string, env: Record<string, string> = {}, mode = "bun") =>
    arms.push({ name, argv: [bin, mode], env: { ...BASE_ENV, ...env }, stdin: '{"cniVersion":"1.0.0"}', probe: true });
  for (const [name, bin] of bins) bunArm(name, bin);
  if (shmDir) {
    const onShm = join(shmDir, "probe");
    copyFileSync(plain, onShm);
    chmodSync(onShm, 0o755);
    bunArm("plain on tmpfs", onShm);
  }
  bunArm("stdin: Bun.stdin.stream()", plain, {}, "stream");
  bunArm("stdin: fs.readFileSync(0)", plain, {}, "fs");
  bunArm("stdin: not read", plain, {}, "none");
  // Runtime settings only the environment gives (the container runtime, not the plugin, chooses it).
  const envArms: Record<string, string>[] = [
    { BUN_JSC_useJIT: "0" },
    { BUN_JSC_useConcurrentJIT: "0" },
    { BUN_JSC_useDFGJIT: "0" },
    { MIMALLOC_PURGE_DELAY: "0" },
    { MIMALLOC_ARENA_EAGER_COMMIT: "0" },
    { BUN_FEATURE_FLAG_DISABLE_STANDALONE_MADVISE: "1" },
    { BUN_FEATURE_FLAG_DISABLE_IO_POOL: "1" },
    { BUN_GC_TIMER_DISABLE: "1" },
    { LD_BIND_NOW: "1" },
  ];
  for (const env of envArms) bunArm(Object.entries(env).map(([k, v]) => `${k}=${v}`).join(" "), plain, env);
  arms.push({ name: "true (bare exec)", argv: ["/bin/true"], env: BASE_ENV, stdin: "", probe: false });
  if (existsSync("/usr/lib/cni/ptp")) arms.push({ name: "ptp VERSION (Go)", argv: ["/usr/lib/cni/ptp"], env: { ...BASE_ENV, CNI_COMMAND: "VERSION" }, stdin: '{"cniVersion":"1.0.0"}', probe: false });

  const samples = new Map(arms.map((a) => [a.name, Object.fromEntries(SERIES.map((k) => [k, [] as number[]])) as Record<Series, number[]>]));
  for (const arm of arms) for (let i = 0; i < 3; i++) await timed(arm); // page cache, the binaries' first faults
  // Each round in its own order (a seeded shuffle), so no arm always follows the same neighbour.
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let r = 0; r < ROUNDS; r++) {
    const order = arms.map((a) => ({ a, k: rand() })).sort((x, y) => x.k - y.k);
    for (const { a: arm } of order) {
      const s = samples.get(arm.name)!;
      for (const [key, v] of Object.entries(await timed(arm))) s[key as Series].push(v);
    }
  }
  const snaps = new Map<string, Awaited<ReturnType<typeof snapshot>>>();
  for (const arm of arms) if (arm.probe) snaps.set(arm.name, await snapshot(arm));

  // System calls: a few strace runs per arm, the median of each count.
  const sys = new Map<string, { total: number; before: number; byKind: Map<string, [number, number]> }>();
  for (const arm of arms) {
    const runs: SyscallCounts[] = [];
    for (let i = 0; i < TRACES; i++) runs.push(await trace(arm, join(dir, "strace.log")));
    if (arm.probe && !runs.every((r) => r.markerSeen)) throw new Error(`strace ${arm.name}: the marker call was not seen`);
    const kinds = new Set(runs.flatMap((r) => [...r.byKind.keys()]));
    const byKind = new Map([...kinds].map((k) => [k, [median(runs.map((r) => r.byKind.get(k)?.[0] ?? 0)), median(runs.map((r) => r.byKind.get(k)?.[1] ?? 0))] as [number, number]]));
    sys.set(arm.name, { total: median(runs.map((r) => r.total)), before: median(runs.map((r) => r.beforeMarker)), byKind });
  }
  const perf = new Map<string, Map<string, number[]>>(arms.map((a) => [a.name, new Map()]));
  for (let i = 0; perfWorks && i < PERF_RUNS; i++) {
    for (const arm of arms) {
      const m = perf.get(arm.name)!;
      for (const [ev, v] of await perfStat(arm, join(dir, "perf.txt"))) m.set(ev, [...(m.get(ev) ?? []), v]);
    }
  }

  const base = samples.get("plain")!;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "–");
  const rat = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x` : "–");
  const w = Math.max(...arms.map((a) => a.name.length)) + 2;
  console.log(`exec floor: a compiled Bun program from exec to its first line of user code and to exit, ${ROUNDS} rounds interleaved, ${arms.length} arms`);
  console.log(`machine: ${cpus().length} CPUs, kernel ${release()}, bun ${Bun.version}, load average ${loadavg().map((x) => x.toFixed(2)).join(" ")} (at the end); binaries on ${fsType(dir)}${shmDir ? ", one copy on tmpfs" : ""}`);
  for (const s of skipped) console.log(`  not measured: ${s}`);
  console.log(`ratios against plain (the shim's build flags, on disk), p50:`);
  for (const arm of arms) {
    const s = samples.get(arm.name)!;
    const first = arm.probe ? `first line ${rat(pct(s.first, 50), pct(base.first, 50))}, ` : "";
    console.log(`  ${arm.name.padEnd(w)} ${first}exit ${rat(pct(s.exit, 50), pct(base.exit, 50))} (p99 ${rat(pct(s.exit, 99), pct(base.exit, 99))}), CPU ${rat(pct(s.cpu, 50), pct(base.cpu, 50))}`);
  }
  console.log(`absolutes, p50 (ms; "last→reaped": the program's last line until the bench reaped it; CPU by the 1st line: its getrusage there, mean (tick-sampled); faults: its getrusage at the first line and at its last):`);
  console.log(`  ${"".padEnd(w)}first  p99 |  exit  p99 | last→reaped | CPU all, by 1st usr+sys | minflt 1st last | RSS 1st MiB (after node:fs: anon file+shmem) | VmSize maps | threads 1st last`);
  for (const arm of arms) {
    const s = samples.get(arm.name)!;
    const q = (k: Series) => pct(s[k], 50);
    const snap = snaps.get(arm.name);
    const first = arm.probe ? `${f1(q("first")).padStart(5)} ${f1(pct(s.first, 99)).padStart(4)}` : " ".repeat(10);
    const probe = snap
      ? ` | ${f1(q("teardown")).padStart(11)} | ${f1(q("cpu")).padStart(7)}, ${f1(mean(s.user1)).padStart(6)}+${f1(mean(s.sys1)).padEnd(4)} | ${String(q("min1")).padStart(10)} ${String(q("min2")).padStart(4)} | ${f1(q("rss1")).padStart(11)} (${f1(snap.first.rssAnonKiB / 1024)} ${f1((snap.first.rssFileKiB + snap.first.rssShmemKiB) / 1024)}) | ${(snap.first.vmSizeKiB / 1048576).toFixed(2)} GiB ${snap.maps} | ${snap.first.threads} ${snap.last.threads}`
      : ` | ${" ".repeat(11)} | ${f1(q("cpu")).padStart(7)}`;
    console.log(`  ${arm.name.padEnd(w)}${first} | ${f1(q("exit")).padStart(5)} ${f1(pct(s.exit, 99)).padStart(4)}${probe}`);
  }
  const majors = arms.filter((a) => a.probe).map((a) => [a.name, samples.get(a.name)!.maj2.filter((n) => n > 0).length] as const).filter(([, n]) => n > 0);
  console.log(`  major faults: ${majors.length ? `runs with any, of ${ROUNDS}: ${majors.map(([name, n]) => `${name} ${n}`).join(", ")}` : "in no run (the binaries stay in the page cache)"}`);
  console.log(`system calls (strace -f, median of ${TRACES} runs; before the first line / in total):`);
  for (const arm of arms) {
    const s = sys.get(arm.name)!;
    console.log(`  ${arm.name.padEnd(w)} ${arm.probe ? `${s.before} / ` : ""}${s.total}`);
  }
  const kinds = [...sys.get("plain")!.byKind.entries()].sort((a, b) => b[1][1] - a[1][1]);
  console.log(`  plain, by kind (before / total): ${kinds.map(([k, [b, t]]) => `${k} ${b}/${t}`).join(", ")}`);
  if (perfWorks) {
    console.log(`perf stat (median of ${PERF_RUNS} runs each; software counters, whole process lifetime including exec):`);
    for (const arm of arms) {
      const v = (ev: string) => median(perf.get(arm.name)!.get(ev) ?? []);
      console.log(`  ${arm.name.padEnd(w)} task-clock ${f1(v("task-clock"))} ms, page-faults ${v("page-faults")} (major ${v("major-faults")}), context-switches ${v("context-switches")}, migrations ${v("cpu-migrations")}`);
    }
  } else console.log(`perf stat: not run (${PERF_RUNS === 0 ? "--perf-runs 0" : "perf missing or not permitted"})`);
  console.log(command("exec-floor", argv));
} finally {
  rmSync(dir, { recursive: true, force: true });
  if (shmDir) rmSync(shmDir, { recursive: true, force: true });
  // .build only if this run made it and it is empty again: anything else there is not ours.
  if (madeRepoBuild) {
    try {
      rmdirSync(repoBuild);
    } catch {}
  }
}
