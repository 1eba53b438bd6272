/**
 * policy-apply: the policy agent's nftables engine programming a full node. 110 pods, each
 * with ~20 rules of its own per direction (ipBlocks with except, port ranges, DNS, IPv6)
 * plus 200 peer-pod addresses on ingress (a namespace selector's pods). Measured per round:
 * the first apply (empty table: every pod written), an apply with nothing changed (read
 * back, compare, refill the skeleton), an apply where one pod changed, and programmed()
 * (read back and decode); and an apply that reads the table back first and finds nothing
 * to do (the work of the engine's background read-back, every 10 s by default). Baseline, in the same round: rewriting every pod (the table
 * removed first), which is what a non-incremental engine does on every change.
 * Needs root; works in a namespace of its own and removes it.
 *
 *   npm run bench -- policy-apply [--pods 110] [--rules 20] [--peers 200] [--rounds 5]
 */
import pino from "pino";
import { createNftEngine } from "../services/policy-agent/src/engine/nft-engine.ts";
import { intFlag } from "./lib/args.ts";
import { nodeState } from "./lib/policy-state.ts";
import { command, ms, ratio, requireRoot, summarize } from "./lib/stats.ts";

requireRoot("policy-apply");
const argv = process.argv.slice(2);
const PODS = intFlag(argv, "pods", 110);
const RULES = intFlag(argv, "rules", 20);
const PEERS = intFlag(argv, "peers", 200);
const ROUNDS = intFlag(argv, "rounds", 5);
const ns = `npbench${process.pid}`;

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const v = await fn();
  return [performance.now() - t, v];
}

const run = (args: string[]) => Bun.spawnSync(args, { stdout: "ignore", stderr: "ignore" }).exitCode;
if (run(["ip", "netns", "add", ns]) !== 0) throw new Error(`ip netns add ${ns} failed`);
try {
  // No background read-back during the timed phases (it would run beside them); the verifying engine reads back on every apply.
  const engine = createNftEngine({ netns: ns, log: pino({ level: "silent" }), verifyIntervalMs: 3_600_000 });
  const verifying = createNftEngine({ netns: ns, log: pino({ level: "silent" }), verifyIntervalMs: 0 });
  const s = nodeState(PODS, RULES, PEERS);
  const rows = { first: [] as number[], firstTx: [] as number[], unchanged: [] as number[], verified: [] as number[], onePod: [] as number[], onePodTx: [] as number[], programmed: [] as number[] };
  let kernelRules = 0;
  for (let round = 0; round < ROUNDS; round++) {
    await engine.removeAll();
    const [first, r1] = await timed(() => engine.apply(s));
    if (r1.changedPods.length !== PODS) throw new Error(`first apply wrote ${r1.changedPods.length} pods`);
    rows.first.push(first);
    rows.firstTx.push(r1.durationMs);
    const [same, r2] = await timed(() => engine.apply(s));
    if (r2.changedPods.length !== 0) throw new Error("unchanged apply rewrote pods");
    rows.unchanged.push(same);
    const [checked, rv] = await timed(() => verifying.apply(s));
    if (rv.changedPods.length !== 0) throw new Error("read-back apply rewrote pods");
    rows.verified.push(checked);
    const changed = structuredClone(s);
    const pod = changed.pods[round % PODS]!;
    if (pod.egress.kind === "rules") pod.egress.rules[2]!.ports = [{ protocol: "TCP", port: 443 + round }];
    const [one, r3] = await timed(() => engine.apply(changed));
    if (r3.changedPods.length !== 1) throw new Error(`one-pod change rewrote ${r3.changedPods.length}`);
    rows.onePod.push(one);
    rows.onePodTx.push(r3.durationMs);
    const [read, back] = await timed(() => engine.programmed());
    if (back.length !== PODS) throw new Error(`programmed() read ${back.length} pods`);
    rows.programmed.push(read);
    kernelRules = Bun.spawnSync(["ip", "netns", "exec", ns, "nft", "list", "table", "inet", engine.table]).stdout.toString().split("\n").filter((l) => / (accept|drop)$/.test(l)).length;
  }
  await engine.removeAll();
  engine.close();
  const p50 = (xs: number[]) => summarize(xs).p50;
  console.log(`one-pod change vs rewriting every pod: ${ratio(p50(rows.onePod), p50(rows.first))}`);
  console.log(`nothing changed vs rewriting every pod: ${ratio(p50(rows.unchanged), p50(rows.first))}`);
  console.log(`\n${PODS} pods, ${RULES} own rules per direction + ${PEERS} peer addresses on ingress; ${kernelRules} kernel rules in the table; p50 (max) over ${ROUNDS} rounds`);
  const line = (name: string, xs: number[]) => console.log(`  ${name.padEnd(40)} ${ms(p50(xs))} (${ms(summarize(xs).max)})`);
  line("first apply (every pod written)", rows.first);
  line("  of which the nft transaction", rows.firstTx);
  line("apply, nothing changed", rows.unchanged);
  line("apply with read-back, nothing changed", rows.verified);
  line("apply, one pod changed", rows.onePod);
  line("  of which the nft transaction", rows.onePodTx);
  line("programmed() (read back, decode)", rows.programmed);
  console.log(`\n${command("policy-apply", argv)}`);
} finally {
  run(["ip", "netns", "del", ns]);
}
