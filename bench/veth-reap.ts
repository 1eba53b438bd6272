/**
 * veth-reap: deleting retired pod veths off net-config's request path (a DEL burst of 64
 * pods leaves 64 to delete). net-config's VethReaper hands every link queued by then to one
 * `ip -force -batch -` child, whose first line deletes the retired links' group in one request
 * (the links are made in that group, as unwire's retire puts them); the baseline, side by side in the same run, is what it did
 * before: one `ip link del dev <link>` child per link, two at a time. Measured: wall time
 * until every link is gone, and the CPU it cost (this process and its children, from
 * /proc/self/stat) — CPU the node's next DELs and ADDs compete for. Rounds alternate.
 * Needs root; works in a namespace of its own and removes it.
 *
 *   npm run bench -- veth-reap [--links 64] [--rounds 5]
 */
import { readFileSync } from "node:fs";
import { RETIRED_GROUP, VethReaper } from "../services/net-config/src/adapters/veth-reaper.ts";
import { intFlag } from "./lib/args.ts";
import { command, ratio, requireRoot, summarize } from "./lib/stats.ts";

requireRoot("veth-reap");
const argv = process.argv.slice(2);
const LINKS = intFlag(argv, "links", 64);
const ROUNDS = intFlag(argv, "rounds", 5);
const ns = `vethreap${process.pid}`;

function ip(args: string[], stdin?: string): void {
  const p = Bun.spawnSync(["ip", ...args], { stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin), stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`ip ${args.join(" ")}: ${p.stderr.toString().trim()}`);
}

/** CPU seconds of this process plus its waited-for children (utime, stime, cutime, cstime). */
function cpuSeconds(): number {
  const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1]!.split(" ");
  // After "pid (comm) ": state is field 3, so utime..cstime (fields 14–17) sit at 11–14.
  const ticks = [11, 12, 13, 14].reduce((s, i) => s + Number(fields[i]), 0);
  return ticks / 100;
}

/** The baseline: one `ip link del` child per link, `concurrency` at a time. */
async function perLink(links: string[], concurrency = 2): Promise<void> {
  const queue = [...links];
  const worker = async () => {
    for (let link = queue.shift(); link !== undefined; link = queue.shift()) {
      const p = Bun.spawn(["ip", "-n", ns, "link", "del", "dev", link], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
      const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
      if (code !== 0) throw new Error(`ip link del ${link}: ${err.trim()}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

function leftover(): number {
  const p = Bun.spawnSync(["ip", "-n", ns, "-o", "link", "show"]);
  return p.stdout.toString().split("\n").filter((l) => l.includes("awsdel")).length;
}

const result = { reaper: { ms: [] as number[], cpu: [] as number[] }, "per-link": { ms: [] as number[], cpu: [] as number[] } };
let failures = 0;
ip(["netns", "add", ns]);
try {
  const reaper = new VethReaper({ command: ["ip", "-n", ns, "-force", "-batch", "-"] });
  for (let r = 0; r < ROUNDS; r++) {
    for (const arm of (r % 2 ? ["per-link", "reaper"] : ["reaper", "per-link"]) as Array<keyof typeof result>) {
      const links = Array.from({ length: LINKS }, () => reaper.retiredName());
      ip(["-n", ns, "-batch", "-"], links.map((l, i) => `link add ${l} group ${RETIRED_GROUP} type veth peer name vrp${i}\n`).join(""));
      const cpu0 = cpuSeconds();
      const t0 = performance.now();
      if (arm === "reaper") {
        for (const l of links) reaper.enqueue(l);
        await reaper.idle();
      } else {
        await perLink(links);
      }
      result[arm].ms.push(performance.now() - t0);
      result[arm].cpu.push(cpuSeconds() - cpu0);
      if (leftover() !== 0) throw new Error(`${arm}: ${leftover()} retired links left`);
    }
  }
  failures = reaper.failures.length;
} finally {
  ip(["netns", "del", ns]);
}

const s = (arm: keyof typeof result) => ({ ms: summarize(result[arm].ms), cpu: summarize(result[arm].cpu) });
const [ours, base] = [s("reaper"), s("per-link")];
console.log(`veth-reap: ${LINKS} retired veths deleted, ${ROUNDS} rounds per arm, alternating`);
console.log("ratios (reaper: one ip -batch child ÷ one ip child per link, two at a time):");
console.log(`  time until all are gone p50  ${ratio(ours.ms.p50, base.ms.p50)}`);
console.log(`  CPU (with children) mean     ${ratio(ours.cpu.mean, base.cpu.mean)}`);
console.log("absolutes:");
console.log(`  reaper    p50 ${ours.ms.p50.toFixed(0)} ms, CPU ${(ours.cpu.mean * 1000).toFixed(0)} ms per ${LINKS} links`);
console.log(`  per-link  p50 ${base.ms.p50.toFixed(0)} ms, CPU ${(base.cpu.mean * 1000).toFixed(0)} ms per ${LINKS} links`);
console.log(`reaper failures: ${failures}`);
console.log(`command: ${command("veth-reap", argv)}`);
