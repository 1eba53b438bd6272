/**
 * memory: resident memory of each of the four services and of all
 * together, on one node of the local deployment, idle (warm pool, no pod) and with 110 pods
 * assigned (through the compiled aws-cni, as a runtime does). VmRSS from /proc/<pid>/status
 * and PSS from /proc/<pid>/smaps_rollup (RSS counts the Bun binary's shared pages once per
 * process; PSS splits them among every process mapping them, unrelated ones included). The
 * headline "together" figure is each service's private pages (USS) plus the shared pages
 * counted once (bench/lib/proc-memory.ts `together`): what the node pays. Baseline in the same run: four bare Bun processes
 * (`bun -e 'setInterval(()=>{},1e9)'`), the floor of any four-process Bun design.
 * Target: 100 MiB for all services together.
 *
 *   npm run bench -- memory [--pods 110] [--instance-type m5.4xlarge]
 */
import { SERVICE_ORDER, BUN, type LocalService } from "../deploy/local/node-services.ts";
import type { Attachment } from "../deploy/local/cni-runtime.ts";
import { BenchNode } from "./lib/node.ts";
import { PodSandboxes } from "./lib/pods.ts";
import { processComm, processMemory, together, type Memory } from "./lib/proc-memory.ts";
import { intFlag, strFlag } from "./lib/args.ts";
import { command, mib, requireRoot } from "./lib/stats.ts";

requireRoot("memory");
const argv = process.argv.slice(2);
const PODS = intFlag(argv, "pods", 110);
const INSTANCE = strFlag(argv, "instance-type", "m5.4xlarge");
const TARGET_KIB = 100 * 1024;
// Each service collects its garbage once quiet for 1 s (checked every 2 s, shared/service-gc.ts):
// 5 s after the last request every service has settled as an idle node's would.
const SETTLE_MS = 5000;

type Sample = Record<string, Memory>;
const total = (s: Sample, k: "rssKiB" | "pssKiB") => Object.values(s).reduce((a, m) => a + (m[k] ?? NaN), 0);

/** Three samples 500 ms apart; per process the median of each figure. */
async function sample(pids: Record<string, number>): Promise<Sample> {
  const runs: Sample[] = [];
  for (let i = 0; i < 3; i++) {
    runs.push(Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, processMemory(pid)])));
    await Bun.sleep(500);
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
  return Object.fromEntries(
    Object.keys(pids).map((k) => {
      const opt = (f: "pssKiB" | "ussKiB") => {
        const xs = runs.map((r) => r[k]![f]);
        return xs.every((x) => x !== undefined) ? med(xs as number[]) : undefined;
      };
      return [k, { rssKiB: med(runs.map((r) => r[k]!.rssKiB)), pssKiB: opt("pssKiB"), ussKiB: opt("ussKiB") }];
    }),
  );
}

function servicePids(node: BenchNode): Record<string, number> {
  const pids: Record<string, number> = {};
  for (const s of SERVICE_ORDER) {
    const pid = node.services.pid(s);
    if (pid === undefined) throw new Error(`${s}: not running`);
    const comm = processComm(pid);
    if (!comm.startsWith("bun")) throw new Error(`${s}: pid ${pid} runs ${comm}, not bun (a wrapper?)`);
    pids[s] = pid;
  }
  return pids;
}

const sandboxes = new PodSandboxes();
let node: BenchNode | undefined;
const floorProcs: Array<ReturnType<typeof Bun.spawn>> = [];
const held: Attachment[] = [];
const t0 = performance.now();
try {
  // Baseline floor: four idle Bun processes.
  for (let i = 0; i < 4; i++) floorProcs.push(Bun.spawn([BUN, "-e", "setInterval(()=>{},1e9)"], { stdout: "ignore", stderr: "ignore" }));
  await Bun.sleep(1000);
  const floor = await sample(Object.fromEntries(floorProcs.map((p, i) => [`bun #${i + 1}`, p.pid])));
  node = await BenchNode.start({ label: "memory", instanceType: INSTANCE, env: { MINIMUM_IP_TARGET: String(PODS), WARM_IP_TARGET: "10" } });
  await node.waitFree(PODS);
  await Bun.sleep(SETTLE_MS);
  const idle = await sample(servicePids(node));

  // 110 pods through the shim, 8 at a time.
  const rt = node.runtime("aws-cni", true);
  const spaces = Array.from({ length: PODS }, () => sandboxes.namespace());
  let failed = 0;
  for (let i = 0; i < PODS; i += 8) {
    await Promise.all(
      spaces.slice(i, i + 8).map(async (ns) => {
        const a = sandboxes.attachment(ns, "mem");
        held.push(a);
        await rt.add(a).catch(() => failed++);
      }),
    );
  }
  const assigned = (await node.assignments()).filter((a) => a.containerId.startsWith(`bench${process.pid}x`)).length;
  await Bun.sleep(SETTLE_MS);
  const loaded = await sample(servicePids(node));

  const floorT = together(Object.values(floor));
  const idleT = together(Object.values(idle));
  const loadT = together(Object.values(loaded));
  const [iR, iP, lR, lP] = [total(idle, "rssKiB"), total(idle, "pssKiB"), total(loaded, "rssKiB"), total(loaded, "pssKiB")];
  const r = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x` : "n/a");
  console.log(`memory: the four services of one ${INSTANCE} node, idle (warm pool) and with ${assigned} pods assigned`);
  console.log("ratios (together = private pages of each + shared pages once):");
  console.log(`  all services ÷ 100 MiB target:   idle ${r(idleT, TARGET_KIB)}, ${assigned} pods ${r(loadT, TARGET_KIB)} (target ≤ 1.00: ${loadT <= TARGET_KIB ? "met" : "NOT met"})`);
  console.log(`  all services ÷ 4 bare Bun floor: idle ${r(idleT, floorT)}, ${assigned} pods ${r(loadT, floorT)}`);
  console.log(`  ${assigned} pods ÷ idle:               ${r(loadT, idleT)}`);
  console.log("absolutes (RSS / PSS / USS = private):");
  const f = (m: Memory) => `${mib(m.rssKiB).padStart(9)} / ${mib(m.pssKiB ?? NaN).padStart(9)} / ${mib(m.ussKiB ?? NaN).padStart(9)}`;
  console.log(`  ${"".padEnd(14)} ${"idle".padEnd(33)}   ${assigned} pods`);
  for (const s of SERVICE_ORDER as readonly LocalService[]) console.log(`  ${s.padEnd(14)} ${f(idle[s]!)}   ${f(loaded[s]!)}`);
  console.log(`  ${"sum".padEnd(14)} ${mib(iR).padStart(9)} / ${mib(iP).padStart(9)} / ${"".padStart(9)}   ${mib(lR).padStart(9)} / ${mib(lP).padStart(9)}`);
  console.log(`  together       ${mib(idleT).padStart(9)}${"".padStart(24)}   ${mib(loadT).padStart(9)}`);
  console.log(`  4 bare Bun     one ${f(Object.values(floor)[0]!)}; together ${mib(floorT)}`);
  console.log(`errors: ${failed} failed ADDs`);
  console.log(`machine: ${navigator.hardwareConcurrency} CPUs, Bun ${Bun.version}; bench took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`command: ${command("memory", argv)}`);
} finally {
  for (const p of floorProcs) p.kill("SIGKILL");
  if (node) {
    const rt = node.runtime("aws-cni", true);
    for (let i = 0; i < held.length; i += 16) await Promise.all(held.slice(i, i + 16).map((a) => rt.del(a).catch(() => undefined)));
  }
  sandboxes.cleanup();
  await node?.stop();
}
