/**
 * broker-add: what addr-broker itself adds to an ADD, without exec or kernel: its app in
 * process (`app.request`, as the shim's request arrives), a real checkpoint file (tmp +
 * fsync + rename), and an in-process fake net-config and pool-manager on real Unix sockets
 * (services/addr-broker/test-support/fakes.ts). Baseline, side by side: the wire call alone,
 * through the same typed client to the same fake — the one round trip an ADD cannot skip.
 * Each pod is ADDed then DELed (cooldown 0), so the pool stays at 110 addresses with a few
 * in use; arms alternate pod by pod.
 *
 *   npm run bench -- broker-add [--pods 2000]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileCheckpointStore } from "../services/addr-broker/src/adapters/checkpoint-store.ts";
import { netConfigClient, poolManagerClient } from "../services/addr-broker/src/adapters/peers.ts";
import { createAddrBroker } from "../services/addr-broker/src/app/app.ts";
import { DEFAULT_SETTINGS } from "../services/addr-broker/src/app/settings-from-config.ts";
import { FakeNetConfig, FakePoolManager, testCapacity } from "../services/addr-broker/test-support/fakes.ts";
import { intFlag } from "./lib/args.ts";
import { command, ms, ratio, summarize } from "./lib/stats.ts";

const argv = process.argv.slice(2);
const PODS = intFlag(argv, "pods", 2000);
const dir = mkdtempSync(join(tmpdir(), "bench-broker-add-"));
const noKernel = { scan: async () => ({ pods: [], hostVeths: [] }) };
const net = new FakeNetConfig("eni", () => true);
const pool = new FakePoolManager(testCapacity({ addresses: 110 }));
const servers = [await net.serve(join(dir, "net.sock")), await pool.serve(join(dir, "pool.sock"))];
const netConfig = netConfigClient(join(dir, "net.sock"), { kernel: noKernel, vethPrefix: "eni" });
const svc = createAddrBroker(
  { ...DEFAULT_SETTINGS, cooldownSeconds: 0, capacityWaitMs: 200, netConfigSocket: join(dir, "net.sock"), checkpointPath: join(dir, "ipam.json") },
  { store: new FileCheckpointStore(join(dir, "ipam.json")), kernel: noKernel, netConfig, pool: poolManagerClient(join(dir, "pool.sock")), now: () => Date.now(), netnsExists: () => true },
);
try {
  await svc.start();
  for (let i = 0; i < 200 && !svc.broker.capacity; i++) await Bun.sleep(5);
  if (!svc.broker.capacity) throw new Error("addr-broker got no capacity from the fake pool-manager");
  const stdin = JSON.stringify({ cniVersion: "1.0.0", name: "aws-cni", type: "aws-cni" });
  const env = (cmd: string, id: string) => ({ CNI_COMMAND: cmd, CNI_CONTAINERID: id, CNI_NETNS: `/run/netns/${id}`, CNI_IFNAME: "eth0", CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=${id}`, CNI_PATH: "/opt/cni/bin" });
  const cni = async (cmd: string, id: string) => {
    const res = await svc.frame.app.request("/v1/cni", { method: "POST", body: JSON.stringify({ env: env(cmd, id), stdin }) });
    const out = (await res.json()) as { exitCode: number; stdout: string };
    if (out.exitCode !== 0) throw new Error(`${cmd} ${id}: ${out.stdout}`);
  };
  const broker: number[] = [];
  const wire: number[] = [];
  const timeBroker = async (id: string) => {
    const t = performance.now();
    await cni("ADD", id);
    broker.push(performance.now() - t);
    await cni("DEL", id);
  };
  const timeWire = async (i: number) => {
    const p = { containerId: `w${i}`, ifName: "eth0", netns: `/run/netns/w${i}`, podNamespace: "bench", podName: `w${i}`, address: "10.0.9.1", routeTable: 254, hostVeth: "eniwirebench0" };
    const t = performance.now();
    await netConfig.wire(p);
    wire.push(performance.now() - t);
    await netConfig.unwire(p);
  };
  for (let i = 0; i < 50; i++) await timeBroker(`warm${i}`); // JIT, first checkpoint writes: not kept
  broker.length = 0;
  for (let i = 0; i < PODS; i++) {
    if (i % 2) await timeWire(i);
    await timeBroker(`p${i}`);
    if (!(i % 2)) await timeWire(i);
  }
  const [b, w] = [summarize(broker), summarize(wire)];
  console.log(`broker-add: ${PODS} ADDs through addr-broker's app in process (real checkpoint file, fake net-config and pool-manager on Unix sockets), alternating with the wire call alone`);
  console.log("ratios (addr-broker ADD ÷ the wire round trip alone):");
  console.log(`  p50 ${ratio(b.p50, w.p50)}, p99 ${ratio(b.p99, w.p99)}`);
  console.log("absolutes:");
  console.log(`  addr-broker ADD   p50 ${ms(b.p50, 3)}  p99 ${ms(b.p99, 3)}`);
  console.log(`  wire call alone   p50 ${ms(w.p50, 3)}  p99 ${ms(w.p99, 3)}`);
  console.log(`  addr-broker's own share at p50: ${ms(b.p50 - w.p50, 3)}`);
  console.log(`command: ${command("broker-add", argv)}`);
} finally {
  svc.stop();
  for (const s of servers) await s.stop();
  rmSync(dir, { recursive: true, force: true });
}
