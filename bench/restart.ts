/**
 * restart: one node of the local deployment with 109 pods assigned (through
 * the compiled aws-cni) and each service in turn SIGKILLed, then SIGTERMed; the node's
 * supervisor (deploy/local/node-services.ts, as the kubelet) starts it again. Measured per
 * restart: time from the signal until a fresh ADD through the shim succeeds (a new probe pod
 * every 20 ms, each failed probe DELeted as a runtime would), when the supervisor started the
 * new process (its 1 s back-off, not the product's), mutating EC2 calls in the restart's window
 * (sim-ec2 GET /calls at the signal and one pool cycle, 6 s, after the new process is healthy,
 * the window at least WINDOW_MS long; target: none) with pool-manager's decisions in that window
 * (its /debug, polled; they say why each call was made), and addresses lost (each held pod still
 * in addr-broker's assignments with its address, the address on the pod's eth0 and the node's
 * host route to it; target: none). Baseline, side by side: the same for a graceful SIGTERM.
 *
 * Separating the restart from the probes: the node's max pods is the Node's capacity (234 on
 * an m5.4xlarge), so the pool can move. The probes must not be demand: with IP_COOLDOWN_PERIOD=0
 * a probe's address is free again at its DEL, and a probe that failed (net-config down) is undone
 * at once, so the probes never hold more than the one address of the ADD in flight (with a 1 s
 * cooldown, the ~50 failed probes a second of a net-config outage each held an address for 1 s,
 * the pool ran out, and the misses grew it: that was the probes, not the restart). The windows
 * start once the pool has made no mutating call for QUIET_MS; and before each round's restarts
 * a control window of the same length, one probe and no signal, counts what the pool does on
 * its own. A service is only signalled once its process has been up 31 s, so the supervisor's
 * back-off is 1 s for every restart (it doubles for a process that dies younger than 30 s).
 *
 *   npm run bench -- restart [--pods 110] [--rounds 1] [--instance-type m5.4xlarge] [--cooldown 0] [--policy compat|demand] [--keep-logs DIR]
 */
import type { Attachment } from "../deploy/local/cni-runtime.ts";
import { cpSync } from "node:fs";
import { SERVICE_ORDER, type LocalService } from "../deploy/local/node-services.ts";
import { BenchNode, allCalls, mutatingCalls, type CallCounters } from "./lib/node.ts";
import { PodSandboxes } from "./lib/pods.ts";
import { intFlag, strFlag } from "./lib/args.ts";
import { command, ms, requireRoot } from "./lib/stats.ts";

requireRoot("restart");
const argv = process.argv.slice(2);
const PODS = intFlag(argv, "pods", 110, 2);
const ROUNDS = intFlag(argv, "rounds", 1);
const INSTANCE = strFlag(argv, "instance-type", "m5.4xlarge");
const KEEP_LOGS = strFlag(argv, "keep-logs", "");
const COOLDOWN_S = intFlag(argv, "cooldown", 0, 0);
/** compat: WARM_IP_TARGET=4 + MINIMUM_IP_TARGET (upstream targets set); demand: the project's default policy, MINIMUM_IP_TARGET only. */
const POLICY = strFlag(argv, "policy", "compat", ["compat", "demand"] as const);
const MIN_UPTIME_MS = 31_000;
const PROBE_TIMEOUT_MS = 60_000;
/** A window ends one pool cycle (5 s) + 1 s after the new process is healthy, and lasts at least this long. */
const AFTER_HEALTHY_MS = 6_000;
const WINDOW_MS = 9_000;
/** The restarts start once the pool made no mutating call for this long (two pool cycles and more). */
const QUIET_MS = 15_000;

interface Pod {
  a: Attachment;
  podNs: string;
  address: string;
}
interface Outcome {
  service: LocalService | "control";
  signal: "SIGKILL" | "SIGTERM" | "none";
  windowMs: number;
  decisions: string[];
  servedMs: number;
  respawnMs: number;
  failedProbes: number;
  firstError?: string;
  calls: number;
  mutating: Record<string, number>;
  lost: string[];
}

