/**
 * The conformance suite's harness on one local deployment: the deployment and the pods made
 * once and reused, the policies in force (as applied with kubectl), the probed truth table
 * (every pod's helper probing every other pod on every served port at once) and the expected
 * one (the model over the same pods and policies), polled until they agree.
 */
import { afterAll, beforeAll, expect } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDeployment, type NetworkPolicyMode, type RunningDeployment } from "../../../deploy/local/deployment.ts";
import { writeStack } from "../../../deploy/local/stack.ts";
import { leftovers } from "../../local/up-process.ts";
import { apply, kubectl } from "../kubelet/kube.ts";
import type { NetworkPolicy, Probe } from "./model.ts";
import { applyNamespaces, Helper, NAMESPACES, podObject, POD_NAMES, SERVED, startPods, type LivePod } from "./pods.ts";
import { allProbes, differences, expectedMatrix, grid, probeKey, sameMatrix, type Matrix } from "./truth-table.ts";

/** Each probe's timeout in a change's first rounds: a denied probe costs this long, so one matrix round about this long. */
export const PROBE_TIMEOUT_MS = 800;
/** Later rounds' timeout: on a loaded machine a slow answer is not taken for a denial for long. */
export const SLOW_PROBE_TIMEOUT_MS = 2_000;
/** Before failing, the cells that should reach but did not are tried once more this long. */
export const LAST_CHANCE_TIMEOUT_MS = 5_000;
/** How long a change may take to show in the whole matrix. */
export const CONVERGE_MS = 20_000;

export interface SuiteOptions {
  tag: string;
  nodes: number;
  mode: NetworkPolicyMode;
  namespaces?: readonly string[];
  podNames?: readonly string[];
}

