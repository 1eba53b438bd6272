/**
 * restart (issue 8, item 5): one node of the local deployment with 110 pods assigned
 * (through the compiled aws-cni: 109 held, the 110th is the probe below — max pods is 110
 * on the node, so the pool never holds a 111th address); each service in turn is SIGKILLed and the node's
 * supervisor (deploy/local/node-services.ts, as the kubelet) starts it again. Measured per
 * restart: time from the signal until a fresh ADD through the shim succeeds (probing with a
 * new pod every 20 ms, each failed probe DELeted as a runtime would), how long the
 * supervisor took to start the new process (its 1 s back-off, not the product's), EC2 calls
 * the restart made (sim-ec2 GET /calls before the signal and after the new process is
 * healthy + 2 s; target: no mutating call), and addresses lost (each of the 110 pods still in
 * addr-broker's assignments with its address, the address on the pod's eth0 and the node's
 * host route to it; target: none). Baseline side by side: the same for a graceful SIGTERM.
 * A service is only signalled once its process has been up 31 s, so the supervisor's
 * back-off is 1 s for every restart (it doubles for a process that dies younger than 30 s).
 *
 *   npm run bench -- restart [--pods 110] [--rounds 1] [--instance-type m5.4xlarge]
 */
import type { Attachment } from "../deploy/local/cni-runtime.ts";
import { SERVICE_ORDER, type LocalService } from "../deploy/local/node-services.ts";
import { BenchNode, allCalls, mutatingCalls } from "./lib/node.ts";
import { PodSandboxes } from "./lib/pods.ts";
import { command, intFlag, ms, requireRoot, strFlag } from "./lib/stats.ts";

requireRoot("restart");
const argv = process.argv.slice(2);
const PODS = intFlag(argv, "pods", 110, 2);
const ROUNDS = intFlag(argv, "rounds", 1);
const INSTANCE = strFlag(argv, "instance-type", "m5.4xlarge");
const MIN_UPTIME_MS = 31_000;
const PROBE_TIMEOUT_MS = 60_000;

interface Pod {
  a: Attachment;
  podNs: string;
  address: string;
}
interface Outcome {
  service: LocalService;
  signal: "SIGKILL" | "SIGTERM";
  servedMs: number;
  respawnMs: number;
  failedProbes: number;
  firstError?: string;
  calls: number;
  mutating: Record<string, number>;
  lost: string[];
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
  node = await BenchNode.start({ label: "restart", instanceType: INSTANCE, env: { MINIMUM_IP_TARGET: String(PODS), WARM_IP_TARGET: "4", IP_COOLDOWN_PERIOD: "1" } });
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

  const outcomes: Outcome[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const signal of ["SIGKILL", "SIGTERM"] as const) {
      for (const service of SERVICE_ORDER) {
        const wait = spawnedAt.get(service)! + MIN_UPTIME_MS - Date.now();
        if (wait > 0) await Bun.sleep(wait);
        const oldPid = n.services.pid(service)!;
        const before = await n.ec2Calls();
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
        await Bun.sleep(2000);
        const after = await n.ec2Calls();
        outcomes.push({ service, signal, servedMs: probe.servedMs, respawnMs, failedProbes: probe.failed, firstError: probe.firstError, calls: allCalls(before, after), mutating: mutatingCalls(before, after), lost: await lostAddresses(n) });
      }
    }
  }

  const pick = (s: LocalService, sig: Outcome["signal"]) => outcomes.filter((o) => o.service === s && o.signal === sig);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`restart: ${PODS} pods assigned on one ${INSTANCE} node; each service signalled ${ROUNDS}× per signal; ADD probed through the shim every 20 ms`);
  console.log("ratios (SIGKILL ÷ SIGTERM, time until a fresh ADD is served):");
  for (const s of SERVICE_ORDER) {
    const k = mean(pick(s, "SIGKILL").map((o) => o.servedMs));
    const t = mean(pick(s, "SIGTERM").map((o) => o.servedMs));
    console.log(`  ${s.padEnd(13)} ${(k / t).toFixed(2)}x`);
  }
  const mutTotal = outcomes.reduce((a, o) => a + Object.values(o.mutating).reduce((x, y) => x + y, 0), 0);
  const lostTotal = outcomes.reduce((a, o) => a + o.lost.length, 0);
  console.log(`  targets: mutating EC2 calls made by restarts ${mutTotal} (target 0: ${mutTotal === 0 ? "met" : "NOT met"}), addresses lost ${lostTotal} (target 0: ${lostTotal === 0 ? "met" : "NOT met"})`);
  console.log("absolutes (per restart):");
  for (const o of outcomes) {
    const mut = Object.entries(o.mutating).map(([k, v]) => `${k}×${v}`).join(" ") || "none";
    console.log(
      `  ${o.service.padEnd(13)} ${o.signal.padEnd(7)} ADD served after ${ms(o.servedMs, 0).padStart(8)} (new process after ${ms(o.respawnMs, 0).padStart(7)}; ${String(o.failedProbes).padStart(3)} probes failed) | EC2 calls ${String(o.calls).padStart(2)}, mutating: ${mut} | lost ${o.lost.length}/${pods.length}`,
    );
  }
  const errs = [...new Set(outcomes.flatMap((o) => (o.firstError ? [`${o.service} ${o.signal}: ${o.firstError}`] : [])))];
  if (errs.length) console.log(`first failed probe per restart:\n  ${errs.join("\n  ")}`);
  for (const o of outcomes) if (o.lost.length) console.log(`lost after ${o.service} ${o.signal}: ${o.lost.slice(0, 3).join("; ")}`);
  console.log(`supervisor restarts: ${JSON.stringify(n.services.restarts())}; bench took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`command: ${command("restart", argv)}`);
} finally {
  if (node) {
    const rt = node.runtime("aws-cni", true);
    for (let i = 0; i < pods.length; i += 16) await Promise.all(pods.slice(i, i + 16).map((p) => rt.del(p.a).catch(() => undefined)));
  }
  sandboxes.cleanup();
  await node?.stop();
}
