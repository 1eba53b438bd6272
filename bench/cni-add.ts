/**
 * cni-add: CNI ADD and DEL latency through the whole path — the compiled
 * aws-cni shim exec'd as a runtime does (deploy/local/cni-runtime.ts) → addr-broker →
 * net-config → kernel — on one node of the local deployment whose pool is warm (checked
 * before each timed phase, so no ADD waits for EC2). Baseline in the same run: Debian's ptp
 * plugin with host-local IPAM wiring equivalent pods (bench/lib/ptp.ts).
 *
 * Both plugins are exec'd under `ip netns exec <node ns>`: ptp must run in the namespace it
 * configures (a dedicated node-like namespace, never the root one), and a kubelet execs the
 * aws-cni inside the node's namespace too. The shim itself only talks to a Unix socket, so
 * a third arm execs it directly from the root namespace to show what the wrapper costs. A
 * fourth, the floor, is a compiled Bun plugin (built as the shim is) that answers without
 * doing anything, exec'd like the shim: what the exec'd Bun process alone costs.
 * Arms alternate pod by pod so machine noise hits them alike. The conflist holds the
 * aws-cni plugin alone for the comparison; the full rendered chain (+ portmap, pods without
 * hostPorts) is reported separately against ptp + portmap.
 *
 *   npm run bench -- cni-add [--pods 200] [--batch 50] [--chain-pods 50] [--instance-type m5.4xlarge] [--cooldown 1] [--policy-mode none] [--keep-logs DIR]
 *
 * --policy-mode is NETWORK_POLICY_ENFORCING_MODE (none, standard, strict): with standard or
 * strict every ADD and DEL also calls the node's policy agent (the cost of that call).
 *
 * --cooldown is IP_COOLDOWN_PERIOD in seconds: 1 by default so freed addresses come back between
 * batches; at 30 (upstream's default) the batches wait for cooling addresses (the pool is
 * capped by max pods). A DEL writes its release while net-config unwires at any cooldown.
 *
 * --keep-logs copies the node's service logs to DIR before the deployment is removed (to read
 * why an ADD failed); nothing else is kept.
 */
import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CniRuntime, type Attachment } from "../deploy/local/cni-runtime.ts";
import { BenchNode } from "./lib/node.ts";
import { PodSandboxes, timedAdd, timedDel, type Timed } from "./lib/pods.ts";
import { ptpAvailable, ptpRuntime } from "./lib/ptp.ts";
import { CniStages } from "./lib/cni-stages.ts";
import { buildFloorPlugin, FLOOR_PLUGIN_TYPE } from "./lib/floor-plugin.ts";
import { intFlag, strFlag } from "./lib/args.ts";
import { command, ms, ratio, requireRoot, summarize } from "./lib/stats.ts";

requireRoot("cni-add");
if (!ptpAvailable()) {
  console.error("cni-add needs Debian's containernetworking-plugins (/usr/lib/cni/ptp, host-local)");
  process.exit(1);
}
const argv = process.argv.slice(2);
const PODS = intFlag(argv, "pods", 200);
const BATCH = Math.min(intFlag(argv, "batch", 50), PODS);
const CHAIN_PODS = intFlag(argv, "chain-pods", 50, 0);
const INSTANCE = strFlag(argv, "instance-type", "m5.4xlarge");
const KEEP_LOGS = strFlag(argv, "keep-logs", "");
const COOLDOWN = intFlag(argv, "cooldown", 1, 0);
const POLICY_MODE = strFlag(argv, "policy-mode", "none");
if (!["none", "standard", "strict"].includes(POLICY_MODE)) {
  console.error(`--policy-mode: none, standard or strict; got ${JSON.stringify(POLICY_MODE)}`);
  process.exit(2);
}
const PARALLEL = [32, 64];
const PARALLEL_ROUNDS = 2;

type ArmName = "aws-cni" | "ptp" | "aws-cni direct" | "bun floor" | "aws-cni chain" | "ptp chain";
interface Arm {
  rt: CniRuntime;
  add: Timed[];
  del: Timed[];
  errors: string[];
}

