/**
 * Where one CNI call's time goes, stage by stage, measured inside a run: the bench's own
 * exec window of each call (spawn → exit), joined by container id with addr-broker's
 * /debug/cni-timings (the shim's first line and send, then addr-broker's stages) and
 * net-config's /debug recentOperations (its own time for the wiring). All moments are
 * wall-clock milliseconds of this machine (performance.timeOrigin + performance.now() in
 * every process), so differences across processes are meaningful to ~0.01 ms.
 */
import type { BenchNode } from "./node.ts";
import { summarize, type Summary } from "./stats.ts";

type Command = "ADD" | "DEL";
type Marks = Partial<Record<"shimStarted" | "shimSent" | "received" | "assigned" | "durable" | "wired" | "unwired" | "policy" | "answered", number>>;

interface Window {
  spawnAt: number;
  exitAt: number;
}

/** A stage: its label and how it is computed from one call's moments (undefined when a moment is missing). */
interface Stage {
  label: string;
  of: (m: Marks, w: Window, netConfigMs: number | undefined) => number | undefined;
}

const diff = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : b - a);

const COMMON_HEAD: Stage[] = [
  { label: "exec → shim's first line (runtime, ip netns exec, Bun start-up)", of: (m, w) => diff(w.spawnAt, m.shimStarted) },
  { label: "shim: stdin, config, netns check", of: (m) => diff(m.shimStarted, m.shimSent) },
  { label: "request in flight (connect, HTTP, validation)", of: (m) => diff(m.shimSent, m.received) },
];
const COMMON_TAIL: Stage[] = [
  { label: "answer back, shim prints and exits", of: (m, w) => diff(m.answered, w.exitAt) },
  { label: "total (spawn → exit)", of: (_m, w) => w.exitAt - w.spawnAt },
];

export const STAGES: Record<Command, Stage[]> = {
  ADD: [
    ...COMMON_HEAD,
    { label: "assignment (parse, lock, pick)", of: (m) => diff(m.received, m.assigned) },
    { label: "checkpoint write (from assignment)", of: (m) => diff(m.assigned, m.durable) },
    { label: "net-config wiring, round trip (from assignment)", of: (m) => diff(m.assigned, m.wired) },
    { label: "  of which net-config's own work", of: (_m, _w, n) => n },
    {
      label: "  of which the hop (both ways, HTTP, validation)",
      of: (m, _w, n) => {
        const trip = diff(m.assigned, m.wired);
        return trip === undefined || n === undefined ? undefined : trip - n;
      },
    },
    { label: "the write beyond the wiring (what the write adds)", of: (m) => (m.durable === undefined || m.wired === undefined ? undefined : Math.max(0, m.durable - m.wired)) },
    { label: "after both: result, plugin log", of: (m) => (m.durable === undefined || m.wired === undefined ? undefined : diff(Math.max(m.durable, m.wired), m.answered)) },
    { label: "  of which the wait for the policy agent (--policy-mode standard/strict; its call starts beside the wiring)", of: (m) => (m.policy === undefined || m.wired === undefined || m.durable === undefined ? undefined : Math.max(0, m.policy - Math.max(m.durable, m.wired))) },
    ...COMMON_TAIL,
  ],
  DEL: [
    ...COMMON_HEAD,
    { label: "net-config unwiring, round trip (from received)", of: (m) => diff(m.received, m.unwired) },
    { label: "  of which net-config's own work", of: (_m, _w, n) => n },
    { label: "release + checkpoint write (from received; beside the unwiring)", of: (m) => diff(m.received, m.durable) },
    { label: "after both: plugin log", of: (m) => (m.durable === undefined || m.unwired === undefined ? undefined : diff(Math.max(m.durable, m.unwired), m.answered)) },
    ...COMMON_TAIL,
  ],
};

export class CniStages {
  private readonly windows = new Map<string, Window>();
  private readonly marks = new Map<string, Marks>();
  private readonly netConfigMs = new Map<string, number>();

  /** One timed call of the arm being broken down; `startAt` is performance.now() at spawn. */
  window(command: Command, containerId: string, startAt: number, ms: number): void {
    const spawnAt = performance.timeOrigin + startAt;
    this.windows.set(`${command}/${containerId}`, { spawnAt, exitAt: spawnAt + ms });
  }

  /** Reads both services' recent records; call often enough that their bounded journals have not dropped any. */
  async collect(node: BenchNode): Promise<void> {
    const timings = await node.get<{ recent: Array<{ command: string; containerId: string; exitCode: number; at: Marks }> }>("addr-broker", "/debug/cni-timings");
    for (const t of timings.recent) if (t.exitCode === 0) this.marks.set(`${t.command}/${t.containerId}`, t.at);
    const ops = await node.get<{ recentOperations: Array<{ op: string; subject: string; ms: number; result: string }> }>("net-config", "/debug");
    for (const o of ops.recentOperations) {
      if (o.result !== "ok" || (o.op !== "wire" && o.op !== "unwire")) continue;
      this.netConfigMs.set(`${o.op === "wire" ? "ADD" : "DEL"}/${o.subject.split("/")[0]}`, o.ms);
    }
  }

  /** p50/p99 of each stage over the calls with every moment recorded; `n` calls, `missing` without. */
  summary(command: Command): { n: number; missing: number; rows: Array<{ label: string; s: Summary }> } {
    const calls: Array<{ m: Marks; w: Window; net: number | undefined }> = [];
    let missing = 0;
    for (const [key, w] of this.windows) {
      if (!key.startsWith(`${command}/`)) continue;
      const m = this.marks.get(key);
      if (!m) missing++;
      else calls.push({ m, w, net: this.netConfigMs.get(key) });
    }
    const rows = STAGES[command].map((st) => ({ label: st.label, s: summarize(calls.map((c) => st.of(c.m, c.w, c.net)).filter((x): x is number => x !== undefined)) }));
    return { n: calls.length, missing, rows };
  }
}