/** What pool-manager decided (its /debug decisions, kept across its restarts) and when EC2 calls happened. */
interface Traced {
  at: number;
  what: string;
}
class Trace {
  readonly events: Traced[] = [];
  private seen = new Set<string>();
  private lastCalls: CallCounters = {};
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  maxPods: number | undefined;
  constructor(private readonly n: BenchNode) {}
  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.poll().catch(() => undefined);
        await Bun.sleep(150);
      }
    })();
  }
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
  async poll(): Promise<void> {
    const calls = await this.n.ec2Calls();
    const mut = mutatingCalls(this.lastCalls, calls);
    if (Object.keys(mut).length) this.events.push({ at: Date.now(), what: `EC2 ${Object.entries(mut).map(([k, v]) => `${k}×${v}`).join(" ")}` });
    this.lastCalls = calls;
    const dbg = await this.n.get<{ pid: number; pool?: { limits?: { maxPods: number }; decisions?: Array<{ at: number; reason: string; actions: string[]; errors?: string[] }> } }>("pool-manager", "/debug");
    this.maxPods = dbg.pool?.limits?.maxPods ?? this.maxPods;
    for (const d of dbg.pool?.decisions ?? []) {
      const key = `${dbg.pid} ${d.at} ${d.reason}`;
      if (this.seen.has(key) || !d.actions.length) continue;
      this.seen.add(key);
      this.events.push({ at: d.at, what: `pool-manager[${dbg.pid}] ${d.actions.join("; ")} <- ${d.reason}${d.errors ? ` (errors: ${d.errors.join("; ")})` : ""}` });
    }
  }
  between(from: number, to: number): Traced[] {
    return this.events.filter((e) => e.at >= from && e.at <= to).sort((a, b) => a.at - b.at);
  }
}

const sandboxes = new PodSandboxes();
let node: BenchNode | undefined;
const pods: Pod[] = [];
const t0 = performance.now();

function ipJson(args: string[]): any[] {
  const r = Bun.spawnSync(["ip", "-j", ...args], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`ip -j ${args.join(" ")}: ${r.stderr.toString().trim()}`);
  return JSON.parse(r.stdout.toString() || "[]");
}

/** Pods whose address is gone from addr-broker, the pod's eth0 or the node's routes. */
async function lostAddresses(n: BenchNode): Promise<string[]> {
  const byId = new Map((await n.assignments()).map((x) => [x.containerId, x.address]));
  const routes = new Set(ipJson(["-n", n.netns, "-4", "route", "show", "table", "main"]).map((r) => String(r.dst)));
  const lost: string[] = [];
  for (const p of pods) {
    const why: string[] = [];
    if (byId.get(p.a.containerId) !== p.address) why.push(`broker has ${byId.get(p.a.containerId) ?? "nothing"}`);
    if (!routes.has(p.address)) why.push("no host route");
    const addrs = ipJson(["-n", p.podNs, "-4", "addr", "show", "dev", "eth0"]).flatMap((l) => (l.addr_info ?? []).map((i: { local: string }) => i.local));
    if (!addrs.includes(p.address)) why.push("not on eth0");
    if (why.length) lost.push(`${p.a.containerId} ${p.address}: ${why.join(", ")}`);
  }
  return lost;
}

