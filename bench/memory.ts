/**
 * memory: resident memory of every service the aws-node DaemonSet runs (pool-manager,
 * addr-broker, net-config, metrics, policy-agent: deploy/k8s/aws-node.yaml's containers) and
 * of all together, on one node of the local deployment, in two phases:
 * - `off`: network policy off (the policy agent's default, as upstream): idle (warm pool, no
 *   pod), then with 110 pods assigned (through the compiled aws-cni, as a runtime does);
 * - `on`: a second node whose agent enforces (--enable-network-policy=true,
 *   NETWORK_POLICY_ENFORCING_MODE=standard): idle, with 110 pods, then with 200
 *   PolicyEndpoints selecting every one of those pods, programmed in the kernel (the agent's
 *   nftables table in the node's namespace, checked for every pod, and the agent then 5 s
 *   without a kernel transaction, before sampling).
 * VmRSS from /proc/<pid>/status and PSS from /proc/<pid>/smaps_rollup (RSS counts the Bun
 * binary's shared pages once per process; PSS splits them among every process mapping them,
 * unrelated ones included). The headline "together" figure is each service's private pages
 * (USS) plus the shared pages counted once (bench/lib/proc-memory.ts `together`): what the
 * node pays. Baseline in the same run: as many bare Bun processes as services
 * (`bun -e 'setInterval(()=>{},1e9)'`), the floor of any design of that many Bun processes.
 * Target: 100 MiB for all services together, in every state.
 *
 *   npm run bench -- memory [--pods 110] [--policies 200] [--phases off,on] [--instance-type m5.4xlarge]
 */
import { SERVICE_ORDER, BUN, type LocalService } from "../deploy/local/node-services.ts";
import type { Attachment } from "../deploy/local/cni-runtime.ts";
import { BenchNode } from "./lib/node.ts";
import { PodSandboxes } from "./lib/pods.ts";
import { waitAgentQuiet, writePolicyEndpoints, waitProgrammed } from "./lib/policy-endpoints.ts";
import { processComm, processMemory, together, type Memory } from "./lib/proc-memory.ts";
import { intFlag, strFlag } from "./lib/args.ts";
import { command, mib, requireRoot } from "./lib/stats.ts";

requireRoot("memory");
const argv = process.argv.slice(2);
const PODS = intFlag(argv, "pods", 110);
const POLICIES = intFlag(argv, "policies", 200);
const INSTANCE = strFlag(argv, "instance-type", "m5.4xlarge");
const PHASES = strFlag(argv, "phases", "off,on").split(",");
for (const p of PHASES) if (p !== "off" && p !== "on") throw new Error(`--phases: "${p}" is not off or on`);
const TARGET_KIB = 100 * 1024;
// Each service collects its garbage once quiet for 1 s (checked every 2 s, shared/service-gc.ts):
// 5 s after the last request every service has settled as an idle node's would.
const SETTLE_MS = 5000;
const POD_NAMESPACE = "bench";

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

/** A call to a service retried 3 times (its 5 s timeout passes on a machine loaded by others). */
async function retried<T>(call: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await call();
    } catch (err) {
      if (i >= 2) throw err;
      await Bun.sleep(2000);
    }
  }
}

interface State {
  label: string;
  sample: Sample;
  note?: string;
}

