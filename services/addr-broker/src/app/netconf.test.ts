// A bad network configuration changes nothing; the conflist's vethPrefix names the veth.
// The service in-process (app.request) with fake net-config and pool-manager on real sockets.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { UnixServer } from "../../../../shared/ipc/server.ts";
import { hostVethName } from "../../../../shared/naming.ts";
import { FakeNetConfig, FakePoolManager, testCapacity } from "../../test-support/fakes.ts";
import { MemoryCheckpointStore } from "../adapters/checkpoint-store.ts";
import type { KernelScan } from "../adapters/kernel-scan.ts";
import { netConfigClient, poolManagerClient } from "../adapters/peers.ts";
import { createAddrBroker, type AddrBroker } from "./app.ts";
import { DEFAULT_SETTINGS } from "./settings-from-config.ts";

let dir = "";
const servers: UnixServer[] = [];
let svc: AddrBroker | undefined;
afterEach(async () => {
  svc?.stop();
  svc = undefined;
  for (const s of servers.splice(0)) await s.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = "";
});

const noKernel: KernelScan = { scan: async () => ({ pods: [], hostVeths: [] }) };
const netns = new Set<string>();

async function setup() {
  dir = mkdtempSync(join(tmpdir(), "abconf-"));
  const net = new FakeNetConfig("eni", (p) => netns.has(p));
  const pool = new FakePoolManager(testCapacity());
  servers.push(await net.serve(join(dir, "net.sock")), await pool.serve(join(dir, "pool.sock")));
  const store = new MemoryCheckpointStore();
  const service = createAddrBroker(
    { ...DEFAULT_SETTINGS, vethPrefix: "eni", missWaitMs: 0, capacityWaitMs: 200, netConfigSocket: join(dir, "net.sock") },
    { store, kernel: noKernel, netConfig: netConfigClient(join(dir, "net.sock"), { kernel: noKernel, vethPrefix: "eni" }), pool: poolManagerClient(join(dir, "pool.sock")), now: () => 1_700_000_000_000, netnsExists: (p) => netns.has(p) },
  );
  svc = service;
  await service.start();
  for (let i = 0; i < 100 && !service.broker.capacity; i++) await Bun.sleep(5);
  return { svc: service, net, store };
}

function pod(id: string) {
  const ns = `/run/netns/conf-${id}`;
  netns.add(ns);
  return { CNI_CONTAINERID: id, CNI_NETNS: ns, CNI_IFNAME: "eth0", CNI_ARGS: `K8S_POD_NAMESPACE=default;K8S_POD_NAME=${id}` };
}

async function cni(s: AddrBroker, env: Record<string, string>, conf: Record<string, unknown>) {
  const stdin = JSON.stringify({ cniVersion: "1.0.0", name: "aws-cni", type: "aws-cni", ...conf });
  const res = await s.frame.app.request("/v1/cni", { method: "POST", body: JSON.stringify({ env, stdin }) });
  const out = (await res.json()) as { exitCode: number; stdout: string };
  return { exitCode: out.exitCode, json: out.stdout ? JSON.parse(out.stdout) : undefined };
}

describe("network configuration through the service", () => {
  test("each bad config: error 7 naming the key, no address assigned, checkpoint untouched, nothing wired", async () => {
    const { svc: s, net, store } = await setup();
    // One good pod first, so "unchanged" is about a non-empty state.
    expect((await cni(s, { CNI_COMMAND: "ADD", ...pod("good") }, {})).exitCode).toBe(0);
    const before = { text: store.text, writes: store.writes, wired: [...net.pods.keys()], allocations: s.broker.allocations().length };
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ vethPrefix: {} }, "vethPrefix"],
      [{ brokerSocket: true }, "brokerSocket"],
      [{ mtu: "x" }, "mtu"],
      [{ pluginLogLevel: 3 }, "pluginLogLevel"],
      [{ vethPrefix: "abcde" }, "vethPrefix"],
      [{ runtimeConfig: { "io.kubernetes.cri.pod-annotations": [] } }, "runtimeConfig.io.kubernetes.cri.pod-annotations"],
    ];
    for (const [conf, key] of bad) {
      const r = await cni(s, { CNI_COMMAND: "ADD", ...pod(`bad${key.length}`) }, conf);
      expect(r.exitCode).toBe(1);
      expect(r.json.code).toBe(7);
      expect(r.json.msg.startsWith(`${key}: `)).toBe(true);
    }
    expect(store.text).toBe(before.text);
    expect(store.writes).toBe(before.writes);
    expect([...net.pods.keys()]).toEqual(before.wired);
    expect(s.broker.allocations().length).toBe(before.allocations);
    // A DEL with a bad config is refused too (as upstream), and releases nothing.
    const del = await cni(s, { CNI_COMMAND: "DEL", ...pod("good") }, { mtu: 1500 });
    expect(del.json.code).toBe(7);
    expect(s.broker.allocations().length).toBe(before.allocations);
    expect([...net.pods.keys()]).toEqual(before.wired);
  });

  test("a conflist vethPrefix other than the node's names the host veth; DEL and the assignments list keep it", async () => {
    const { svc: s, net, store } = await setup();
    const env = pod("cfgp");
    const add = await cni(s, { CNI_COMMAND: "ADD", ...env }, { vethPrefix: "cfg" });
    expect(add.exitCode).toBe(0);
    const want = hostVethName("cfg", { namespace: "default", name: "cfgp", containerId: "cfgp", ifName: "eth0" });
    expect(add.json.interfaces[0].name).toBe(want);
    expect(net.pods.get("cfgp/eth0")?.hostVeth).toBe(want);
    expect(JSON.parse(store.text ?? "{}").allocations[0].hostVeth).toBe(want);
    const listed = (await (await s.frame.app.request("/v1/assignments")).json()) as { assignments: Array<{ vethPrefix?: string }> };
    expect(listed.assignments[0]?.vethPrefix).toBe("cfg");
    expect((await cni(s, { CNI_COMMAND: "DEL", ...env }, { vethPrefix: "cfg" })).exitCode).toBe(0);
    expect(net.pods.size).toBe(0);
    expect(s.broker.allocations().length).toBe(0);
  });
});
