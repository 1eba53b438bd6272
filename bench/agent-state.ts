/**
 * agent-state: the policy agent's own state and per-apply work, in process, without a
 * kernel. 110 local pods and 200 PolicyEndpoints each selecting all of them (the memory
 * bench's policies, bench/lib/policy-endpoints.ts), parsed as the watch parses them, put one
 * at a time, each followed by one apply through the engine's compile step (what the nft
 * engine does before writing: compile with its cache, a digest per pod); then 20 applies with
 * nothing changed. Each arm runs in a fresh process, side by side in one run:
 * - `legacy`: every PolicyEndpoint kept as parsed, the whole node resolved again on every
 *   apply (resolve.ts's resolveNode): the agent before the incremental resolver;
 * - `compact`: the agent's store (core/endpoint-store.ts), still resolved whole each time;
 * - `agent`: the PolicyAgent itself (its store and its cached resolver, core/resolve-cache.ts);
 * - `nft` (as root only): the PolicyAgent with the real nftables engine, programming a scratch
 *   network namespace of its own (removed after): what the engine's kernel work adds.
 * Reported per arm: private pages (USS) and anonymous memory (/proc/self/smaps_rollup; USS also
 * counts the Bun binary's pages no other process maps, anonymous does not) and JS heap after
 * a full collection, the peak resident size, and the time of the applies.
 *
 *   npm run bench -- agent-state [--pods 110] [--policies 200] [--rounds 3]
 */
import { readFileSync } from "node:fs";
import { heapStats } from "bun:jsc";
import { policyEndpoint as policyEndpointSchema, type NodePolicyState, type PolicyEndpoint } from "../shared/contracts/policy.ts";
import { hostVethName } from "../shared/naming.ts";
import { PolicyAgent } from "../services/policy-agent/src/app/agent.ts";
import { createNftEngine } from "../services/policy-agent/src/engine/nft-engine.ts";
import { EndpointStore } from "../services/policy-agent/src/core/endpoint-store.ts";
import { resolveNode, type LocalPod } from "../services/policy-agent/src/core/resolve.ts";
import { compileStateCached, podDigest, type CompiledPod, type NodeModel } from "../services/policy-agent/src/engine/model.ts";
import type { ApplyReport, PolicyEngine } from "../services/policy-agent/src/engine/engine.ts";
import { intFlag, strFlag } from "./lib/args.ts";
import { policyEndpoint } from "./lib/policy-endpoints.ts";

const argv = process.argv.slice(2);
const PODS = intFlag(argv, "pods", 110);
const POLICIES = intFlag(argv, "policies", 200);
const ROUNDS = intFlag(argv, "rounds", 3);
const ARMS = ["legacy", "compact", "agent", "nft"] as const;
const isRoot = process.getuid?.() === 0;
type Arm = (typeof ARMS)[number];
const NODE_IP = "10.0.0.10";
const MiB = 1024 * 1024;

/** The nft engine's work before the kernel: compile against its cache, digest every pod, keep the model. */
class CompileEngine implements PolicyEngine {
  private cache = new Map<string, CompiledPod>();
  last: NodeModel | undefined;
  async apply(state: NodePolicyState): Promise<ApplyReport> {
    const { model, cache } = compileStateCached(state, this.cache);
    for (const p of model.pods) podDigest(p);
    this.cache = cache;
    this.last = model;
    return { changedPods: [], removedPods: [], durationMs: 0 };
  }
  async programmed() {
    return [];
  }
  async removeAll() {}
}

