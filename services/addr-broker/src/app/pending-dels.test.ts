// DELs the shim recorded while addr-broker was unreachable, released at the next start.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writePendingDel } from "../../../../shared/pending-del.ts";
import type { UnixServer } from "../../../../shared/ipc/server.ts";
import { FakeNetConfig, FakePoolManager, testCapacity } from "../../test-support/fakes.ts";
import { MemoryCheckpointStore } from "../adapters/checkpoint-store.ts";
import type { KernelScan } from "../adapters/kernel-scan.ts";
import { netConfigClient, poolManagerClient } from "../adapters/peers.ts";
import { createAddrBroker, type AddrBroker } from "./app.ts";
import { DEFAULT_SETTINGS } from "./settings-from-config.ts";

const dir = mkdtempSync(join(tmpdir(), "pending-del-"));
const servers: UnixServer[] = [];
const running: AddrBroker[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) s.stop();
  for (const s of servers.splice(0)) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

const noKernel: KernelScan = { scan: async () => ({ pods: [], hostVeths: [] }) };
const live = new Set<string>();

/** An addr-broker over `store` and `net`, whose pods' veths all exist (so the sweep releases nothing by itself). */
async function broker(store: MemoryCheckpointStore, clock: { t: number }, n: number, net: FakeNetConfig): Promise<AddrBroker> {
  servers.push(await net.serve(join(dir, `net${n}.sock`)), await new FakePoolManager(testCapacity()).serve(join(dir, `pool${n}.sock`)));
  const svc = createAddrBroker({ ...DEFAULT_SETTINGS, missWaitMs: 0, capacityWaitMs: 200, netConfigSocket: join(dir, `net${n}.sock`) }, {
    store,
    kernel: noKernel,
    netConfig: netConfigClient(join(dir, `net${n}.sock`), { kernel: noKernel, vethPrefix: "eni" }),
    pool: poolManagerClient(join(dir, `pool${n}.sock`)),
    now: () => clock.t,
    netnsExists: (p) => live.has(p),
    pendingDelRunDir: dir,
    sweepRetryMs: 20,
  });
  running.push(svc);
  await svc.start();
  for (let i = 0; i < 100 && !svc.broker.capacity; i++) await Bun.sleep(5);
  return svc;
}

async function add(svc: AddrBroker, id: string): Promise<string> {
  const ns = `/run/netns/pd-${id}`;
  live.add(ns);
  const env = { CNI_COMMAND: "ADD", CNI_CONTAINERID: id, CNI_NETNS: ns, CNI_IFNAME: "eth0", CNI_ARGS: `K8S_POD_NAMESPACE=default;K8S_POD_NAME=${id}` };
  const res = await svc.frame.app.request("/v1/cni", { method: "POST", body: JSON.stringify({ env, stdin: JSON.stringify({ cniVersion: "1.0.0", name: "aws-cni", type: "aws-cni" }) }) });
  const out = (await res.json()) as { exitCode: number; stdout: string };
  expect(out.exitCode).toBe(0);
  return JSON.parse(out.stdout).ips[0].address.split("/")[0];
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await Bun.sleep(10);
}

test("recorded DELs release their pods at the next start; a later ADD of the same attachment, a moved address and junk are left alone", async () => {
  const store = new MemoryCheckpointStore();
  const clock = { t: 1_700_000_000_000 };
  const net = new FakeNetConfig("eni", (p) => live.has(p));
  const first = await broker(store, clock, 0, net);
  const gone = await add(first, "gone");
  const noPrev = await add(first, "noprev");
  const moved = await add(first, "moved");
  clock.t += 1000;
  const recordedAt = clock.t;
  clock.t += 1000;
  const readded = await add(first, "readded"); // assigned after the DEL below was recorded
  first.stop();
  running.splice(0);
  writePendingDel(dir, { networkName: "aws-cni", containerId: "gone", ifName: "eth0", address: gone, at: recordedAt });
  writePendingDel(dir, { networkName: "aws-cni", containerId: "noprev", ifName: "eth0", address: "", at: recordedAt });
  writePendingDel(dir, { networkName: "aws-cni", containerId: "moved", ifName: "eth0", address: "10.9.9.9", at: recordedAt });
  writePendingDel(dir, { networkName: "aws-cni", containerId: "readded", ifName: "eth0", address: readded, at: recordedAt });
  await Bun.write(join(dir, "pending-del", `${"0".repeat(32)}.json`), "{not json");

  const second = await broker(store, clock, 1, net);
  await until(() => readdirSync(join(dir, "pending-del")).filter((n) => n !== `${"0".repeat(32)}.json`).length === 0);
  const held = new Map(second.broker.allocations().map((a) => [a.containerId, a.address]));
  expect(held.has("gone")).toBe(false);
  expect(held.has("noprev")).toBe(false);
  expect(held.get("moved")).toBe(moved);
  expect(held.get("readded")).toBe(readded);
  expect(noPrev).toBeDefined();
  // The released addresses cool down before anyone gets them again.
  expect(second.broker.state.cooling.has(gone)).toBe(true);
});