const sandboxes = new PodSandboxes();
const tmp = mkdtempSync(join(tmpdir(), "bench-cni-add-ptp-"));
let node: BenchNode | undefined;
const t0 = performance.now();
try {
  // The pool: capped by max pods (110 on a 4xlarge); the bench holds at most 2×batch or 64 pods at a time.
  node = await BenchNode.start({ label: "cni-add", instanceType: INSTANCE, env: { MINIMUM_IP_TARGET: "110", WARM_IP_TARGET: "64", IP_COOLDOWN_PERIOD: String(COOLDOWN), NETWORK_POLICY_ENFORCING_MODE: POLICY_MODE } });
  const need = Math.max(2 * BATCH, ...PARALLEL);
  await node.waitFree(need);
  const ptpNode = sandboxes.nodeNamespace();
  // The floor of any exec'd Bun plugin: a binary built as the shim is, that reads its stdin and answers a
  // bare result without doing anything, exec'd the same way. No Bun shim can be faster than this arm.
  const floorBin = await buildFloorPlugin(tmp);
  const floorRt = new CniRuntime({ cniVersion: "1.0.0", name: "floor", plugins: [{ type: FLOOR_PLUGIN_TYPE }] }, { binDirs: [floorBin], cacheDir: join(tmp, "floor-cache"), execPrefix: ["ip", "netns", "exec", node.netns] });
  const arms: Record<ArmName, Arm> = {
    "aws-cni": { rt: node.runtime("aws-cni", true), add: [], del: [], errors: [] },
    ptp: { rt: ptpRuntime(ptpNode, join(tmp, "host-local"), join(tmp, "cache")), add: [], del: [], errors: [] },
    "aws-cni direct": { rt: node.runtime("aws-cni", false), add: [], del: [], errors: [] },
    "bun floor": { rt: floorRt, add: [], del: [], errors: [] },
    "aws-cni chain": { rt: node.runtime("chain", true), add: [], del: [], errors: [] },
    "ptp chain": { rt: ptpRuntime(ptpNode, join(tmp, "host-local"), join(tmp, "cache"), true), add: [], del: [], errors: [] },
  };
  /** The aws-cni arm's sequential calls, broken down by stage (addr-broker's and net-config's records joined by container id). */
  const stages = new CniStages();
  const record = (arm: Arm, kind: "add" | "del", t: Timed, a: Attachment) => {
    arm[kind].push(t);
    if (t.error) arm.errors.push(`${kind.toUpperCase()}: ${t.error}`);
    else if (arm === arms["aws-cni"]) stages.window(kind === "add" ? "ADD" : "DEL", a.containerId, t.startAt, t.ms);
  };
  const spaces = (n: number) => Array.from({ length: n }, () => sandboxes.namespace());

  /** Sequential, arms interleaved pod by pod (order rotated), pods held until the batch is deleted. */
  const sequential = async (names: ArmName[], total: number, batch: number, record_: boolean) => {
    const nsByArm = new Map(names.map((n) => [n, spaces(batch)]));
    for (let done = 0; done < total; done += batch) {
      const size = Math.min(batch, total - done);
      await node!.waitFree(size * names.filter((n) => n.startsWith("aws")).length);
      const held = new Map<ArmName, Attachment[]>(names.map((n) => [n, []]));
      for (let j = 0; j < size; j++) {
        for (let k = 0; k < names.length; k++) {
          const name = names[(j + k) % names.length]!;
          const a = sandboxes.attachment(nsByArm.get(name)![j]!, name.replaceAll(" ", ""));
          held.get(name)!.push(a);
          const t = await timedAdd(arms[name].rt, a);
          if (record_) record(arms[name], "add", t, a);
        }
      }
      if (record_) await stages.collect(node!);
      for (let j = 0; j < size; j++) {
        for (let k = 0; k < names.length; k++) {
          const name = names[(j + k) % names.length]!;
          const t = await timedDel(arms[name].rt, held.get(name)![j]!);
          if (record_) record(arms[name], "del", t, held.get(name)![j]!);
        }
      }
      if (record_) await stages.collect(node!);
    }
  };

  // Warm-up (page cache, first netlink sockets, JIT): not recorded.
  await sequential(["aws-cni", "ptp", "aws-cni direct", "bun floor"], 5, 5, false);
  await sequential(["aws-cni", "ptp", "aws-cni direct", "bun floor"], PODS, BATCH, true);

  // Parallel bursts: every ADD at once, then every DEL at once; arms one after the other, order alternating.
  const bursts: Array<{ size: number; arm: ArmName; addWall: number; delWall: number; add: number[]; errors: number }> = [];
  const burstNs = spaces(Math.max(...PARALLEL));
  for (const size of PARALLEL) {
    for (let r = 0; r < PARALLEL_ROUNDS; r++) {
      for (const name of (r % 2 ? ["ptp", "aws-cni"] : ["aws-cni", "ptp"]) as ArmName[]) {
        if (name === "aws-cni") await node.waitFree(size);
        const as = burstNs.slice(0, size).map((ns) => sandboxes.attachment(ns, `p${size}${name.replaceAll("-", "")}`));
        let w = performance.now();
        const adds = await Promise.all(as.map((a) => timedAdd(arms[name].rt, a)));
        const addWall = performance.now() - w;
        w = performance.now();
        const dels = await Promise.all(as.map((a) => timedDel(arms[name].rt, a)));
        const delWall = performance.now() - w;
        const errs = [...adds, ...dels].filter((t) => t.error);
        for (const e of errs) arms[name].errors.push(`burst ${size}: ${e.error}`);
        bursts.push({ size, arm: name, addWall, delWall, add: adds.map((t) => t.ms), errors: errs.length });
      }
    }
  }

  if (CHAIN_PODS > 0) await sequential(["aws-cni chain", "ptp chain"], CHAIN_PODS, Math.min(BATCH, CHAIN_PODS), true);

  // Everything created was deleted: addr-broker holds no bench pod, host-local no reservation.
  const leftAssigned = (await node.assignments()).filter((a) => a.containerId.startsWith(`bench${process.pid}x`)).length;
  const leftHostLocal = readdirSync(join(tmp, "host-local/ptpbench")).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)).length;

  const s = Object.fromEntries(Object.entries(arms).map(([k, a]) => [k, { add: summarize(a.add.filter((t) => !t.error).map((t) => t.ms)), del: summarize(a.del.filter((t) => !t.error).map((t) => t.ms)) }])) as Record<ArmName, { add: ReturnType<typeof summarize>; del: ReturnType<typeof summarize> }>;
  const burst = (size: number, arm: ArmName) => {
    const bs = bursts.filter((b) => b.size === size && b.arm === arm);
    return { addWall: summarize(bs.map((b) => b.addWall)).mean, delWall: summarize(bs.map((b) => b.delWall)).mean, add: summarize(bs.flatMap((b) => b.add)) };
  };
  const ours = s["aws-cni"];
  const base = s.ptp;
  console.log(`cni-add: ${PODS} sequential pods per arm (batches of ${BATCH} held), bursts of ${PARALLEL.join(" and ")} ×${PARALLEL_ROUNDS}; one ${INSTANCE} node, warm pool, IP_COOLDOWN_PERIOD=${COOLDOWN}; both plugins exec'd under ip netns exec <node ns>`);
  console.log("ratios (aws-cni ÷ ptp+host-local):");
  console.log(`  ADD p50  ${ratio(ours.add.p50, base.add.p50, 0.6)}`);
  console.log(`  ADD p99  ${ratio(ours.add.p99, base.add.p99, 1.0)}`);
  console.log(`  DEL p50  ${ratio(ours.del.p50, base.del.p50, 0.6)}`);
  console.log(`  DEL p99  ${ratio(ours.del.p99, base.del.p99, 1.0)}`);
  for (const size of PARALLEL) {
    const o = burst(size, "aws-cni");
    const p = burst(size, "ptp");
    console.log(`  ${size} parallel: ADD wall ${ratio(o.addWall, p.addWall)}, DEL wall ${ratio(o.delWall, p.delWall)}, per-ADD p50 ${ratio(o.add.p50, p.add.p50)}, p99 ${ratio(o.add.p99, p.add.p99)}`);
  }
  console.log(`  aws-cni exec'd directly from the root ns ÷ under ip netns exec: ADD p50 ${ratio(s["aws-cni direct"].add.p50, ours.add.p50)}, DEL p50 ${ratio(s["aws-cni direct"].del.p50, ours.del.p50)}`);
  console.log(`  aws-cni direct ÷ ptp (ptp cannot run outside its namespace): ADD p50 ${ratio(s["aws-cni direct"].add.p50, base.add.p50)}, p99 ${ratio(s["aws-cni direct"].add.p99, base.add.p99)}`);
  console.log(`  floor (a compiled Bun plugin that only answers, exec'd the same way) ÷ ptp: ADD p50 ${ratio(s["bun floor"].add.p50, base.add.p50)}, p99 ${ratio(s["bun floor"].add.p99, base.add.p99)}; aws-cni ÷ floor: ADD p50 ${ratio(ours.add.p50, s["bun floor"].add.p50)}`);
  if (CHAIN_PODS > 0) {
    const c = s["aws-cni chain"];
    const pc = s["ptp chain"];
    console.log(`  full chain (+portmap, ${CHAIN_PODS} pods) ÷ ptp+portmap: ADD p50 ${ratio(c.add.p50, pc.add.p50)}, p99 ${ratio(c.add.p99, pc.add.p99)}, DEL p50 ${ratio(c.del.p50, pc.del.p50)}`);
  }
  console.log("absolutes:");
  for (const [name, v] of Object.entries(s)) {
    if (v.add.n === 0) continue;
    console.log(`  ${name.padEnd(15)} ADD p50 ${ms(v.add.p50).padStart(9)} p99 ${ms(v.add.p99).padStart(9)} max ${ms(v.add.max).padStart(9)} | DEL p50 ${ms(v.del.p50).padStart(9)} p99 ${ms(v.del.p99).padStart(9)}  (n=${v.add.n})`);
  }
  for (const size of PARALLEL) {
    for (const arm of ["aws-cni", "ptp"] as ArmName[]) {
      const b = burst(size, arm);
      console.log(`  ${String(size).padStart(2)} parallel ${arm.padEnd(8)} ADD wall ${ms(b.addWall).padStart(9)} per-ADD p50 ${ms(b.add.p50).padStart(9)} p99 ${ms(b.add.p99).padStart(9)} | DEL wall ${ms(b.delWall).padStart(9)}`);
    }
  }
  for (const c of ["ADD", "DEL"] as const) {
    const b = stages.summary(c);
    console.log(`aws-cni ${c}, stage by stage (sequential pods, n=${b.n}${b.missing ? `, ${b.missing} without addr-broker's record` : ""}; stages from one moment overlap where noted):`);
    for (const r of b.rows) console.log(`  ${r.label.padEnd(66)} p50 ${ms(r.s.p50, 2).padStart(9)} p99 ${ms(r.s.p99, 2).padStart(9)}`);
  }
  const errors = Object.entries(arms).flatMap(([k, a]) => a.errors.map((e) => `${k}: ${e}`));
  console.log(`errors: ${errors.length}${errors.length ? "\n  " + errors.slice(0, 5).join("\n  ") : ""}`);
  console.log(`left behind: ${leftAssigned} aws-cni assignments, ${leftHostLocal} host-local reservations`);
  const restarts = Object.entries(node.services.restarts()).filter(([, n]) => n > 0);
  console.log(`service restarts: ${restarts.length ? restarts.map(([k, n]) => `${k} ${n}`).join(", ") : "none"}`);
  console.log(`machine: ${navigator.hardwareConcurrency} CPUs; bench took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`command: ${command("cni-add", argv)}`);
} finally {
  if (KEEP_LOGS && node) {
    cpSync(node.layout.logDir, KEEP_LOGS, { recursive: true });
    console.log(`service logs kept in ${KEEP_LOGS}`);
  }
  sandboxes.cleanup();
  await node?.stop();
  rmSync(tmp, { recursive: true, force: true });
}
