/**
 * policy-controller: NetworkPolicy created → its first PolicyEndpoint written, as a watcher of
 * the API sees it. A simulated API server on loopback holds `--pods` network-ready pods (half
 * labelled app=web, half role=client, over two namespaces); the controller runs as the local
 * deployment runs it (a process, deploy/local/policy-controller.ts). Phase 1 creates
 * `--policies` policies one at a time (each waits for its PolicyEndpoint); phase 2 creates as
 * many at once. Each policy selects the app=web pods of bench-a (a quarter) and allows the
 * role=client pods (half) from every namespace on TCP 80, so resolution reads every pod. No root needed. No baseline: upstream's
 * controller publishes no latency figures (its 1 s batching applies to pod events only).
 *   npm run bench -- policy-controller [--policies 50] [--pods 400]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeRest, readKubeconfig, staticCredentials } from "../shared/kube-rest.ts";
import { serveKube, writeKubeconfig } from "../deploy/local/sim-kube/serve.ts";
import { startPolicyController } from "../deploy/local/policy-controller.ts";
import { intFlag } from "./lib/args.ts";
import { command, ms, summarize } from "./lib/stats.ts";

const args = process.argv.slice(2);
const policies = intFlag(args, "policies", 50);
const podCount = intFlag(args, "pods", 400);

const dir = await mkdtemp(join(tmpdir(), "bench-policy-controller-"));
const kube = serveKube({ hostname: "127.0.0.1", port: 0, namespaces: ["default", "kube-system", "bench-a", "bench-b"] });
const kubeconfig = join(dir, "kubeconfig");
await writeKubeconfig(kubeconfig, kube.url);
const { cluster, user } = readKubeconfig(kubeconfig);
const rest = new KubeRest({ cluster, credentials: staticCredentials(cluster, user) });
const controller = await startPolicyController({ dir, kube: { endpoint: kube.url, kubeconfig } }, { info: () => {} });

try {
  for (let i = 0; i < podCount; i++) {
    const ns = i % 2 === 0 ? "bench-a" : "bench-b";
    const name = `pod-${i}`;
    await rest.request("POST", `/api/v1/namespaces/${ns}/pods`, { body: { metadata: { name, labels: i % 4 < 2 ? { app: "web" } : { role: "client" } }, spec: { nodeName: "node-a", containers: [{ name: "main", image: "busybox", ports: [{ name: "http", containerPort: 80 }] }] } } });
    await rest.request("PATCH", `/api/v1/namespaces/${ns}/pods/${name}/status`, { body: { status: { phase: "Running", podIP: `10.1.${i >> 8}.${i & 255}`, hostIP: "10.0.0.10" } }, merge: true });
  }
  // the first PolicyEndpoint of each policy, as a watch of the API delivers it
  const seen = new Map<string, number>();
  await rest.watch("/apis/networking.k8s.aws/v1alpha1/policyendpoints", {}, (type, object) => {
    const ref = (object as { metadata: { namespace: string }; spec?: { policyRef?: { name: string } } }).spec?.policyRef;
    const key = `${(object as { metadata: { namespace: string } }).metadata.namespace}/${ref?.name}`;
    if (type === "ADDED" && !seen.has(key)) seen.set(key, performance.now());
  }, () => {});
  const policy = (name: string) => ({ metadata: { name }, spec: { podSelector: { matchLabels: { app: "web" } }, ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { role: "client" } } }], ports: [{ port: 80 }] }] } });
  const create = async (name: string) => {
    const t0 = performance.now();
    await rest.request("POST", "/apis/networking.k8s.io/v1/namespaces/bench-a/networkpolicies", { body: policy(name) });
    return t0;
  };
  const waitFor = async (keys: string[]) => {
    const deadline = Date.now() + 60_000;
    while (!keys.every((k) => seen.has(k))) {
      if (Date.now() > deadline) throw new Error(`timed out: ${keys.filter((k) => !seen.has(k)).length} policies without a PolicyEndpoint`);
      await Bun.sleep(1);
    }
  };
  // warm-up (the controller's lists, the first resolution)
  await create("warm");
  await waitFor(["bench-a/warm"]);

  const sequential: number[] = [];
  for (let i = 0; i < policies; i++) {
    const t0 = await create(`seq-${i}`);
    await waitFor([`bench-a/seq-${i}`]);
    sequential.push(seen.get(`bench-a/seq-${i}`)! - t0);
  }
  const starts = new Map<string, number>();
  await Promise.all(Array.from({ length: policies }, async (_, i) => starts.set(`bench-a/burst-${i}`, await create(`burst-${i}`))));
  await waitFor([...starts.keys()]);
  const burst = [...starts].map(([k, t0]) => seen.get(k)! - t0);

  const s = summarize(sequential);
  const b = summarize(burst);
  console.log(`NetworkPolicy created → first PolicyEndpoint seen by a watcher (${podCount} pods, ${policies} policies)`);
  console.log(`  one at a time: p50 ${ms(s.p50)}, p99 ${ms(s.p99)}, max ${ms(s.max)}`);
  console.log(`  ${policies} at once:   p50 ${ms(b.p50)}, p99 ${ms(b.p99)}, max ${ms(b.max)}`);
  console.log(command("policy-controller", args));
} finally {
  await controller.stop();
  await kube.stop();
  await rm(dir, { recursive: true, force: true });
}
process.exit(0);
