/**
 * policy-add: CNI ADD and DEL latency with NETWORK_POLICY_ENFORCING_MODE none, standard and
 * strict, side by side in one run. Three one-node m5.4xlarge deployments (the local
 * deployment, processes mode; standard and strict as `up --network-policy`, the agent
 * enforcing with its nftables engine), each holding `--held` pods wired through the compiled
 * shim; on the standard and strict nodes two PolicyEndpoints select each held pod (written
 * directly, the controller switched off), so every ADD's apply works against a full node.
 * Then `--pods` rounds: one new pod per node, the arms in a rotated order, ADD then DEL, each
 * timed as a runtime execs the shim. The new pods have no policy: standard leaves them open,
 * strict must deny them both ways before the ADD answers (both are their mode's default, so
 * the agent writes nothing: strict's table denies them by its catch-all). Target: standard
 * and strict ADD p50 within 1.10× of none. Also printed: the policy agent's call within the
 * enforcing arms' ADDs, and how long the ADD waited for it past the wiring and the
 * checkpoint write (addr-broker's /debug/cni-timings).
 * Needs root; removes what it made.
 *
 *   npm run bench -- policy-add [--held 100] [--pods 50]
 */
import type { Attachment, CniRuntime } from "../deploy/local/cni-runtime.ts";
import { intFlag } from "./lib/args.ts";
import { BenchNode } from "./lib/node.ts";
import { controllerEnabled, endpointFor, kubeOf, createNamespace, progress, putEndpoint, until } from "./lib/policy-cluster.ts";
import { PodSandboxes, timedAdd, timedDel, type Timed } from "./lib/pods.ts";
import { command, ms, ratio, requireRoot, summarize } from "./lib/stats.ts";
import { onInterrupt } from "./lib/interrupt.ts";

requireRoot("policy-add");
const argv = process.argv.slice(2);
const HELD = intFlag(argv, "held", 100);
const PODS = intFlag(argv, "pods", 50);

type Mode = "none" | "standard" | "strict";
const MODES: Mode[] = ["none", "standard", "strict"];
interface Arm {
  mode: Mode;
  node: BenchNode;
  rt: CniRuntime;
  add: Timed[];
  del: Timed[];
  /** Container ids of the timed ADDs. */
  ids: string[];
  errors: string[];
}

type Marks = Partial<Record<"shimSent" | "received" | "assigned" | "wired" | "durable" | "policy" | "answered", number>>;

/** addr-broker's marks of each of `ids`' successful ADDs (/debug/cni-timings: its journal holds the last 512 calls). */
async function addMarks(node: BenchNode, ids: Set<string>): Promise<Marks[]> {
  const t = await node.get<{ recent: Array<{ command: string; containerId: string; exitCode: number; at: Marks }> }>("addr-broker", "/debug/cni-timings");
  return t.recent.filter((r) => r.command === "ADD" && r.exitCode === 0 && ids.has(r.containerId)).map((r) => r.at);
}

/** net-config's own time of each of `ids`' wirings (its /debug recentOperations). */
async function netConfigWireMs(node: BenchNode, ids: Set<string>): Promise<number[]> {
  const ops = await node.get<{ recentOperations: Array<{ op: string; subject: string; ms: number; result: string }> }>("net-config", "/debug");
  return ops.recentOperations.filter((o) => o.op === "wire" && o.result === "ok" && ids.has(o.subject.split("/")[0]!)).map((o) => o.ms);
}

/** `to - from` of every ADD that has both marks. */
function stage(marks: Marks[], from: keyof Marks, to: keyof Marks): number[] {
  return marks.filter((m) => m[from] !== undefined && m[to] !== undefined).map((m) => m[to]! - m[from]!);
}

/**
 * The policy agent's call: `call`, from the assignment (where it starts, beside the wiring and
 * the write) to the agent's answer; `past`, how long the ADD waited for it after the wiring
 * and the write were done (0 when it answered first).
 */
function agentCallMs(marks: Marks[]): { call: number[]; past: number[] } {
  const full = marks.filter((a) => a.assigned !== undefined && a.policy !== undefined && a.wired !== undefined && a.durable !== undefined);
  return { call: full.map((a) => a.policy! - a.assigned!), past: full.map((a) => Math.max(0, a.policy! - Math.max(a.wired!, a.durable!))) };
}