try {
  node = await BenchNode.start({ label: "restart", instanceType: INSTANCE, env: { MINIMUM_IP_TARGET: String(PODS), IP_COOLDOWN_PERIOD: String(COOLDOWN_S), ...(POLICY === "compat" ? { WARM_IP_TARGET: "4" } : { AWS_VPC_CNI_POOL_POLICY: "demand" }) } });
  const n = node;
  const spawnedAt = new Map<LocalService, number>(SERVICE_ORDER.map((s) => [s, Date.now()]));
  await n.waitFree(PODS);
  const rt = n.runtime("aws-cni", true);
  const HELD = PODS - 1;
  const spaces = Array.from({ length: HELD }, () => sandboxes.namespace());
  for (let i = 0; i < HELD; i += 8) {
    await Promise.all(
      spaces.slice(i, i + 8).map(async (podNs) => {
        const a = sandboxes.attachment(podNs, "held");
        const r = (await rt.add(a)) as { ips?: Array<{ address: string }> };
        pods.push({ a, podNs: podNs.replace("/run/netns/", ""), address: r.ips![0]!.address.split("/")[0]! });
      }),
    );
  }
  const lostBefore = await lostAddresses(n);
  if (lostBefore.length) throw new Error(`pods not wired before any restart: ${lostBefore.slice(0, 3).join("; ")}`);
  const probeNs = sandboxes.namespace();
  const trace = new Trace(n);
  trace.start();

  // The pool settles after the pods arrived (grows for them, DeleteOnTermination, a release).
  const settleStart = Date.now();
  let quietSince = Date.now();
  let last = await n.ec2Calls();
  while (Date.now() - quietSince < QUIET_MS) {
    if (Date.now() - settleStart > 180_000) throw new Error("the pool did not settle within 180 s after the pods arrived");
    await Bun.sleep(500);
    const now = await n.ec2Calls();
    if (Object.keys(mutatingCalls(last, now)).length) quietSince = Date.now();
    last = now;
  }
  const settledMs = Date.now() - settleStart;
  const phaseStart = await n.ec2Calls();

  /** Fresh ADDs until one succeeds; each probe is deleted again (failed ones too, as a runtime does). */
  const probeUntilServed = async (since: number) => {
    let failed = 0;
    let firstError: string | undefined;
    while (performance.now() - since < PROBE_TIMEOUT_MS) {
      const a = sandboxes.attachment(probeNs, "probe");
      try {
        await rt.add(a);
        const servedMs = performance.now() - since;
        await rt.del(a);
        return { servedMs, failed, firstError };
      } catch (err) {
        failed++;
        firstError ??= (err as Error).message;
        await rt.del(a).catch(() => undefined);
        await Bun.sleep(20);
      }
    }
    throw new Error(`no ADD served ${PROBE_TIMEOUT_MS} ms after the signal (first error: ${firstError})`);
  };
  const decisionsIn = (from: number, to: number) => trace.between(from, to).filter((e) => e.what.startsWith("pool-manager")).map((e) => e.what);

  const outcomes: Outcome[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const signal of ["SIGKILL", "SIGTERM"] as const) {
      // Control: the same window, one probe, no signal.
      {
        const before = await n.ec2Calls();
        const wallFrom = Date.now();
        const since = performance.now();
        const probe = await probeUntilServed(since);
        await Bun.sleep(Math.max(WINDOW_MS - (performance.now() - since), 0));
        const after = await n.ec2Calls();
        const windowMs = performance.now() - since;
        await trace.poll().catch(() => undefined);
        outcomes.push({ service: "control", signal: "none", windowMs, decisions: decisionsIn(wallFrom, Date.now()), servedMs: probe.servedMs, respawnMs: NaN, failedProbes: probe.failed, calls: allCalls(before, after), mutating: mutatingCalls(before, after), lost: await lostAddresses(n) });
      }
      for (const service of SERVICE_ORDER) {
        const wait = spawnedAt.get(service)! + MIN_UPTIME_MS - Date.now();
        if (wait > 0) await Bun.sleep(wait);
        // The last decisions of a process about to be SIGKILLed are read first (they die with it).
        await trace.poll().catch(() => undefined);
        const oldPid = n.services.pid(service)!;
        const before = await n.ec2Calls();
        const wallFrom = Date.now();
        const since = performance.now();
        process.kill(oldPid, signal);
        let respawnMs = NaN;
        const watch = (async () => {
          while (performance.now() - since < PROBE_TIMEOUT_MS) {
            const pid = n.services.pid(service);
            if (pid !== undefined && pid !== oldPid) {
              respawnMs = performance.now() - since;
              spawnedAt.set(service, Date.now());
              return;
            }
            await Bun.sleep(5);
          }
        })();
        const probe = await probeUntilServed(since);
        await watch;
        await n.services.waitHealthy(service, 30_000);
        await Bun.sleep(Math.max(AFTER_HEALTHY_MS, WINDOW_MS - (performance.now() - since)));
        const after = await n.ec2Calls();
        const windowMs = performance.now() - since;
        await trace.poll().catch(() => undefined);
        outcomes.push({ service, signal, windowMs, decisions: decisionsIn(wallFrom, Date.now()), servedMs: probe.servedMs, respawnMs, failedProbes: probe.failed, firstError: probe.firstError, calls: allCalls(before, after), mutating: mutatingCalls(before, after), lost: await lostAddresses(n) });
      }
    }
  }
  await trace.stop();
  const phaseEnd = await n.ec2Calls();

  const pick = (s: LocalService, sig: Outcome["signal"]) => outcomes.filter((o) => o.service === s && o.signal === sig);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const count = (m: Record<string, number>) => Object.values(m).reduce((x, y) => x + y, 0);
  const restarts = outcomes.filter((o) => o.service !== "control");
  const controls = outcomes.filter((o) => o.service === "control");
  console.log(`restart: ${HELD} pods held + 1 probe on one ${INSTANCE} node (max pods ${trace.maxPods ?? "?"}: the pool can move; pool policy ${POLICY}: ${POLICY === "compat" ? "WARM_IP_TARGET=4" : "AWS_VPC_CNI_POOL_POLICY=demand"} MINIMUM_IP_TARGET=${PODS}); each service signalled ${ROUNDS}× per signal; ADD probed through the shim every 20 ms`);
  console.log(`  probes are not demand: IP_COOLDOWN_PERIOD=${COOLDOWN_S} (a probe's address is free again at its DEL; a failed probe is undone at once)${COOLDOWN_S > 0 ? " — NOT the case here: failed probes hold addresses for the cooldown" : ""}`);
  console.log(`  pool quiet (no mutating call for ${QUIET_MS / 1000} s) ${(settledMs / 1000).toFixed(1)} s after the pods arrived; windows: signal → new process healthy + ${AFTER_HEALTHY_MS / 1000} s, at least ${WINDOW_MS / 1000} s; control windows: ${WINDOW_MS / 1000} s, one probe, no signal`);
  console.log("ratios (SIGKILL ÷ SIGTERM, time until a fresh ADD is served):");
  for (const s of SERVICE_ORDER) {
    const k = mean(pick(s, "SIGKILL").map((o) => o.servedMs));
    const t = mean(pick(s, "SIGTERM").map((o) => o.servedMs));
    console.log(`  ${s.padEnd(13)} ${(k / t).toFixed(2)}x`);
  }
  const mutTotal = restarts.reduce((a, o) => a + count(o.mutating), 0);
  const mutControl = controls.reduce((a, o) => a + count(o.mutating), 0);
  const lostTotal = outcomes.reduce((a, o) => a + o.lost.length, 0);
  console.log(`  targets: mutating EC2 calls in the restart windows ${mutTotal} (target 0: ${mutTotal === 0 ? "met" : "NOT met"}; in the ${controls.length} control windows: ${mutControl}), addresses lost ${lostTotal} (target 0: ${lostTotal === 0 ? "met" : "NOT met"})`);
  const outside = count(mutatingCalls(phaseStart, phaseEnd)) - mutTotal - mutControl;
  console.log(`  mutating calls from the pool's settling to the last window outside every window: ${outside}`);
  console.log("absolutes (per window):");
  for (const o of outcomes) {
    const mut = Object.entries(o.mutating).map(([k, v]) => `${k}×${v}`).join(" ") || "none";
    const head = o.service === "control" ? `${"control".padEnd(13)} ${"-".padEnd(7)} ADD served after ${ms(o.servedMs, 0).padStart(8)} (no signal)                               ` : `${o.service.padEnd(13)} ${o.signal.padEnd(7)} ADD served after ${ms(o.servedMs, 0).padStart(8)} (new process after ${ms(o.respawnMs, 0).padStart(7)}; ${String(o.failedProbes).padStart(3)} probes failed)`;
    console.log(`  ${head} | window ${(o.windowMs / 1000).toFixed(1)} s, EC2 calls ${String(o.calls).padStart(2)}, mutating: ${mut} | lost ${o.lost.length}/${pods.length}`);
    for (const d of o.decisions) console.log(`      decided: ${d.length > 240 ? `${d.slice(0, 240)}…` : d}`);
  }
  const errs = [...new Set(restarts.flatMap((o) => (o.firstError ? [`${o.service} ${o.signal}: ${o.firstError}`] : [])))];
  if (errs.length) console.log(`first failed probe per restart:\n  ${errs.join("\n  ")}`);
  for (const o of outcomes) if (o.lost.length) console.log(`lost after ${o.service} ${o.signal}: ${o.lost.slice(0, 3).join("; ")}`);
  console.log(`supervisor restarts: ${JSON.stringify(n.services.restarts())}; bench took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`command: ${command("restart", argv)}`);
  if (KEEP_LOGS) for (const e of trace.between(0, Date.now())) console.error(`${new Date(e.at).toISOString().slice(11, 23)} ${e.what}`);
} finally {
  if (node && KEEP_LOGS) cpSync(node.layout.logDir, KEEP_LOGS, { recursive: true });
  if (node) {
    const rt = node.runtime("aws-cni", true);
    for (let i = 0; i < pods.length; i += 16) await Promise.all(pods.slice(i, i + 16).map((p) => rt.del(p.a).catch(() => undefined)));
  }
  sandboxes.cleanup();
  await node?.stop();
}
