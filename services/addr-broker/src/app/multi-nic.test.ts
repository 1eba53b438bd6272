// ENABLE_MULTI_NIC, multi-homed pods through the whole addr-broker service (app.request), with
// the fake net-config and pool-manager on real sockets and card 1's checkpoint on disk.
// Assumptions: card 0's ENI has 10.0.1.1-8; card 1 has one set-up ENI (device 0, table 10100)
// with 10.1.0.5 and 10.1.0.6.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import type { CapacitySnapshot } from "../../../../shared/contracts/capacity.ts";
import { hostVethName } from "../../../../shared/naming.ts";
import { FakeNetConfig, FakePoolManager, multiCardCapacity } from "../../test-support/fakes.ts";
import { MemoryCheckpointStore } from "../adapters/checkpoint-store.ts";
import { netConfigClient, poolManagerClient } from "../adapters/peers.ts";
import type { AddrBroker } from "./app.ts";
import { AppHarness, noKernel } from "../../test-support/app-harness.ts";
import { DEFAULT_SETTINGS } from "./settings-from-config.ts";

const h = new AppHarness("abmnic-");

const live = new Set<string>();

async function setup(opts: { multiNic?: boolean; capacity?: CapacitySnapshot; store?: MemoryCheckpointStore; net?: FakeNetConfig } = {}) {
  const n = h.started;
  const net = opts.net ?? new FakeNetConfig("eni", (p) => live.has(p));
  const pool = new FakePoolManager(opts.capacity ?? multiCardCapacity());
  if (!opts.net) await h.serve(net.serve(h.path(`net${n}.sock`)));
  await h.serve(pool.serve(h.path(`pool${n}.sock`)));
  const store = opts.store ?? new MemoryCheckpointStore();
  const settings = { ...DEFAULT_SETTINGS, missWaitMs: 0, capacityWaitMs: 200, cooldownSeconds: 30, netConfigSocket: h.path("net0.sock"), checkpointPath: h.path("ipam.json"), multiNic: opts.multiNic ?? true };
  const svc = await h.start(settings, {
    store,
    kernel: noKernel,
    netConfig: netConfigClient(h.path("net0.sock"), { kernel: noKernel, vethPrefix: "eni" }),
    pool: poolManagerClient(h.path(`pool${n}.sock`)),
    netnsExists: (p) => live.has(p),
  });
  return { svc, net, pool, store };
}

const MULTI = { runtimeConfig: { "io.kubernetes.cri.pod-annotations": { "k8s.amazonaws.com/nicConfig": "multi-nic-attachment" } } };
const conf = (extra: object = {}) => JSON.stringify({ cniVersion: "1.0.0", name: "aws-cni", type: "aws-cni", ...extra });
function env(cmd: string, id: string) {
  const netns = `/run/netns/mnic-${id}`;
  live.add(netns);
  return { CNI_COMMAND: cmd, CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: "eth0", CNI_ARGS: `K8S_POD_NAMESPACE=ml;K8S_POD_NAME=${id}` };
}
async function cni(svc: AddrBroker, cmd: string, id: string, stdin = conf(MULTI)) {
  const res = await svc.frame.app.request("/v1/cni", { method: "POST", body: JSON.stringify({ env: env(cmd, id), stdin }) });
  const out = (await res.json()) as { exitCode: number; stdout: string };
  return { exitCode: out.exitCode, json: out.stdout ? JSON.parse(out.stdout) : undefined };
}
const card1File = () => JSON.parse(readFileSync(h.path("ipam-nic-1.json"), "utf8")) as { allocations: Array<{ containerID: string; ipv4: string; ifName: string }> };

