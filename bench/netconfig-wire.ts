/**
 * Benchmark (not a test): a pod's wiring alone — veth pair, pod address/routes/neighbour,
 * host route and rules, as net-config's PodService does it over rtnetlink — against a
 * baseline in the same run doing the same operations with one `ip` process each.
 * Pods alternate between the two so machine noise hits both alike. Needs root.
 *
 *   node_modules/.bin/bun bench/netconfig-wire.ts [--pods N]   (default 200)
 */
import { NetlinkKernel } from "../services/net-config/src/adapters/netlink-kernel.ts";
import { runWithSpawns } from "../services/net-config/src/adapters/ip-spawn.ts";
import { PodService } from "../services/net-config/src/app/pod-service.ts";
import { planWire } from "../services/net-config/src/core/pod-wiring.ts";
import { DEFAULT_SETTINGS } from "../services/net-config/src/core/settings.ts";
import { randomLocalMac } from "../services/net-config/src/adapters/random-mac.ts";
import { Namespaces } from "../services/net-config/test-support/namespaces.ts";
import { intFlag } from "./lib/args.ts";
import { pct } from "./lib/stats.ts";
import { onInterrupt } from "./lib/interrupt.ts";

if (process.getuid?.() !== 0) {
  console.error("bench/netconfig-wire.ts needs root (network namespaces)");
  process.exit(1);
}
const N = intFlag(process.argv.slice(2), "pods", 200);
const settings = { ...DEFAULT_SETTINGS, podMtu: 9001 };
const nss = new Namespaces();
onInterrupt(() => nss.cleanup());

try {
  const nodeA = nss.add("ba");
  const nodeB = nss.add("bb");
  const kernel = new NetlinkKernel({ path: nodeA.path });
  const pods = new PodService(kernel, () => settings);
  const fast: number[] = [];
  const slow: number[] = [];
  const podNs = Array.from({ length: 2 * N }, () => nss.add("q"));
  const req = (i: number) => ({
    containerId: `bench${i}`, ifName: "eth0", netns: podNs[i]!.path, podNamespace: "bench", podName: `pod${i}`,
    address: `10.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, routeTable: i % 2 ? 254 : 3,
  });
  for (let i = 0; i < N; i++) {
    let t = performance.now();
    pods.wire(req(2 * i));
    fast.push(performance.now() - t);
    const r = req(2 * i + 1);
    t = performance.now();
    await runWithSpawns(planWire(r, settings, randomLocalMac()).steps, nodeB.path, r.netns);
    slow.push(performance.now() - t);
  }
  kernel.close();
  const [f50, f99, s50, s99] = [pct(fast, 50), pct(fast, 99), pct(slow, 50), pct(slow, 99)];
  console.log(`ratio (one ip process per operation ÷ rtnetlink): p50 ${(s50 / f50).toFixed(1)}x, p99 ${(s99 / f99).toFixed(1)}x`);
  console.log(`rtnetlink (net-config):        p50 ${f50.toFixed(3)} ms  p99 ${f99.toFixed(3)} ms  (${N} pods, target p50 < 2 ms)`);
  console.log(`baseline (ip spawn per op):    p50 ${s50.toFixed(3)} ms  p99 ${s99.toFixed(3)} ms  (${N} pods)`);
  console.log(`command: node_modules/.bin/bun bench/netconfig-wire.ts ${N}`);
} finally {
  nss.cleanup();
}
