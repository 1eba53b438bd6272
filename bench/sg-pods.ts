/**
 * sg-pods: security groups for pods on the local deployment (`up --pod-eni`, processes mode,
 * one m5.4xlarge node, its kubelet running busybox pods with podman). A SecurityGroupPolicy
 * selects `bench=selected`; pods are made one at a time with kubectl, a selected and an
 * unselected one in turn (the order alternating), all held until the end, so both kinds see the
 * same node, pool and load. The pool is kept warm (MINIMUM_IP_TARGET above the pods held).
 *  - `kubectl apply` → the pod's watch shows Running with an address, per kind: p50/p99.
 *  - ADD latency per kind, from addr-broker's own timing (awscni_cni_request_duration_seconds,
 *    ADD outcome ok: its sum before and after each pod, one ADD at a time). For a selected pod only
 *    when the annotation was there when the ADD came (addr-broker logged no wait for it); the
 *    pods whose ADD waited for the resource controller are counted apart.
 *
 *   npm run bench -- sg-pods [--pods 30] [--mode strict|standard]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { startDeployment } from "../deploy/local/deployment.ts";
import { writeStack } from "../deploy/local/stack.ts";
import { KubeApi, type PodEvent } from "../deploy/local/kubelet/api.ts";
import { UnixClient } from "../shared/ipc/client.ts";
import { getCapacity } from "../shared/contracts/capacity.ts";
import { intFlag, strFlag } from "./lib/args.ts";
import { command, ms, ratio, requireRoot, summarize } from "./lib/stats.ts";

requireRoot("sg-pods");
const argv = process.argv.slice(2);
const PODS = intFlag(argv, "pods", 30, 2);
const MODE = strFlag(argv, "mode", "strict", ["strict", "standard"] as const);
const INSTANCE = "m5.4xlarge"; // 54 branch ENIs: every selected pod held at once
const ENV = { WARM_IP_TARGET: "8", MINIMUM_IP_TARGET: String(PODS + 16), IP_COOLDOWN_PERIOD: "1" };
const WAIT_LOG = "waiting for the VPC resource controller's";

const dir = mkdtempSync(join(tmpdir(), "bench-sg-pods-"));
const dep = await startDeployment({ dir, nodes: 1, instanceType: INSTANCE, env: ENV, podEni: MODE, logger: pino({ level: "silent" }) });
const abort = new AbortController();

async function kubectl(args: string[], stdin?: string): Promise<string> {
  const p = Bun.spawn(["kubectl", "--kubeconfig", dep.stack.kube.kubeconfig, ...args], { stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${err.trim()}`);
  return out;
}

try {
  await writeStack(dir, dep.stack);
  const node = dep.stack.nodes[0]!;
  const layout = dep.layouts[0]!;
  const seen = new Map<string, number>();
  const onEvent = (e: PodEvent) => {
    for (const pod of e.type === "SYNCED" ? e.pods : [e.pod]) if (e.type !== "DELETED" && pod.status?.phase === "Running" && pod.status.podIP) seen.set(pod.metadata.name ?? "", seen.get(pod.metadata.name ?? "") ?? Date.now());
  };
  void new KubeApi(dep.stack.kube.endpoint).watchNodePods(node.name, onEvent, () => {}, abort.signal);

  const model = dep.cloud.model;
  const group = model.createSecurityGroupFromApi({ vpcId: Object.keys(model.state.vpcs)[0]!, name: "bench-selected", description: "sg-pods bench" });
  await kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "vpcresources.k8s.aws/v1beta1", kind: "SecurityGroupPolicy", metadata: { name: "bench", namespace: "default" }, spec: { podSelector: { matchLabels: { bench: "selected" } }, securityGroups: { groupIds: [group.id] } } }));
  const pool = new UnixClient(join(layout.runDir, "pool-manager.sock"), { timeoutMs: 5000 });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const cap = await pool.call(getCapacity, { since: -1, waitMs: 0 });
    if (cap.enis.some((e) => e.trunk) && cap.enis.flatMap((e) => e.cidrs).length >= PODS) break;
    if (Date.now() > deadline) throw new Error("no trunk ENI or no warm pool in pool-manager's capacity after 60 s");
    await Bun.sleep(200);
  }

  /** addr-broker's total time in successful ADDs so far, milliseconds. */
  const addSumMs = async () => {
    const text = await (await fetch("http://localhost/metrics", { unix: join(layout.runDir, "addr-broker.sock") })).text();
    const line = text.split("\n").find((l) => l.startsWith("awscni_cni_request_duration_seconds_sum") && l.includes('command="ADD"') && l.includes('outcome="ok"'));
    return line ? Number(line.split(" ").pop()) * 1000 : 0;
  };
  const waits = () => readFileSync(join(layout.logDir, "addr-broker.log"), "utf8").split(WAIT_LOG).length - 1;
  const podOf = (name: string, kind: "selected" | "unselected") => ({
    apiVersion: "v1", kind: "Pod", metadata: { name, namespace: "default", labels: { bench: kind } },
    spec: { nodeName: node.name, terminationGracePeriodSeconds: 0, containers: [{ name: "main", image: "busybox", command: ["sleep", "3600"] }] },
  });
  async function one(name: string, kind: "selected" | "unselected"): Promise<{ applyMs: number; addMs: number; waited: boolean }> {
    const [sum0, waits0] = [await addSumMs(), waits()];
    const t0 = Date.now();
    await kubectl(["apply", "-f", "-"], JSON.stringify(podOf(name, kind)));
    while (!seen.has(name)) {
      if (Date.now() - t0 > 120_000) throw new Error(`${name}: not Running after 120 s`);
      await Bun.sleep(10);
    }
    return { applyMs: seen.get(name)! - t0, addMs: (await addSumMs()) - sum0, waited: waits() > waits0 };
  }

  await one("warm-up-s", "selected");
  await one("warm-up-u", "unselected");
  const r = { selected: [] as Array<Awaited<ReturnType<typeof one>>>, unselected: [] as Array<Awaited<ReturnType<typeof one>>> };
  for (let i = 0; i < PODS; i++) {
    const order: Array<"selected" | "unselected"> = i % 2 === 0 ? ["selected", "unselected"] : ["unselected", "selected"];
    for (const kind of order) r[kind].push(await one(`${kind}-${i}`, kind));
  }
  const sApply = summarize(r.selected.map((x) => x.applyMs));
  const uApply = summarize(r.unselected.map((x) => x.applyMs));
  const ready = r.selected.filter((x) => !x.waited);
  const sAdd = summarize(ready.map((x) => x.addMs));
  const uAdd = summarize(r.unselected.map((x) => x.addMs));
  const wAdd = summarize(r.selected.filter((x) => x.waited).map((x) => x.addMs));
  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  console.log(`sg-pods: ${PODS} selected + ${PODS} unselected pods, interleaved, one ${INSTANCE} node, POD_SECURITY_GROUP_ENFORCING_MODE=${MODE}, processes mode, warm pool; load average at the end ${load}`);
  console.log(`  selected ÷ unselected, kubectl apply → Running: p50 ${ratio(sApply.p50, uApply.p50)}, p99 ${ratio(sApply.p99, uApply.p99)}; ADD (annotation there): p50 ${ratio(sAdd.p50, uAdd.p50)}, p99 ${ratio(sAdd.p99, uAdd.p99)}`);
  console.log(`  kubectl apply → Running: selected p50 ${ms(sApply.p50, 0)}, p99 ${ms(sApply.p99, 0)}; unselected p50 ${ms(uApply.p50, 0)}, p99 ${ms(uApply.p99, 0)}`);
  console.log(`  ADD in addr-broker: branch pod, annotation there (${sAdd.n} of ${PODS}): p50 ${ms(sAdd.p50)}, p99 ${ms(sAdd.p99)}; ordinary pod: p50 ${ms(uAdd.p50)}, p99 ${ms(uAdd.p99)}`);
  console.log(`  ADD that waited for the annotation (${wAdd.n} of ${PODS}): p50 ${ms(wAdd.p50)}, max ${ms(wAdd.max)}`);
  console.log(`  ${command("sg-pods", argv)}`);
} finally {
  abort.abort();
  await kubectl(["delete", "pods", "--all", "--wait=true", "--timeout=120s"]).catch(() => undefined);
  await dep.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