/** One node: idle, with PODS pods, and (enforcing) with POLICIES policies selecting them. */
async function phase(enforce: boolean, sandboxes: PodSandboxes): Promise<{ states: State[]; failed: number }> {
  const node = await BenchNode.start({ label: "memory", instanceType: INSTANCE, env: { MINIMUM_IP_TARGET: String(PODS), WARM_IP_TARGET: "10" }, ...(enforce ? { networkPolicy: "standard" as const } : {}) });
  const held: Attachment[] = [];
  const rt = node.runtime("aws-cni", true);
  try {
    const tag = enforce ? "on" : "off";
    await node.waitFree(PODS);
    await Bun.sleep(SETTLE_MS);
    const states: State[] = [{ label: `${tag}: idle`, sample: await sample(servicePids(node)) }];
    const spaces = Array.from({ length: PODS }, () => sandboxes.namespace());
    let failed = 0;
    for (let i = 0; i < PODS; i += 8) {
      await Promise.all(
        spaces.slice(i, i + 8).map(async (ns) => {
          const a = sandboxes.attachment(ns, `mem${tag}`);
          held.push(a);
          await rt.add(a).catch(() => failed++);
        }),
      );
    }
    const mine = (await retried(() => node.assignments())).filter((a) => a.containerId.startsWith(`bench${process.pid}x`));
    await Bun.sleep(SETTLE_MS);
    states.push({ label: `${tag}: ${mine.length} pods`, sample: await sample(servicePids(node)) });
    if (enforce) {
      const byId = new Map(mine.map((a) => [a.containerId, a.address]));
      const pods = held.flatMap((a) => (byId.has(a.containerId) ? [{ namespace: POD_NAMESPACE, name: a.args!.K8S_POD_NAME!, ip: byId.get(a.containerId)! }] : []));
      // The bench writes PolicyEndpoints as a controller would, for no NetworkPolicy: the deployment's
      // own controller (not an aws-node service) deletes such objects as orphans, racing the agent.
      await node.deployment.policyController?.stop();
      const t0 = performance.now();
      await writePolicyEndpoints(node.deployment.stack, POD_NAMESPACE, pods, node.node.primaryIp, POLICIES);
      await waitProgrammed(node.netns, pods.length, POLICIES);
      const ms = performance.now() - t0;
      await waitAgentQuiet(node.socket("policy-agent"));
      await Bun.sleep(SETTLE_MS);
      states.push({ label: `${tag}: ${POLICIES} policies`, sample: await sample(servicePids(node)), note: `written and programmed for ${pods.length} pods in ${(ms / 1000).toFixed(1)} s` });
    }
    return { states, failed };
  } finally {
    for (let i = 0; i < held.length; i += 16) await Promise.all(held.slice(i, i + 16).map((a) => rt.del(a).catch(() => undefined)));
    await node.stop();
  }
}

const sandboxes = new PodSandboxes();
const floorProcs: Array<ReturnType<typeof Bun.spawn>> = [];
const t0 = performance.now();
try {
  // Baseline floor: one idle Bun process per service.
  for (let i = 0; i < SERVICE_ORDER.length; i++) floorProcs.push(Bun.spawn([BUN, "-e", "setInterval(()=>{},1e9)"], { stdout: "ignore", stderr: "ignore" }));
  await Bun.sleep(1000);
  const floor = await sample(Object.fromEntries(floorProcs.map((p, i) => [`bun #${i + 1}`, p.pid])));
  for (const p of floorProcs) p.kill("SIGKILL");
  const states: State[] = [];
  let failed = 0;
  for (const p of PHASES) {
    const r = await phase(p === "on", sandboxes);
    states.push(...r.states);
    failed += r.failed;
  }

  const floorT = together(Object.values(floor));
  const r = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x` : "n/a");
  const n = SERVICE_ORDER.length;
  console.log(`memory: the ${n} services of one ${INSTANCE} node (${SERVICE_ORDER.join(", ")}); network policy off, and on (standard) with ${POLICIES} policies`);
  console.log("ratios (together = private pages of each + shared pages once):");
  for (const s of states) {
    const t = together(Object.values(s.sample));
    console.log(`  ${s.label.padEnd(20)} ÷ 100 MiB target ${r(t, TARGET_KIB)} (${t <= TARGET_KIB ? "met" : "NOT met"}), ÷ ${n} bare Bun floor ${r(t, floorT)}`);
  }
  console.log("absolutes (RSS / PSS / USS = private), MiB:");
  const f = (m: Memory) => `${mib(m.rssKiB).padStart(9)} / ${mib(m.pssKiB ?? NaN).padStart(9)} / ${mib(m.ussKiB ?? NaN).padStart(9)}`;
  for (const s of states) {
    console.log(`  ${s.label}${s.note ? ` (${s.note})` : ""}`);
    for (const svc of SERVICE_ORDER as readonly LocalService[]) console.log(`    ${svc.padEnd(14)} ${f(s.sample[svc]!)}`);
    const ms = Object.values(s.sample);
    const shared = Math.max(0, ...ms.map((m) => m.rssKiB - (m.ussKiB ?? NaN)));
    console.log(`    ${"sum".padEnd(14)} ${mib(total(s.sample, "rssKiB")).padStart(9)} / ${mib(total(s.sample, "pssKiB")).padStart(9)}`);
    console.log(`    ${"shared, once".padEnd(14)} ${mib(shared).padStart(9)}`);
    console.log(`    ${"together".padEnd(14)} ${mib(together(ms)).padStart(9)}`);
  }
  console.log(`  ${n} bare Bun      one ${f(Object.values(floor)[0]!)}; together ${mib(floorT)}`);
  console.log(`errors: ${failed} failed ADDs`);
  console.log(`machine: ${navigator.hardwareConcurrency} CPUs, Bun ${Bun.version}; load average at the end ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")}; bench took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`command: ${command("memory", argv)}`);
} finally {
  for (const p of floorProcs) p.kill("SIGKILL");
  sandboxes.cleanup();
}