const sandboxes = new PodSandboxes();
const nodes: BenchNode[] = [];
const started = performance.now();
const cleanup = async () => {
  for (const n of nodes.splice(0)) await n.stop().catch((err) => console.error(`stopping a deployment: ${(err as Error).message}`));
  sandboxes.cleanup();
};
onInterrupt(cleanup);
try {
  const env = { MINIMUM_IP_TARGET: String(HELD + 4), WARM_IP_TARGET: "4", IP_COOLDOWN_PERIOD: "0" };
  const arms: Arm[] = [];
  for (const mode of MODES) {
    const node = await BenchNode.start({ label: `policy-add-${mode}`, instanceType: "m5.4xlarge", env, ...(mode === "none" ? {} : { networkPolicy: mode }) });
    nodes.push(node);
    arms.push({ mode, node, rt: node.runtime("aws-cni", true), add: [], del: [], ids: [], errors: [] });
  }
  // the held pods, and on the enforcing nodes two PolicyEndpoints selecting each
  for (const arm of arms) {
    progress(`${arm.mode}: ${HELD} pods`);
    const rest = kubeOf(arm.node);
    await arm.node.waitFree(Math.min(HELD, 32), 120_000);
    const held: Attachment[] = [];
    for (let k = 0; k < HELD; k++) {
      await arm.node.waitFree(1, 60_000);
      const a = sandboxes.attachment(sandboxes.namespace(), `held${arm.mode}`);
      await arm.rt.add(a);
      held.push(a);
    }
    if (arm.mode === "none") continue;
    await controllerEnabled(rest, false);
    await createNamespace(rest);
    const assigned = new Map((await arm.node.assignments()).map((x) => [x.containerId, x.address]));
    for (const [k, a] of held.entries()) {
      const pod = { name: a.args!.K8S_POD_NAME!, node: 0, ip: assigned.get(a.containerId)!, hostIP: arm.node.node.primaryIp };
      for (const j of [0, 1]) {
        await putEndpoint(rest, endpointFor(`held-${k}-${j}`, pod, `10.${200 + j}.${k >> 8}.${k & 255}/32`, 8000 + j));
      }
    }
    await until(`the ${arm.mode} agent holds ${2 * HELD} PolicyEndpoints`, 120_000, async () => {
      const d = await arm.node.get<{ policyEndpoints: unknown[]; lastApply?: { at: number } }>("policy-agent", "/debug");
      return d.policyEndpoints.length === 2 * HELD && Date.now() - (d.lastApply?.at ?? 0) > 2_000 ? true : undefined;
    });
  }
  progress("timed rounds");
  const spaces = new Map(arms.map((a) => [a.mode, sandboxes.namespace()]));
  for (let r = 0; r < PODS + 3; r++) {
    const order = arms.map((_, i) => arms[(i + r) % arms.length]!);
    for (const arm of order) {
      await arm.node.waitFree(1, 30_000);
      const a = sandboxes.attachment(spaces.get(arm.mode)!, `new${arm.mode}`);
      const add = await timedAdd(arm.rt, a);
      const del = await timedDel(arm.rt, a);
      if (r < 3) continue; // warm-up
      arm.add.push(add);
      arm.del.push(del);
      arm.ids.push(a.containerId);
      if (add.error) arm.errors.push(`ADD: ${add.error}`);
      if (del.error) arm.errors.push(`DEL: ${del.error}`);
    }
  }
  const ok = (ts: Timed[]) => ts.filter((t) => !t.error).map((t) => t.ms);
  const s = Object.fromEntries(arms.map((a) => [a.mode, { add: summarize(ok(a.add)), del: summarize(ok(a.del)) }])) as Record<Mode, { add: ReturnType<typeof summarize>; del: ReturnType<typeof summarize> }>;
  for (const m of ["standard", "strict"] as const) {
    console.log(`${m} ÷ none: ADD p50 ${ratio(s[m].add.p50, s.none.add.p50, 1.1)}, p99 ${ratio(s[m].add.p99, s.none.add.p99)}; DEL p50 ${ratio(s[m].del.p50, s.none.del.p50)}`);
  }
  const load = (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ");
  console.log(`\n${HELD} pods held per node (${2 * HELD} PolicyEndpoints selecting them on the enforcing nodes), ${PODS} new pods per arm, arms rotated; load average ${load}`);
  for (const a of arms) {
    console.log(`  ${a.mode.padEnd(9)} ADD p50 ${ms(s[a.mode].add.p50).padStart(9)} p99 ${ms(s[a.mode].add.p99).padStart(9)}   DEL p50 ${ms(s[a.mode].del.p50).padStart(9)} p99 ${ms(s[a.mode].del.p99).padStart(9)}${a.errors.length ? `   errors: ${a.errors.length} (${a.errors[0]})` : ""}`);
  }
  // addr-broker's stages of the timed ADDs (its journal holds the last 512 calls: every round's ADD and DEL)
  for (const a of arms) {
    const marks = await addMarks(a.node, new Set(a.ids));
    const p50 = (xs: number[]) => ms(summarize(xs).p50);
    console.log(`  ${a.mode.padEnd(9)} stages p50: shim → addr-broker ${p50(stage(marks, "shimSent", "received"))}, addr-broker received → answered ${p50(stage(marks, "received", "answered"))} (assignment ${p50(stage(marks, "received", "assigned"))}, then wiring ${p50(stage(marks, "assigned", "wired"))} of which net-config's own work ${p50(await netConfigWireMs(a.node, new Set(a.ids)))}, write ${p50(stage(marks, "assigned", "durable"))})`);
    if (a.mode === "none") continue;
    const t = agentCallMs(marks);
    const call = summarize(t.call);
    const past = summarize(t.past);
    console.log(`  ${a.mode.padEnd(9)} the policy agent's call: p50 ${ms(call.p50)}, p99 ${ms(call.p99)} from the assignment; the ADD's wait for it past the wiring and the write p50 ${ms(past.p50)}, p99 ${ms(past.p99)} (n=${call.n})`);
  }
  console.log(`\n(${((performance.now() - started) / 1000).toFixed(0)} s) ${command("policy-add", argv)}`);
} finally {
  await cleanup();
}
process.exit(0);
