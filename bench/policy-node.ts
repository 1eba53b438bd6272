/**
 * policy-node: policy programming on a real node, end to end. One m5.4xlarge node of the local
 * deployment (`up --network-policy standard`: the services and the policy agent as processes,
 * the policy controller running), `--pods` pods wired through the compiled shim (real veths in
 * the node's namespace), pods of 8 other nodes as Pod objects, and `--policies` NetworkPolicies
 * (each selects one pod and admits a group of ~50 pods on one port) resolved by the controller
 * into as many PolicyEndpoints, `--node-share` of them selecting this node's pods.
 *
 * When a rule is in the kernel is read from the kernel's own notifications (`nft monitor
 * rules` in the node's namespace): exact to a pipe's latency, no polling.
 *  1. PolicyEndpoint created or updated in the API (the controller switched off) → the rule in
 *     the agent's table. Baseline, alternating change by change: the same change applied by
 *     the engine alone (in process, a table of its own in the same namespace, the same
 *     resolved state): what the watch, the agent's resolution and its process add.
 *  2. NetworkPolicy created → its PolicyEndpoint seen by a watcher → the rule in the kernel.
 *  3. The agent's memory (USS, PSS, RSS) and CPU: idle, with the pods, with the policies, and
 *     the CPU each phase cost.
 * Needs root; removes what it made (the deployment, the pods' namespaces).
 *
 *   npm run bench -- policy-node [--pods 110] [--policies 1000] [--node-share 200] [--changes 60] [--e2e 60]
 */
import pino from "pino";
import { resolveNode } from "../services/policy-agent/src/core/resolve.ts";
import { createNftEngine } from "../services/policy-agent/src/engine/nft-engine.ts";
import type { NodePolicyState, PolicyEndpoint } from "../shared/contracts/policy.ts";
import { intFlag } from "./lib/args.ts";
import { NftMonitor } from "./lib/nft-monitor.ts";
import { BenchNode } from "./lib/node.ts";
import { PodSandboxes } from "./lib/pods.ts";
import { type AgentTrace, controllerTimings, LoopLag, stagesOf, STAGES, StoreCommits } from "./lib/policy-stages.ts";
import { cpuSeconds } from "./lib/proc-cpu.ts";
import { processMemory } from "./lib/proc-memory.ts";
import { type ClusterPod, controllerEnabled, inBatches, progress, createNamespace, createPod, createPolicy, deleteEndpoint, endpointFor, fakeHostIp, kubeOf, listEndpoints, NS, patchIngress, putEndpoint, until } from "./lib/policy-cluster.ts";
import { command, mib, ms, ratio, requireRoot, summarize } from "./lib/stats.ts";
import { onInterrupt } from "./lib/interrupt.ts";

requireRoot("policy-node");
const argv = process.argv.slice(2);
const PODS = intFlag(argv, "pods", 110);
const POLICIES = intFlag(argv, "policies", 1000);
const SHARE = intFlag(argv, "node-share", 200);
const CHANGES = intFlag(argv, "changes", 60);
const E2E = intFlag(argv, "e2e", 60);
const OTHER_NODES = 8;