function pages(): { uss: number; anon: number } {
  const text = readFileSync("/proc/self/smaps_rollup", "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0);
  return { uss: ((kb("Private_Clean") + kb("Private_Dirty")) * 1024) / MiB, anon: (kb("Anonymous") * 1024) / MiB };
}

/** The nft arm programs a scratch network namespace of its own, removed whatever happens. */
async function runArm(arm: Arm): Promise<object> {
  if (arm !== "nft") return measureArm(arm);
  const netns = `agentstate${process.pid}`;
  if (Bun.spawnSync(["ip", "netns", "add", netns]).exitCode !== 0) throw new Error(`ip netns add ${netns} failed`);
  const nft = createNftEngine({ netns, log: { info() {}, warn() {}, debug() {} } });
  try {
    return await measureArm(arm, nft);
  } finally {
    nft.close();
    await nft.removeAll().catch(() => undefined);
    Bun.spawnSync(["ip", "netns", "del", netns]);
  }
}

async function measureArm(arm: Arm, nft?: PolicyEngine): Promise<object> {
  const pods: LocalPod[] = Array.from({ length: PODS }, (_, i) => ({
    namespace: "bench",
    name: `pod-${i}`,
    hostVeth: hostVethName("eni", { namespace: "bench", name: `pod-${i}`, containerId: `c${i}`, ifName: "eth0" }),
    addresses: [`10.1.${i >> 8}.${i & 255}`],
  }));
  const selected = pods.map((p) => ({ namespace: p.namespace, name: p.name, ip: p.addresses[0]! }));
  // as the watch hands them over: JSON text parsed, then the contract's schema
  const parsed = (k: number): PolicyEndpoint => policyEndpointSchema.parse(JSON.parse(JSON.stringify(policyEndpoint(k, "bench", selected, NODE_IP))));
  const compile = new CompileEngine();
  let put: (pe: PolicyEndpoint) => void;
  let apply: () => Promise<unknown>;
  const engine: PolicyEngine = nft ?? compile;
  if (arm === "agent" || arm === "nft") {
    const agent = new PolicyAgent({ engine, book: { location: "(memory)", load: () => [], save: () => {} }, mode: "standard", enabled: true, vethPrefix: "eni", log: { info() {}, warn() {}, error() {} } });
    for (const p of pods) agent.pods.upsert(p);
    agent.setNodeIps([NODE_IP]);
    put = (pe) => agent.putEndpoint(pe);
    apply = () => agent.requestApply();
  } else {
    const plain = new Map<string, PolicyEndpoint>();
    const store = new EndpointStore();
    put = arm === "legacy" ? (pe) => plain.set(`${pe.metadata.namespace}/${pe.metadata.name}`, pe) : (pe) => store.put(pe);
    apply = () => compile.apply(resolveNode(arm === "legacy" ? [...plain.values()] : store.list(), pods, [NODE_IP], "standard"));
  }
  await apply();
  Bun.gc(true);
  const idle = { ...pages(), heap: heapStats().heapSize / MiB };
  const t0 = performance.now();
  for (let k = 0; k < POLICIES; k++) {
    put(parsed(k));
    await apply();
  }
  const putMs = performance.now() - t0;
  const t1 = performance.now();
  for (let i = 0; i < 20; i++) await apply();
  const sameMs = (performance.now() - t1) / 20;
  Bun.gc(true);
  await Bun.sleep(100);
  Bun.gc(true);
  const after = pages();
  return { arm, idleUss: idle.uss, idleAnon: idle.anon, idleHeap: idle.heap, uss: after.uss, anon: after.anon, heap: heapStats().heapSize / MiB, peakRss: process.resourceUsage().maxRSS / 1024, putMs, sameMs };
}

const fmt = (n: number) => n.toFixed(1);

if (argv.includes("--arm")) {
  const arm = strFlag(argv, "arm", "agent", ARMS);
  console.log(JSON.stringify(await runArm(arm)));
  process.exit(0);
}

console.log(`agent-state: ${PODS} pods, ${POLICIES} PolicyEndpoints each selecting all of them, one apply per put; ${ROUNDS} rounds, each arm a fresh process (MiB, ms)`);
console.log("arm      | USS idle → after | anonymous idle → after | heap idle → after | peak RSS | 200 puts+applies | apply, nothing changed");
if (!isRoot) console.log("(not root: the nft arm is left out)");
const rows: Record<Arm, Array<Record<string, number>>> = { legacy: [], compact: [], agent: [], nft: [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const arm of ARMS) {
    if (arm === "nft" && !isRoot) continue;
    const proc = Bun.spawn([process.execPath, "run", import.meta.path, "--arm", arm, "--pods", String(PODS), "--policies", String(POLICIES)], { stdout: "pipe", stderr: "inherit", env: { ...process.env } });
    const out = await new Response(proc.stdout).text();
    if ((await proc.exited) !== 0) throw new Error(`arm ${arm} failed`);
    const row = JSON.parse(out.trim().split("\n").pop()!);
    rows[arm].push(row);
    console.log(`${arm.padEnd(8)} | ${fmt(row.idleUss)} → ${fmt(row.uss)} | ${fmt(row.idleAnon)} → ${fmt(row.anon)} | ${fmt(row.idleHeap)} → ${fmt(row.heap)} | ${fmt(row.peakRss)} | ${Math.round(row.putMs)} | ${fmt(row.sameMs)}`);
  }
}
