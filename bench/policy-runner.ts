/**
 * policy-runner: how the policy engine runs nft, side by side in one run. Each arm is the
 * engine with its own table in a network namespace of its own, holding a full node (`--pods`
 * pods × ~`--rules` rules each way + `--peers` peer addresses), then `--rounds` one-pod changes
 * (arms alternating, order swapped each round):
 *  - spawn: `nsenter … nft -f -` per transaction (main's runner);
 *  - in process: libnftables through bun:ffi, one persistent context (the default runner:
 *    transactions over 32 KiB — a first apply — spawn nft);
 *  - in process, new context per call: the same library, a context opened and freed around each
 *    transaction (does keeping the context skip nft's cache fetch between transactions?);
 *  - in process, everything: no size limit, the first apply of the whole node in process too.
 * Reported: each arm's one-pod transaction p50/p99, the first apply, the longest time the event
 * loop was blocked (a 10 ms timer's lateness) during the first apply and during the changes, and
 * this process's private memory (USS) before any context and after (all arms together: the
 * agent's own USS is policy-node's; a first apply in process leaves ~45 MiB more behind).
 * Needs root; removes its namespaces.
 *
 *   npm run bench -- policy-runner [--pods 110] [--rules 20] [--peers 100] [--rounds 40]
 */
import pino from "pino";
import { createNftEngine, type NftEngine } from "../services/policy-agent/src/engine/nft-engine.ts";
import { openNftContext } from "../services/policy-agent/src/engine/nft-lib.ts";
import { DEFAULT_SYNC_MAX_BYTES, nftRunner, spawnNftRunner, type NftRunner } from "../services/policy-agent/src/engine/nft-runner.ts";
import { intFlag } from "./lib/args.ts";
import { LoopLag } from "./lib/policy-stages.ts";
import { nodeState } from "./lib/policy-state.ts";
import { processMemory } from "./lib/proc-memory.ts";
import { command, mib, ms, ratio, requireRoot, summarize } from "./lib/stats.ts";

requireRoot("policy-runner");
const argv = process.argv.slice(2);
const PODS = intFlag(argv, "pods", 110);
const RULES = intFlag(argv, "rules", 20);
const PEERS = intFlag(argv, "peers", 100);
const ROUNDS = intFlag(argv, "rounds", 40);

/** A context per transaction (small ones), nft spawned for the rest. */
function freshContextRunner(netns: string): NftRunner {
  const spawned = spawnNftRunner(netns);
  return {
    async run(args, script) {
      if (args.join(" ") !== "-f -" || script === undefined || script.length > DEFAULT_SYNC_MAX_BYTES) return spawned.run(args, script);
      const ctx = openNftContext({ netns });
      try {
        const r = ctx.run(script);
        return { code: r.ok ? 0 : 1, out: r.out, err: r.err };
      } finally {
        ctx.free();
      }
    },
  };
}

interface Arm {
  name: string;
  runner: (ns: string) => NftRunner;
  ns: string;
  engine?: NftEngine;
  first: number;
  firstLag: number;
  changes: number[];
  changeLag: number[];
}

const sh = (args: string[]) => Bun.spawnSync(args, { stdout: "ignore", stderr: "ignore" }).exitCode;
const ussKiB = () => processMemory(process.pid).ussKiB ?? NaN;
const arms: Arm[] = [
  { name: "spawn (nft -f - per transaction)", runner: (ns: string) => spawnNftRunner(ns) },
  { name: "in process, persistent context", runner: (ns: string) => nftRunner(ns) },
  { name: "in process, new context per call", runner: freshContextRunner },
  { name: "in process, everything (no size limit)", runner: (ns: string) => nftRunner(ns, { syncMaxBytes: Number.POSITIVE_INFINITY }) },
].map((a, i) => ({ ...a, ns: `nprun${process.pid}x${i}`, first: NaN, firstLag: NaN, changes: [], changeLag: [] }));

const made: string[] = [];
try {
  for (const a of arms) {
    if (sh(["ip", "netns", "add", a.ns]) !== 0) throw new Error(`ip netns add ${a.ns} failed`);
    made.push(a.ns);
  }
  const state = nodeState(PODS, RULES, PEERS);
  Bun.gc(true);
  const ussBefore = ussKiB();
  for (const a of arms) a.engine = createNftEngine({ netns: a.ns, log: pino({ level: "silent" }), runner: a.runner(a.ns), verifyIntervalMs: 3_600_000 });
  Bun.gc(true);
  const ussContexts = ussKiB();
  for (const a of arms) {
    const lag = new LoopLag();
    const t = performance.now();
    const r = await a.engine!.apply(state);
    a.first = performance.now() - t;
    await Bun.sleep(25); // the timer late behind a blocking call fires now
    a.firstLag = Math.max(0, ...lag.stop());
    if (r.changedPods.length !== PODS) throw new Error(`${a.name}: the first apply wrote ${r.changedPods.length} pods`);
  }
  Bun.gc(true);
  const ussFull = ussKiB();
  let current = state;
  for (let round = 0; round < ROUNDS; round++) {
    const next = structuredClone(current);
    const pod = next.pods[(round * 7) % PODS]!;
    if (pod.egress.kind === "rules") pod.egress.rules[2]!.ports = [{ protocol: "TCP", port: 443 + round }];
    for (const a of round % 2 === 0 ? arms : [...arms].reverse()) {
      const lag = new LoopLag();
      const r = await a.engine!.apply(next);
      await Bun.sleep(25);
      a.changeLag.push(Math.max(0, ...lag.stop()));
      if (r.changedPods.length !== 1) throw new Error(`${a.name}: a one-pod change wrote ${r.changedPods.length} pods`);
      a.changes.push(r.durationMs);
    }
    current = next;
  }
  Bun.gc(true);
  const ussAfter = ussKiB();
  const load = (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ");
  const [spawn, persistent, fresh] = arms.map((a) => summarize(a.changes));
  console.log(`one-pod transaction, in process ÷ spawn: p50 ${ratio(persistent!.p50, spawn!.p50)}, p99 ${ratio(persistent!.p99, spawn!.p99)}`);
  console.log(`persistent ÷ new context per call: p50 ${ratio(persistent!.p50, fresh!.p50)}, p99 ${ratio(persistent!.p99, fresh!.p99)}`);
  console.log(`\n${PODS} pods, ${RULES} own rules per direction + ${PEERS} peer addresses on ingress; ${ROUNDS} one-pod changes per arm; load average ${load}`);
  for (const a of arms) {
    const s = summarize(a.changes);
    console.log(`  ${a.name.padEnd(42)} one pod: p50 ${ms(s.p50).padStart(9)} p99 ${ms(s.p99).padStart(9)} (event loop blocked ≤ ${ms(Math.max(...a.changeLag))})  first apply ${ms(a.first)} (event loop blocked ≤ ${ms(a.firstLag)})`);
  }
  console.log(`  this process's USS: before any context ${mib(ussBefore)}, with the ${arms.length} engines ${mib(ussContexts)}, after the first applies ${mib(ussFull)}, at the end ${mib(ussAfter)}`);
  for (const a of arms) {
    await a.engine!.removeAll();
    a.engine!.close();
  }
  console.log(`\n${command("policy-runner", argv)}`);
} finally {
  for (const ns of made) sh(["ip", "netns", "del", ns]);
}
process.exit(0);
