/**
 * cni-add-ipv6: CNI ADD and DEL latency of an IPv6 node against an IPv4 node, in one run on
 * one machine: two single-node local deployments started side by side, one IPv4 (warm pool of
 * secondary IPs, as `cni-add` sets it up), one IPv6 (`up --ipv6`: ENABLE_IPv6, prefix
 * delegation, pods out of the primary ENI's /80). The compiled aws-cni shim is exec'd under
 * `ip netns exec <node ns>` as a kubelet would, the two arms alternating pod by pod (order
 * rotated) so machine noise hits them alike; pods are held in batches, then deleted.
 *
 *   npm run bench -- cni-add-ipv6 [--pods 200] [--batch 50] [--instance-type m5.4xlarge] [--cooldown 1]
 *
 * What differs on the IPv6 path: the address comes out of a /80 (no warm pool to check), the
 * pod side gets its /128 with DAD off and fe80::1 as gateway, the host adds a /128 route; no
 * per-ENI rule (the pod is on the primary ENI: main table), no SNAT.
 */
import { join } from "node:path";
import type { Attachment } from "../deploy/local/cni-runtime.ts";
import { intFlag, strFlag } from "./lib/args.ts";
import { BenchNode } from "./lib/node.ts";
import { PodSandboxes, timedAdd, timedDel, type Timed } from "./lib/pods.ts";
import { command, ms, ratio, requireRoot, summarize } from "./lib/stats.ts";

requireRoot("cni-add-ipv6");
const argv = process.argv.slice(2);
const PODS = intFlag(argv, "pods", 200);
const BATCH = Math.min(intFlag(argv, "batch", 50), PODS);
const INSTANCE = strFlag(argv, "instance-type", "m5.4xlarge");
const COOLDOWN = intFlag(argv, "cooldown", 1, 0);

type ArmName = "IPv4" | "IPv6";
const ARMS: ArmName[] = ["IPv4", "IPv6"];

const sandboxes = new PodSandboxes();
const nodes: Partial<Record<ArmName, BenchNode>> = {};
const t0 = performance.now();
try {
  const cooldown = { IP_COOLDOWN_PERIOD: String(COOLDOWN) };
  nodes.IPv4 = await BenchNode.start({ label: "cni-add-v4", instanceType: INSTANCE, env: { MINIMUM_IP_TARGET: "110", WARM_IP_TARGET: "64", ...cooldown } });
  nodes.IPv6 = await BenchNode.start({ label: "cni-add-v6", instanceType: INSTANCE, env: cooldown, ipv6: true });
  const node = (a: ArmName) => nodes[a]!;
  const arms = Object.fromEntries(ARMS.map((a) => [a, { rt: node(a).runtime("aws-cni", true, join(node(a).dir, "bench-cache")), add: [] as Timed[], del: [] as Timed[], errors: [] as string[] }])) as Record<ArmName, { rt: ReturnType<BenchNode["runtime"]>; add: Timed[]; del: Timed[]; errors: string[] }>;
  const nsByArm = new Map(ARMS.map((a) => [a, Array.from({ length: BATCH }, () => sandboxes.namespace())]));

  const run = async (total: number, batch: number, recordIt: boolean) => {
    for (let done = 0; done < total; done += batch) {
      const size = Math.min(batch, total - done);
      await Promise.all(ARMS.map((a) => node(a).waitFree(size)));
      const held = new Map<ArmName, Attachment[]>(ARMS.map((a) => [a, []]));
      for (let j = 0; j < size; j++) {
        for (let k = 0; k < ARMS.length; k++) {
          const name = ARMS[(j + k) % ARMS.length]!;
          const at = sandboxes.attachment(nsByArm.get(name)![j]!, name.toLowerCase());
          held.get(name)!.push(at);
          const t = await timedAdd(arms[name].rt, at);
          if (recordIt) arms[name].add.push(t);
          if (t.error) arms[name].errors.push(`ADD: ${t.error}`);
        }
      }
      for (let j = 0; j < size; j++) {
        for (let k = 0; k < ARMS.length; k++) {
          const name = ARMS[(j + k) % ARMS.length]!;
          const t = await timedDel(arms[name].rt, held.get(name)![j]!);
          if (recordIt) arms[name].del.push(t);
          if (t.error) arms[name].errors.push(`DEL: ${t.error}`);
        }
      }
    }
  };

  await run(5, 5, false); // warm-up: page cache, first netlink sockets, JIT
  await run(PODS, BATCH, true);

  const s = Object.fromEntries(ARMS.map((a) => [a, { add: summarize(arms[a].add.filter((t) => !t.error).map((t) => t.ms)), del: summarize(arms[a].del.filter((t) => !t.error).map((t) => t.ms)) }])) as Record<ArmName, { add: ReturnType<typeof summarize>; del: ReturnType<typeof summarize> }>;
  const left = await Promise.all(ARMS.map(async (a) => (await node(a).assignments()).filter((x) => x.containerId.startsWith(`bench${process.pid}x`)).length));
  console.log(`cni-add-ipv6: ${PODS} sequential pods per arm (batches of ${BATCH} held), arms alternating; one ${INSTANCE} node per arm, IP_COOLDOWN_PERIOD=${COOLDOWN}; aws-cni exec'd under ip netns exec <node ns>`);
  console.log("ratios (IPv6 ÷ IPv4):");
  console.log(`  ADD p50  ${ratio(s.IPv6.add.p50, s.IPv4.add.p50)}`);
  console.log(`  ADD p99  ${ratio(s.IPv6.add.p99, s.IPv4.add.p99)}`);
  console.log(`  DEL p50  ${ratio(s.IPv6.del.p50, s.IPv4.del.p50)}`);
  console.log(`  DEL p99  ${ratio(s.IPv6.del.p99, s.IPv4.del.p99)}`);
  console.log("absolutes:");
  for (const a of ARMS) console.log(`  ${a}  ADD p50 ${ms(s[a].add.p50).padStart(9)} p99 ${ms(s[a].add.p99).padStart(9)} max ${ms(s[a].add.max).padStart(9)} | DEL p50 ${ms(s[a].del.p50).padStart(9)} p99 ${ms(s[a].del.p99).padStart(9)}  (n=${s[a].add.n})`);
  const errors = ARMS.flatMap((a) => arms[a].errors.map((e) => `${a}: ${e}`));
  console.log(`errors: ${errors.length}${errors.length ? "\n  " + errors.slice(0, 5).join("\n  ") : ""}`);
  console.log(`left behind: ${left[0]} IPv4 and ${left[1]} IPv6 assignments`);
  console.log(`machine: ${navigator.hardwareConcurrency} CPUs; bench took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`command: ${command("cni-add-ipv6", argv)}`);
  if (errors.length > 0) process.exitCode = 1;
} finally {
  sandboxes.cleanup();
  for (const n of Object.values(nodes)) await n?.stop();
}