const sandboxes = new PodSandboxes();
let node: BenchNode | undefined;
let monitor: NftMonitor | undefined;
const started = performance.now();
const cleanup = async () => {
  await monitor?.close();
  await node?.stop().catch((err) => console.error(`stopping the deployment: ${(err as Error).message}`));
  node = undefined;
  sandboxes.cleanup();
};
onInterrupt(cleanup);
try {
  node = await BenchNode.start({ label: "policy-node", instanceType: "m5.4xlarge", env: { MINIMUM_IP_TARGET: String(PODS), WARM_IP_TARGET: "8", IP_COOLDOWN_PERIOD: "1" }, networkPolicy: "standard" });
  const n = node;
  const rest = kubeOf(n);
  const agentPid = n.services.pid("policy-agent");
  if (agentPid === undefined) throw new Error("no policy-agent process");
  type Debug = { pods: Array<{ name: string; hostVeth: string; addresses: string[] }>; policyEndpoints: unknown[]; lastApply?: { at: number; report?: { changedPods: string[] } }; programming: AgentTrace[] };
  const debug = () => n.get<Debug>("policy-agent", "/debug");
  /** Quiet: the agent holds at least `endpoints` PolicyEndpoints and applied nothing for 2 s (or its last apply changed nothing). */
  const settled = (endpoints: number) => until(`agent holds ${endpoints} PolicyEndpoints and is quiet`, 600_000, async () => {
    const d = await debug();
    if (d.policyEndpoints.length < endpoints) throw new Error(`the agent holds ${d.policyEndpoints.length}`);
    return Date.now() - (d.lastApply?.at ?? 0) > 2_000 || d.lastApply?.report?.changedPods.length === 0 ? d : undefined;
  });
  const phases: Array<{ phase: string; uss: number; pss: number; rss: number; cpuIdle: number; cpuPhase: number }> = [];
  let cpuMark = cpuSeconds(agentPid);
  /** Memory 5 s after the phase's last change, CPU over the phase and over 10 s idle after it. */
  const sample = async (phase: string) => {
    await Bun.sleep(5_000);
    const m = processMemory(agentPid);
    const before = cpuSeconds(agentPid);
    await Bun.sleep(10_000);
    const after = cpuSeconds(agentPid);
    phases.push({ phase, uss: m.ussKiB ?? NaN, pss: m.pssKiB ?? NaN, rss: m.rssKiB, cpuIdle: (after - before) / 10, cpuPhase: before - cpuMark });
    cpuMark = after;
  };
  await n.waitFree(Math.min(PODS, 8));
  progress("deployment up; idle sample");
  await sample("idle (no pod, no policy)");
  progress(`wiring ${PODS} pods`);

  // ---- the node's pods, through the shim; their Pod objects; other nodes' pods ----
  await createNamespace(rest);
  const rt = n.runtime("aws-cni", true);
  const attachments = [];
  for (let k = 0; k < PODS; k++) {
    await n.waitFree(1);
    const a = sandboxes.attachment(sandboxes.namespace(), "np");
    await rt.add(a);
    attachments.push(a);
  }
  const assigned = new Map((await n.assignments()).map((x) => [x.containerId, x.address]));
  const byName = new Map((await debug()).pods.map((p) => [p.name, p]));
  const ours: ClusterPod[] = attachments.map((a) => {
    const name = a.args!.K8S_POD_NAME!;
    return { name, node: 0, ip: assigned.get(a.containerId)!, hostIP: n.node.primaryIp, veth: byName.get(name)?.hostVeth };
  });
  if (ours.some((p) => !p.ip || !p.veth)) throw new Error("a pod has no address or the agent does not know its veth");
  progress("Pod objects");
  await inBatches(ours, 16, (p, k) => createPod(rest, p, k, n.node.name));
  const others = Array.from({ length: OTHER_NODES * PODS }, (_, i) => ({ o: 1 + Math.floor(i / PODS), k: i % PODS }));
  await inBatches(others, 16, ({ o, k }) => createPod(rest, { name: `o${o}-${k}`, node: o, ip: `10.200.${o}.${k + 1}`, hostIP: fakeHostIp(o) }, k, `fake-${o}`));
  await sample(`${PODS} pods`);
  progress(`${POLICIES} policies`);

  // ---- the policies: SHARE select this node's pods, the rest pods of other nodes ----
  const tPolicies = performance.now();
  await inBatches(Array.from({ length: POLICIES }, (_, i) => i), 8, async (i) => {
    const other = i - SHARE;
    const [nodeIx, k] = i < SHARE ? [0, i % PODS] : [1 + (other % OTHER_NODES), Math.floor(other / OTHER_NODES) % PODS];
    await createPolicy(rest, `np-${i}`, nodeIx, k, i % 20, 8000 + (i % 50));
  });
  await until(`${POLICIES} PolicyEndpoints`, 600_000, async () => {
    const have = (await listEndpoints(rest)).length;
    if (have < POLICIES) throw new Error(`${have} so far`);
    return true;
  });
  progress("PolicyEndpoints written; waiting for the agent");
  await settled(SHARE);
  const populateMs = performance.now() - tPolicies;
  await sample(`${PODS} pods, ${POLICIES} policies (${SHARE} select the node's pods)`);

  // ---- 1. PolicyEndpoint → kernel, against the engine alone ----
  progress("1. PolicyEndpoint changes");
  await controllerEnabled(rest, false);
  await Bun.sleep(1_000);
  monitor = new NftMonitor(n.netns);
  const mon = monitor;
  const endpoints = await listEndpoints(rest);
  const nodeIps = [n.node.primaryIp];
  const podsOfAgent = (await debug()).pods.map((p) => ({ namespace: NS, name: p.name, hostVeth: p.hostVeth, addresses: p.addresses }));
  let baseState: NodePolicyState = resolveNode(endpoints, podsOfAgent, nodeIps, "standard");
  const base = createNftEngine({ netns: n.netns, table: "npbench-base", log: pino({ level: "silent" }), verifyIntervalMs: 3_600_000 });
  await mon.ready(async () => void (await base.apply(baseState)), /npbench-base/);
  const ruleOf = (table: string, veth: string, port: number) => new RegExp(`^add rule inet ${table} in-${veth} .*\\b${port}\\b`);
  const peOf = (p: ClusterPod) => endpoints.find((e) => e.spec.podSelectorEndpoints?.some((s) => s.name === p.name));
  const agentArm: number[] = [];
  const engineArm: number[] = [];
  const kinds = { create: [] as number[], update: [] as number[] };
  const created: string[] = [];
  for (let c = 0; c < CHANGES; c++) {
    const pod = ours[(c * 7) % PODS]!;
    const port = 30_000 + c;
    const arms = [
      async () => {
        const existing: PolicyEndpoint | undefined = c % 2 === 1 ? peOf(pod) : undefined;
        const t0 = performance.now();
        if (existing) {
          existing.spec.ingress = [...(existing.spec.ingress ?? []), { cidr: "10.250.0.1", ports: [{ protocol: "TCP", port }] }];
          await patchIngress(rest, existing.metadata.name, existing.spec.ingress);
        } else {
          await putEndpoint(rest, endpointFor(`chg-${c}`, pod, "10.250.0.1", port));
          created.push(`chg-${c}`);
        }
        const d = (await mon.waitFor(ruleOf("aws-cni-np", pod.veth!, port), t0)) - t0;
        agentArm.push(d);
        (existing ? kinds.update : kinds.create).push(d);
      },
      async () => {
        const next = structuredClone(baseState);
        const p = next.pods.find((x) => x.name === pod.name)!;
        const rule = { cidr: "10.250.0.1/32", except: [], ports: [{ protocol: "TCP" as const, port: port + 10_000 }] };
        p.ingress = p.ingress.kind === "rules" ? { kind: "rules", rules: [...p.ingress.rules, rule] } : { kind: "rules", rules: [rule] };
        const t0 = performance.now();
        await base.apply(next);
        engineArm.push((await mon.waitFor(ruleOf("npbench-base", pod.veth!, port + 10_000), t0)) - t0);
        baseState = next;
      },
    ];
    for (const arm of c % 2 === 0 ? arms : arms.reverse()) {
      await arm();
      await Bun.sleep(50);
    }
  }
  await base.removeAll();
  base.close();
  for (const name of created) await deleteEndpoint(rest, name);
  await controllerEnabled(rest, true);
  await Bun.sleep(3_000);
  await settled(SHARE);

  // ---- 2. NetworkPolicy → PolicyEndpoint → kernel ----
  progress("2. NetworkPolicies");
  const peSeen = new Map<string, number>();
  const watch = await rest.watch(`/apis/networking.k8s.aws/v1alpha1/namespaces/${NS}/policyendpoints`, {}, (type, obj) => {
    const ref = (obj as PolicyEndpoint).spec?.policyRef?.name;
    if (type === "ADDED" && ref && !peSeen.has(ref)) peSeen.set(ref, performance.now());
  }, () => {});
  const commits = new StoreCommits(n.deployment.cloud.faults.kube.store, NS);
  const lag = new LoopLag();
  const e2e = { total: [] as number[], controller: [] as number[], agent: [] as number[] };
  const e2eRuns: Array<{ name: string; writeAt: number; ruleAt: number; benchSeen: number }> = [];
  const cpuE2e = cpuSeconds(agentPid);
  for (let c = 0; c < E2E; c++) {
    const k = (c * 13) % PODS;
    const port = 32_000 + c;
    const t0 = performance.now();
    await createPolicy(rest, `e2e-${c}`, 0, k, c % 20, port);
    const tRule = await mon.waitFor(ruleOf("aws-cni-np", ours[k]!.veth!, port), t0);
    const tPe = await until(`PolicyEndpoint of e2e-${c} seen`, 10_000, async () => peSeen.get(`e2e-${c}`));
    e2e.total.push(tRule - t0);
    e2e.controller.push(tPe - t0);
    e2e.agent.push(tRule - tPe);
    const epoch = (t: number) => performance.timeOrigin + t;
    e2eRuns.push({ name: `e2e-${c}`, writeAt: epoch(t0), ruleAt: epoch(tRule), benchSeen: epoch(tPe) });
    await Bun.sleep(100);
  }
  const cpuE2eSpent = cpuSeconds(agentPid) - cpuE2e;
  const lags = lag.stop();
  commits.close();
  watch.abort();
  const timings = controllerTimings(n.deployment.policyController!.log);
  const traces = new Map((await debug()).programming.map((t) => [t.endpoint, t]));
  const stages = e2eRuns.map((r) => {
    const pe = commits.endpoints.get(r.name);
    return stagesOf({ ...r, npStored: commits.policies.get(r.name), controller: timings.get(`${NS}/${r.name}`), peStored: pe?.at, agent: pe ? traces.get(`${NS}/${pe.name}`) : undefined });
  });
  await settled(SHARE + E2E);
  await sample(`after the measurements (${SHARE + E2E} policies on the node)`);

  // ---- report ----
  const a = summarize(agentArm);
  const b = summarize(engineArm);
  const t = summarize(e2e.total);
  const load = (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ");
  console.log(`PolicyEndpoint → kernel, agent vs the engine alone: p50 ${ratio(a.p50, b.p50)}, p99 ${ratio(a.p99, b.p99)}`);
  console.log(`NetworkPolicy → kernel p99 vs 1 s: ${ratio(t.p99, 1000, 1)}`);
  console.log(`\n${PODS} pods on the node, ${POLICIES} PolicyEndpoints in the cluster (${SHARE} select the node's pods; populated in ${(populateMs / 1000).toFixed(1)} s); load average ${load}`);
  const line = (name: string, xs: number[]) => {
    const s = summarize(xs);
    console.log(`  ${name.padEnd(52)} p50 ${ms(s.p50).padStart(9)}  p99 ${ms(s.p99).padStart(9)}  max ${ms(s.max).padStart(9)}  (n=${s.n})`);
  };
  console.log("1. PolicyEndpoint change → rule in the kernel (nft monitor)");
  line("agent (API write → watch → agent → nft)", agentArm);
  line("  of which PolicyEndpoint created", kinds.create);
  line("  of which PolicyEndpoint updated", kinds.update);
  line("engine alone (apply → nft)", engineArm);
  console.log("2. NetworkPolicy created → rule in the kernel");
  line("total", e2e.total);
  line("  API write → PolicyEndpoint seen by a watcher", e2e.controller);
  line("  PolicyEndpoint seen → rule in the kernel", e2e.agent);
  console.log("  stage by stage (each component's own clock: API store commits, controller log, agent /debug, nft monitor)");
  STAGES.forEach((name, i) => line(`    ${name}`, stages.map((s) => s[i]).filter((x): x is number => x !== undefined)));
  line("  the bench process's event-loop lag (it hosts the API server)", lags);
  console.log(`  the agent's CPU over these ${E2E} policies: ${(cpuE2eSpent * 1000 / E2E).toFixed(1)} ms per policy`);
  console.log("3. the agent's memory and CPU");
  for (const p of phases) console.log(`  ${p.phase.padEnd(60)} USS ${mib(p.uss)}  PSS ${mib(p.pss)}  RSS ${mib(p.rss)}  CPU idle ${(p.cpuIdle * 100).toFixed(1)} %  CPU in the phase ${p.cpuPhase.toFixed(2)} s`);
  console.log(`\n(${((performance.now() - started) / 1000).toFixed(0)} s) ${command("policy-node", argv)}`);
} finally {
  await cleanup();
}
process.exit(0);