export function conformanceSuite(opts: SuiteOptions) {
  const base = mkdtempSync(join(tmpdir(), `e2e-npconf-${opts.tag}-${process.pid}-`));
  const dir = join(base, "deploy");
  let dep: RunningDeployment | undefined;
  const pods = new Map<string, LivePod>();
  const policies = new Map<string, NetworkPolicy>();
  /** Every helper started, stopped and checked for at the end (also those of pods deleted during the run). */
  const helpers: Helper[] = [];
  const timings: Array<{ step: string; ms: number; rounds: number }> = [];

  const stack = () => dep!.stack;

  let starting: Promise<void> | undefined;
  /** Starts the deployment and the pods, once; another suite may call it early to overlap start-ups. */
  const prepare = () => (starting ??= start());
  // generous: two deployments starting at once took 99 s + 36 s on this 2-core machine at load 57
  beforeAll(() => prepare(), 240_000);

  async function start(): Promise<void> {
    const t0 = performance.now();
    dep = await startDeployment({ dir, nodes: opts.nodes, networkPolicy: opts.mode });
    const t1 = performance.now();
    await writeStack(dir, dep.stack);
    await applyNamespaces(stack());
    const specs = (opts.namespaces ?? NAMESPACES).flatMap((ns, i) => (opts.podNames ?? POD_NAMES).map((name, j) => podObject(ns, name, stack().nodes[(i * 3 + j) % opts.nodes]!.name)));
    for (const p of await startPods(stack(), specs, helpers)) pods.set(p.key, p);
    console.log(`npconf ${opts.tag}: deployment up in ${Math.round(t1 - t0)} ms, ${specs.length} pods running with their helpers in ${Math.round(performance.now() - t1)} ms`);
  }

  afterAll(async () => {
    await starting?.catch(() => undefined);
    const t0 = performance.now();
    for (const t of timings) console.log(`npconf ${opts.tag}: ${t.step}: ${t.ms} ms${t.rounds ? ` from the change to the matrix agreeing (${t.rounds} probe rounds)` : ""}`);
    await Promise.all(helpers.map((h) => h.stop()));
    // the kubelets tear their pods down (CNI DEL included) as the deployment stops
    await dep?.stop();
    console.log(`npconf ${opts.tag}: torn down in ${Math.round(performance.now() - t0)} ms`);
    const left = await leftovers(dir, helpers.map((h) => h.pid));
    rmSync(base, { recursive: true, force: true });
    expect(left).toEqual([]);
  }, 120_000);

  const names = () => [...pods.keys()].sort();

  /** Every pod probes every other pod on every served port and protocol (or just `only`), all at once. */
  async function probeAll(timeoutMs = PROBE_TIMEOUT_MS, only?: Probe[]): Promise<Matrix> {
    const byKey = [...pods.values()];
    const probes = only ?? allProbes(names(), SERVED);
    const out: Matrix = new Map();
    await Promise.all(
      byKey.map(async (src) => {
        const mine = probes.filter((p) => p.from === src.key);
        if (mine.length === 0) return;
        const results = await src.helper.probe(mine.map((p) => ({ ip: pods.get(p.to)!.ip, port: p.port, protocol: p.protocol })), timeoutMs);
        mine.forEach((p, i) => out.set(probeKey(p), results[i] === true));
      }),
    );
    return out;
  }

  function expected(): Matrix {
    const namespaces = Object.fromEntries([...new Set([...pods.values()].map((p) => p.namespace))].map((ns) => [ns, { ns }]));
    return expectedMatrix({ pods: [...pods.values()], namespaces, policies: [...policies.values()], strict: opts.mode === "strict" }, allProbes(names(), SERVED));
  }

  /**
   * Runs `change`, then probes until the matrix equals the model's; records the time. On
   * timeout fails with both grids (differing cells bracketed in the probed one).
   */
  async function converge(step: string, change?: () => Promise<void>): Promise<number> {
    const t0 = performance.now();
    await change?.();
    const want = expected();
    let got: Matrix = new Map();
    let rounds = 0;
    const agreed = () => {
      const ms = Math.round(performance.now() - t0);
      if (change) timings.push({ step, ms, rounds });
      return ms;
    };
    while (rounds === 0 || performance.now() - t0 < CONVERGE_MS) {
      got = await probeAll(rounds < 2 ? PROBE_TIMEOUT_MS : SLOW_PROBE_TIMEOUT_MS);
      rounds++;
      if (sameMatrix(want, got)) return agreed();
    }
    // A reply that came back is an allowed flow for sure; a missing one may be a slow machine.
    const unanswered = allProbes(names(), SERVED).filter((p) => want.get(probeKey(p)) === true && got.get(probeKey(p)) === false);
    for (const [k, v] of await probeAll(LAST_CHANCE_TIMEOUT_MS, unanswered)) got.set(k, v);
    if (sameMatrix(want, got)) return agreed();
    const ns = names();
    const diff = differences(want, got);
    throw new Error(
      `${step}: the probed matrix did not agree with the model within ${CONVERGE_MS} ms (${rounds} rounds, ${diff.length} cells differ)\n` +
        `policies: ${JSON.stringify([...policies.values()])}\n\nexpected (. reached, X not):\n${grid(want, ns, SERVED)}\n\nprobed ([ ] differs):\n${grid(got, ns, SERVED, want)}\n\n${diff.slice(0, 20).join("\n")}`,
    );
  }

  const npObject = (p: NetworkPolicy) => ({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: p.metadata, spec: p.spec });
  const key = (p: NetworkPolicy) => `${p.metadata.namespace}/${p.metadata.name}`;

  /** Applies the policies (create or replace) and waits for the matrix to follow. */
  function applyPolicies(step: string, ...ps: NetworkPolicy[]): Promise<number> {
    return converge(step, async () => {
      for (const p of ps) policies.set(key(p), p);
      await Promise.all(ps.map((p) => apply(stack(), npObject(p))));
    });
  }

  /** Deletes every policy in force and waits for the matrix to be the no-policy one again. */
  function deleteAll(step = "deleted"): Promise<number> {
    return converge(step, async () => {
      const inForce = [...policies.values()];
      policies.clear();
      await Promise.all(
        inForce.map(async (p) => {
          const r = await kubectl(stack(), ["delete", "networkpolicy", p.metadata.name, "-n", p.metadata.namespace]);
          if (r.exitCode !== 0) throw new Error(`kubectl delete networkpolicy ${key(p)}: ${r.stderr}`);
        }),
      );
    });
  }

  /** Adds pods (after policies are in force) and waits until the matrix including them agrees. */
  async function addPods(...added: Array<[namespace: string, name: string, nodeIndex: number]>): Promise<number> {
    const t0 = performance.now();
    const live = await startPods(stack(), added.map(([ns, name, i]) => podObject(ns, name, stack().nodes[i % opts.nodes]!.name)), helpers);
    for (const p of live) pods.set(p.key, p);
    const what = `pods ${live.map((p) => p.key).join(", ")} created after the policy`;
    const ms = await converge(what);
    timings.push({ step: `${what} (kubectl apply → running → matrix agreeing)`, ms: Math.round(performance.now() - t0), rounds: 0 });
    return ms;
  }

  async function removePod(namespace: string, name: string): Promise<void> {
    const p = pods.get(`${namespace}/${name}`);
    if (!p) return;
    pods.delete(p.key);
    await p.helper.stop();
    const r = await kubectl(stack(), ["delete", "pod", name, "-n", namespace, "--wait=true", "--timeout=60s"]);
    if (r.exitCode !== 0) throw new Error(`kubectl delete pod ${p.key}: ${r.stderr}`);
  }

  return { prepare, stack, pods, probeAll, converge, applyPolicies, deleteAll, addPods, removePod };
}

export type ConformanceSuite = ReturnType<typeof conformanceSuite>;