describe("multi-homed pods (k8s.amazonaws.com/nicConfig: multi-nic-attachment)", () => {
  test("ADD: one address per card, each on its own interface; card 1's on disk in ipam-nic-1.json; listed for net-config; counted in usage", async () => {
    const { svc, net } = await setup();
    const r = await cni(svc, "ADD", "trainer");
    expect(r.exitCode).toBe(0);
    const host0 = hostVethName("eni", { namespace: "ml", name: "trainer", containerId: "trainer", ifName: "eth0" });
    const host1 = hostVethName("eni", { namespace: "ml", name: "trainer.1", containerId: "trainer", ifName: "mNicIf1" });
    expect(r.json.interfaces.map((i: { name: string; sandbox?: string }) => [i.name, i.sandbox ?? null])).toEqual([
      [host0, null],
      ["eth0", "/run/netns/mnic-trainer"],
      [host1, null],
      ["mNicIf1", "/run/netns/mnic-trainer"],
    ]);
    expect(r.json.ips).toEqual([
      { address: "10.0.1.1/32", gateway: "169.254.1.1", interface: 1 },
      { address: "10.1.0.5/32", gateway: "169.254.1.2", interface: 3 },
    ]);
    expect([...net.pods.values()].map((p) => [p.ifName, p.address, p.hostVeth]).sort()).toEqual([
      ["eth0", "10.0.1.1", host0],
      ["mNicIf1", "10.1.0.5", host1],
    ]);
    expect(card1File().allocations).toMatchObject([{ containerID: "trainer", ifName: "eth0", ipv4: "10.1.0.5" }]);
    const listed = (await (await svc.frame.app.request("/v1/assignments")).json()) as { assignments: Array<Record<string, unknown>> };
    expect(listed.assignments.map((a) => [a.ifName, a.address, a.routeTable, a.index ?? 0])).toEqual([
      ["eth0", "10.0.1.1", 254, 0],
      ["mNicIf1", "10.1.0.5", 10100, 1],
    ]);
    const usage = svc.broker.usage();
    expect(usage.cidrs.find((c) => c.cidr === "10.1.0.5/32")).toMatchObject({ assigned: 1 });
    expect(usage.assigned).toBe(1); // card 0's totals, which its pool planning reads
    const debug = (await (await svc.frame.app.request("/debug")).json()) as { networkCards: { managed: number[]; cards: Record<string, { assignments: unknown[] }> } };
    expect(debug.networkCards.managed).toEqual([1]);
    expect(debug.networkCards.cards["1"]!.assignments).toHaveLength(1);
  });

  test("CHECK covers every interface; DEL unwires and releases both (card 1's address cools down)", async () => {
    const { svc, net } = await setup();
    expect((await cni(svc, "ADD", "a")).exitCode).toBe(0);
    expect((await cni(svc, "CHECK", "a")).exitCode).toBe(0);
    net.pods.delete("a/mNicIf1");
    const bad = await cni(svc, "CHECK", "a");
    expect(bad.exitCode).toBe(1);
    expect(bad.json.code).toBe(103);
    expect(bad.json.msg).toContain("a/mNicIf1");
    expect((await cni(svc, "ADD", "a")).exitCode).toBe(0); // a retried ADD re-wires, same addresses
    expect(net.pods.get("a/mNicIf1")?.address).toBe("10.1.0.5");
    expect((await cni(svc, "DEL", "a")).exitCode).toBe(0);
    expect(net.pods.size).toBe(0);
    expect(card1File().allocations).toEqual([]);
    expect(svc.broker.allocations()).toEqual([]);
    // 10.1.0.5 is cooling: the next multi-homed pod gets 10.1.0.6 on card 1.
    const next = await cni(svc, "ADD", "b");
    expect(next.json.ips[1].address).toBe("10.1.0.6/32");
    expect((await cni(svc, "DEL", "b")).exitCode).toBe(0);
    expect((await cni(svc, "DEL", "b")).exitCode).toBe(0); // idempotent
  });

  test("an ordinary pod on the same node: one interface, nothing taken on card 1", async () => {
    const { svc } = await setup();
    const r = await cni(svc, "ADD", "web", conf());
    expect(r.exitCode).toBe(0);
    expect(r.json.interfaces).toHaveLength(2);
    expect(r.json.ips).toEqual([{ address: "10.0.1.1/32", gateway: "169.254.1.1", interface: 1 }]);
    expect(existsSync(h.path("ipam-nic-1.json"))).toBe(false);
    // Another value of the annotation is an ordinary pod too (upstream falls back to one interface).
    const other = await cni(svc, "ADD", "web2", conf({ runtimeConfig: { "io.kubernetes.cri.pod-annotations": { "k8s.amazonaws.com/nicConfig": "something-else" } } }));
    expect(other.json.ips).toHaveLength(1);
  });

  test("without ENABLE_MULTI_NIC the pod's ADD is refused naming the annotation, and nothing is assigned or wired", async () => {
    const { svc, net } = await setup({ multiNic: false });
    const r = await cni(svc, "ADD", "trainer");
    expect(r.exitCode).toBe(1);
    expect(r.json.code).toBe(2);
    expect(r.json.msg).toContain("k8s.amazonaws.com/nicConfig");
    expect(svc.broker.allocations()).toEqual([]);
    expect(net.pods.size).toBe(0);
    expect(existsSync(h.path("ipam-nic-1.json"))).toBe(false);
  });

  test("a card with no free address: the ADD fails with 11 and card 0's address is given back", async () => {
    const { svc, net } = await setup({ capacity: multiCardCapacity([]) });
    const r = await cni(svc, "ADD", "trainer");
    expect(r.exitCode).toBe(1);
    expect(r.json.code).toBe(11);
    expect(r.json.msg).toContain("network card 1");
    expect(svc.broker.allocations()).toEqual([]);
    expect(net.pods.size).toBe(0);
  });

  test("a restarted addr-broker adopts ipam-nic-1.json in place; DEL then releases the pod on both cards", async () => {
    const store = new MemoryCheckpointStore();
    const first = await setup({ store });
    expect((await cni(first.svc, "ADD", "keep")).exitCode).toBe(0);
    first.svc.stop();
    const second = await setup({ store, net: first.net });
    const listed = (await (await second.svc.frame.app.request("/v1/assignments")).json()) as { assignments: Array<{ ifName: string; address: string }> };
    expect(listed.assignments.map((a) => [a.ifName, a.address])).toEqual([
      ["eth0", "10.0.1.1"],
      ["mNicIf1", "10.1.0.5"],
    ]);
    expect((await cni(second.svc, "DEL", "keep")).exitCode).toBe(0);
    expect(card1File().allocations).toEqual([]);
    expect(first.net.pods.size).toBe(0);
  });
});
