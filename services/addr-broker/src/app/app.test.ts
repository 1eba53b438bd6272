// The service in-process (app.request), with fake net-config and pool-manager on real sockets.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { hostVethName } from "../../../../shared/naming.ts";
import { FakeNetConfig, FakePoolManager, testCapacity } from "../../test-support/fakes.ts";
import { MemoryCheckpointStore } from "../adapters/checkpoint-store.ts";
import { conflistInstaller } from "../adapters/conflist-installer.ts";
import type { KernelScan } from "../adapters/kernel-scan.ts";
import { netConfigClient, poolManagerClient } from "../adapters/peers.ts";
import type { AddrBroker } from "./app.ts";
import { AppHarness, noKernel } from "../../test-support/app-harness.ts";
import { wallNow } from "./cni-timings.ts";
import { UNDONE_COOLDOWN_MS } from "./broker.ts";
import { capacity as coreCapacity } from "../core/test-fixtures.ts";
import { DEFAULT_SETTINGS } from "./settings-from-config.ts";

const h = new AppHarness("abtest-");

const liveNetns = new Set<string>();
const exists = (p: string) => liveNetns.has(p);

async function setup(opts: { capacity?: ReturnType<typeof testCapacity> | null; store?: MemoryCheckpointStore; kernel?: KernelScan; clock?: { t: number }; net?: FakeNetConfig; pool?: FakePoolManager; cooldownSeconds?: number; pluginLogFile?: string; missWaitMs?: number; conflistDir?: string; brokerSeesNetns?: (path: string) => boolean } = {}) {
  const net = opts.net ?? new FakeNetConfig("eni", exists);
  const pool = opts.pool ?? new FakePoolManager(opts.capacity === null ? undefined : (opts.capacity ?? testCapacity()));
  const n = h.started;
  if (!opts.net) await h.serve(net.serve(h.path(`net${n}.sock`)));
  if (!opts.pool) await h.serve(pool.serve(h.path(`pool${n}.sock`)));
  const store = opts.store ?? new MemoryCheckpointStore();
  const clock = opts.clock ?? { t: 1_700_000_000_000 };
  const settings = { ...DEFAULT_SETTINGS, missWaitMs: opts.missWaitMs ?? 0, capacityWaitMs: 200, netConfigSocket: h.path(`net${n}.sock`), ...(opts.cooldownSeconds !== undefined ? { cooldownSeconds: opts.cooldownSeconds } : {}), ...(opts.pluginLogFile ? { pluginLogFile: opts.pluginLogFile } : {}) };
  const svc = await h.start(settings, {
    store,
    kernel: opts.kernel ?? noKernel,
    netConfig: netConfigClient(h.path(`net${n}.sock`), { kernel: noKernel, vethPrefix: "eni" }),
    pool: poolManagerClient(h.path(`pool${n}.sock`)),
    now: () => clock.t,
    netnsExists: opts.brokerSeesNetns ?? exists,
    ...(opts.conflistDir ? { conflist: conflistInstaller(opts.conflistDir, { cniVersion: "1.0.0", name: "aws-cni", plugins: [{ type: "aws-cni" }] }) } : {}),
  }, { waitCapacity: opts.capacity !== null });
  return { svc, net, pool, store, clock };
}

const CONF = (v = "1.1.0", extra: object = {}) => JSON.stringify({ cniVersion: v, name: "aws-cni", type: "aws-cni", ...extra });
async function cni(svc: AddrBroker, env: Record<string, string>, stdin = CONF()) {
  const res = await svc.frame.app.request("/v1/cni", { method: "POST", body: JSON.stringify({ env, stdin }) });
  expect(res.status).toBe(200);
  const out = (await res.json()) as { exitCode: number; stdout: string };
  return { exitCode: out.exitCode, json: out.stdout ? JSON.parse(out.stdout) : undefined };
}
function pod(id: string, ns = `/run/netns/t-${id}`) {
  liveNetns.add(ns);
  return { CNI_CONTAINERID: id, CNI_NETNS: ns, CNI_IFNAME: "eth0", CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${id}` };
}
const add = (svc: AddrBroker, id: string) => cni(svc, { CNI_COMMAND: "ADD", ...pod(id) });
const del = (svc: AddrBroker, id: string) => cni(svc, { CNI_COMMAND: "DEL", ...pod(id) });
const addrOf = (r: { json: { ips: Array<{ address: string }> } }) => r.json.ips[0]?.address;

describe("addr-broker service", () => {
  test("/debug/cni-timings: each recent call with the shim's moments and addr-broker's stages, in order", async () => {
    const { svc } = await setup();
    const shim = { startedAt: wallNow() - 5, sentAt: wallNow() - 2 };
    const res = await svc.frame.app.request("/v1/cni", { method: "POST", body: JSON.stringify({ env: { CNI_COMMAND: "ADD", ...pod("timed") }, stdin: CONF(), timing: shim }) });
    expect(((await res.json()) as { exitCode: number }).exitCode).toBe(0);
    expect((await del(svc, "timed")).exitCode).toBe(0);
    const body = (await (await svc.frame.app.request("/debug/cni-timings")).json()) as { recent: Array<{ command: string; containerId: string; exitCode: number; at: Record<string, number> }> };
    const [a, d] = body.recent;
    expect([a?.command, a?.containerId, a?.exitCode, d?.command]).toEqual(["ADD", "timed", 0, "DEL"]);
    expect(a!.at.shimStarted).toBeCloseTo(shim.startedAt, 2);
    expect(a!.at.shimSent).toBeCloseTo(shim.sentAt, 2);
    const order = (at: Record<string, number>, marks: string[]) => marks.map((m) => at[m]!).every((t, i, ts) => t !== undefined && (i === 0 || t >= ts[i - 1]!));
    expect(order(a!.at, ["shimStarted", "shimSent", "received", "assigned", "durable", "answered"])).toBe(true);
    expect(order(a!.at, ["assigned", "wired", "answered"])).toBe(true);
    expect(order(d!.at, ["received", "unwired", "answered"]) && order(d!.at, ["received", "durable", "answered"])).toBe(true);
    // Answers still come to a request without the shim's moments (tools, older shims).
    expect(Object.keys(d!.at)).not.toContain("shimStarted");
  });

  test("the shim's view of CNI_NETNS decides: an ADD works when addr-broker cannot see the pod's netns (its own container)", async () => {
    const { svc } = await setup({ brokerSeesNetns: () => false });
    const request = async (id: string, netnsExists?: boolean) => {
      const res = await svc.frame.app.request("/v1/cni", { method: "POST", body: JSON.stringify({ env: { CNI_COMMAND: "ADD", ...pod(id) }, stdin: CONF(), ...(netnsExists === undefined ? {} : { netnsExists }) }) });
      return (await res.json()) as { exitCode: number; stdout: string };
    };
    const seen = await request("v1", true);
    expect(seen.exitCode).toBe(0);
    expect(JSON.parse(seen.stdout).ips[0].address).toBe("10.0.1.1/32");
    const gone = await request("v2", false);
    expect(gone.exitCode).toBe(1);
    expect(JSON.parse(gone.stdout)).toMatchObject({ code: 4, msg: expect.stringContaining("CNI_NETNS") });
    // A caller that does not say (a tool on the socket) is checked in addr-broker's own view.
    expect((await request("v3")).exitCode).toBe(1);
  });

  test("the plugin log line of a served call is written by addr-broker and the answer says so", async () => {
    const file = h.path("logs/plugin.log");
    const { svc } = await setup({ pluginLogFile: file });
    const res = await svc.frame.app.request("/v1/cni", { method: "POST", body: JSON.stringify({ env: { CNI_COMMAND: "ADD", ...pod("pl1") }, stdin: CONF("1.0.0", { pluginLogFile: file, pluginLogLevel: "DEBUG" }) }) });
    const out = (await res.json()) as { exitCode: number; pluginLogged?: boolean };
    expect(out).toMatchObject({ exitCode: 0, pluginLogged: true });
    const lines = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.msg, l.containerId, l.exitCode])).toEqual([["CNI ADD", "pl1", 0]]);
  });

  test("ADD, retried ADD (same address), CHECK, DEL (cooling), DEL again", async () => {
    const { svc, net, store } = await setup();
    const a = await add(svc, "c1");
    expect(a.exitCode).toBe(0);
    expect(addrOf(a)).toBe("10.0.1.1/32");
    expect(a.json.interfaces[1]).toMatchObject({ name: "eth0", sandbox: "/run/netns/t-c1" });
    expect(a.json.interfaces[1].mac).toMatch(/^02:/);
    expect((await add(svc, "c1")).json).toEqual(a.json);
    expect(JSON.parse(store.text ?? "").allocations).toHaveLength(1);
    expect(store.writes).toBe(1);
    expect((await cni(svc, { CNI_COMMAND: "CHECK", ...pod("c1") }, CONF("1.1.0", { prevResult: a.json }))).exitCode).toBe(0);
    expect((await del(svc, "c1")).exitCode).toBe(0);
    expect(net.pods.size).toBe(0);
    expect(JSON.parse(store.text ?? "").cooling).toEqual([expect.objectContaining({ ip: "10.0.1.1" })]);
    expect((await del(svc, "c1")).exitCode).toBe(0);
    const check = await cni(svc, { CNI_COMMAND: "CHECK", ...pod("c1") });
    expect(check.json.code).toBe(3);
    expect(addrOf(await add(svc, "c2"))).toBe("10.0.1.2/32");
  });

  test("DEL: the release is written while net-config unwires; the address stays out until the unwire settles, then cools for the configured time", async () => {
    for (const cooldownSeconds of [30, 1]) {
      const { svc, net, store, clock } = await setup({ cooldownSeconds });
      const id = `slow${cooldownSeconds}`;
      expect(addrOf(await add(svc, id))).toBe("10.0.1.1/32");
      let open!: () => void;
      net.unwireGate = new Promise<void>((r) => (open = r)); // the unwire waits at net-config
      const deleting = del(svc, id);
      await Bun.sleep(100);
      const onDisk = JSON.parse(store.text ?? ""); // released, cooling at least the unwire call's timeout (also after a crash)
      expect(onDisk.allocations).toHaveLength(0);
      expect(onDisk.cooling.map((c: { ip: string; until: number; releasedAt: number }) => [c.ip, c.until - c.releasedAt >= Math.max(cooldownSeconds * 1000, 15_000)])).toEqual([["10.0.1.1", true]]);
      clock.t += 2000; // a 1 s cooldown would be over; the unwire is not
      expect(addrOf(await add(svc, `${id}-b`))).toBe("10.0.1.2/32");
      open();
      expect((await deleting).exitCode).toBe(0);
      expect([...net.pods.values()].map((p) => p.address)).toEqual(["10.0.1.2"]);
      expect(addrOf(await add(svc, `${id}-c`))).toBe("10.0.1.3/32"); // settled: the configured cooldown runs from now
      clock.t += cooldownSeconds * 1000 + 1;
      expect(addrOf(await add(svc, `${id}-d`))).toBe("10.0.1.1/32");
    }
  });

  test("a cooldown running out is pushed to pool-manager without any other event", async () => {
    const { svc, pool, clock } = await setup({ cooldownSeconds: 0.2 });
    expect((await add(svc, "c1")).exitCode).toBe(0);
    expect((await del(svc, "c1")).exitCode).toBe(0);
    for (let i = 0; i < 100 && pool.usage.at(-1)?.cooling !== 1; i++) await Bun.sleep(10);
    expect(pool.usage.at(-1)?.cooling).toBe(1);
    clock.t += 1000; // the cooldown is over; nothing else happens
    for (let i = 0; i < 200 && pool.usage.at(-1)?.cooling !== 0; i++) await Bun.sleep(10);
    expect(pool.usage.at(-1)).toMatchObject({ assigned: 0, cooling: 0 });
  });

  test("no capacity: code 11 saying why, the miss pushed to pool-manager; capacity arriving serves the next ADD", async () => {
    const { svc, pool } = await setup({ capacity: null });
    const r = await add(svc, "c1");
    expect(r.json.code).toBe(11);
    expect(r.json.msg).toContain("no capacity from pool-manager");
    for (let i = 0; i < 100 && !pool.usage.some((u) => u.misses > 0); i++) await Bun.sleep(5);
    expect(pool.usage.some((u) => u.misses === 1)).toBe(true);
    pool.publish(testCapacity({ addresses: 1, shortage: "subnet subnet-1 is exhausted" }));
    for (let i = 0; i < 200 && !svc.broker.capacity; i++) await Bun.sleep(5);
    expect(addrOf(await add(svc, "c1"))).toBe("10.0.1.1/32");
    const full = await add(svc, "c2");
    expect(full.json.code).toBe(11);
    expect(full.json.msg).toContain("subnet subnet-1 is exhausted");
  });

  test("a miss waits for capacity, tries again at every change of it, and is served when an address arrives (one miss counted)", async () => {
    const { svc, pool } = await setup({ capacity: testCapacity({ addresses: 1 }), missWaitMs: 20_000 });
    expect(addrOf(await add(svc, "w1"))).toBe("10.0.1.1/32");
    let settled = false;
    const waiting = add(svc, "w2").finally(() => (settled = true));
    for (let i = 0; i < 200 && svc.broker.waiting === 0; i++) await Bun.sleep(5);
    expect(svc.broker.waiting).toBe(1);
    // A change that brings nothing free: the ADD looks again and keeps waiting.
    pool.publish(testCapacity({ addresses: 1, version: 2, shortage: "an ENI is attaching" }));
    for (let i = 0; i < 200 && svc.broker.capacity?.version !== 2; i++) await Bun.sleep(5);
    await Bun.sleep(50);
    expect(settled).toBe(false);
    expect(svc.broker.waiting).toBe(1);
    pool.publish(testCapacity({ addresses: 2, version: 3 }));
    expect(addrOf(await waiting)).toBe("10.0.1.2/32");
    expect(svc.broker.waiting).toBe(0);
    expect(svc.broker.misses).toBe(1);
  });

  test("an ADD that still finds nothing when its wait runs out answers 11 saying why (the miss counted again)", async () => {
    const { svc } = await setup({ capacity: testCapacity({ addresses: 1, shortage: "subnet subnet-1 is exhausted" }), missWaitMs: 300 });
    expect(addrOf(await add(svc, "x1"))).toBe("10.0.1.1/32");
    const r = await add(svc, "x2");
    expect(r.json.code).toBe(11);
    expect(r.json.msg).toContain("subnet subnet-1 is exhausted");
    expect(svc.broker.waiting).toBe(0);
    expect(svc.broker.misses).toBe(2);
  });

  test("a failing checkpoint write undoes the assignment (code 5) and its wiring; the address cools, the next ADD gets another", async () => {
    const { svc, store, net, clock } = await setup();
    store.failWrites = 1;
    const r = await add(svc, "c1");
    expect(r.json.code).toBe(5);
    expect(svc.broker.state.allocations.size).toBe(0);
    expect([...net.pods.keys()]).toEqual([]); // wired while the write was in flight, then unwired
    expect([...svc.broker.state.cooling.keys()]).toEqual(["10.0.1.1"]);
    expect(addrOf(await add(svc, "c2"))).toBe("10.0.1.2/32");
    clock.t += UNDONE_COOLDOWN_MS + 30_000;
    expect(addrOf(await add(svc, "c3"))).toBe("10.0.1.1/32");
  });

  test("parallel ADDs share checkpoint writes; a failed write undoes exactly the unwritten ones", async () => {
    const { svc, store } = await setup({ capacity: testCapacity({ addresses: 40 }) });
    store.failWrites = 1;
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => add(svc, `p${i}`)));
    const ok = results.filter((r) => r.exitCode === 0);
    const failed = results.filter((r) => r.exitCode !== 0);
    expect(failed.length).toBeGreaterThan(0);
    for (const f of failed) expect(f.json.code).toBe(5);
    const onDisk = JSON.parse(store.text ?? '{"allocations":[]}').allocations.map((a: { ipv4: string }) => `${a.ipv4}/32`);
    expect(new Set(onDisk)).toEqual(new Set(ok.map(addrOf)));
    expect(svc.broker.state.allocations.size).toBe(ok.length);
    expect(store.writes).toBeLessThanOrEqual(ok.length);
  });

  test("a wiring failure releases the address before answering; it is free at once", async () => {
    const { svc, net } = await setup();
    net.failWires = 1;
    const r = await add(svc, "c1");
    expect(r.json.code).toBe(102);
    expect(svc.broker.state.allocations.size).toBe(0);
    expect(svc.broker.state.cooling.size).toBe(0);
    expect(addrOf(await add(svc, "c2"))).toBe("10.0.1.1/32");
  });

  test("cooldown survives a restart", async () => {
    const store = new MemoryCheckpointStore();
    const clock = { t: 1_700_000_000_000 };
    const first = await setup({ store, clock, capacity: testCapacity({ addresses: 1 }) });
    await add(first.svc, "c1");
    await del(first.svc, "c1");
    first.svc.stop();
    const second = await setup({ store, clock, capacity: testCapacity({ addresses: 1 }) });
    const r = await add(second.svc, "c2");
    expect(r.json.msg).toContain("cooling down");
    clock.t += 30_000;
    expect(addrOf(await add(second.svc, "c2"))).toBe("10.0.1.1/32");
  });

  test("an upstream checkpoint is adopted; the start-up sweep releases only pods whose veth is gone", async () => {
    const upstream = JSON.stringify({
      version: "vpc-cni-ipam/1",
      allocations: [
        { networkName: "aws-cni", containerID: "live1", ifName: "eth0", ipv4: "10.0.1.3", allocationTimestamp: 1, metadata: { k8sPodNamespace: "default", k8sPodName: "live", interfacesCount: 1 } },
        { networkName: "aws-cni", containerID: "gone1", ifName: "eth0", ipv4: "10.0.1.4", allocationTimestamp: 1, metadata: { k8sPodNamespace: "default", k8sPodName: "gone", interfacesCount: 1 } },
      ],
    });
    const net = new FakeNetConfig("eni", exists);
    liveNetns.add("/run/netns/live");
    net.pods.set("live1/eth0", { containerId: "live1", ifName: "eth0", netns: "/run/netns/live", address: "10.0.1.3", hostVeth: hostVethName("eni", { namespace: "default", name: "live", containerId: "live1", ifName: "eth0" }) });
    await h.serve(net.serve(h.path("net0.sock")));
    const { svc } = await setup({ store: new MemoryCheckpointStore(upstream), net, capacity: testCapacity({ addresses: 4 }) });
    expect(svc.broker.checkpoint.source).toBe("adopted-upstream");
    expect(svc.broker.allocations().map((a) => a.containerId)).toEqual(["live1"]);
    expect([...svc.broker.state.cooling.keys()]).toEqual(["10.0.1.4"]);
    const got = new Set<string>();
    for (const id of ["n1", "n2"]) got.add(addrOf(await add(svc, id)) ?? "");
    expect(got).toEqual(new Set(["10.0.1.1/32", "10.0.1.2/32"]));
    expect((await add(svc, "n3")).json.code).toBe(11);
  });

  test("a corrupt checkpoint is set aside and rebuilt from the kernel: no address in use is handed out", async () => {
    const store = new MemoryCheckpointStore('{"version":"vpc-cni-ipam/1","allocations":[{"networkName":"aws-cni","contai');
    const kernel: KernelScan = { scan: async () => ({ pods: [{ address: "10.0.1.1", hostVeth: "enia" }, { address: "10.0.1.2" }], hostVeths: ["enia"] }) };
    const net = new FakeNetConfig("eni", exists);
    liveNetns.add("/run/netns/k");
    net.pods.set("k/eth0", { containerId: "k", ifName: "eth0", netns: "/run/netns/k", address: "10.0.1.1", hostVeth: "enia" });
    await h.serve(net.serve(h.path("net0.sock")));
    const { svc } = await setup({ store, kernel, net, capacity: testCapacity({ addresses: 2 }) });
    expect(svc.broker.checkpoint.source).toBe("rebuilt-from-kernel");
    expect([...store.aside.keys()][0]).toMatch(/corrupt-/);
    const debug = (await (await svc.frame.app.request("/debug")).json()) as { checkpoint: { detail: string } };
    expect(debug.checkpoint.detail).toContain("corrupt");
    // 10.0.1.1 has a live veth: kept reserved. 10.0.1.2 only had a rule: released into cooldown.
    expect([...svc.broker.state.reserved.keys()]).toEqual(["10.0.1.1"]);
    expect((await add(svc, "x")).json.msg).toContain("cooling");
  });

  test("drain grants only empty CIDRs and nothing is handed out of them afterwards", async () => {
    const { svc } = await setup({ capacity: testCapacity({ prefixes: ["10.0.16.0/28", "10.0.32.0/28"] }) });
    expect(addrOf(await add(svc, "c1"))).toBe("10.0.16.0/32");
    const res = await svc.frame.app.request("/v1/drain", { method: "POST", body: JSON.stringify({ cidrs: ["10.0.16.0/28", "10.0.32.0/28"] }) });
    const body = (await res.json()) as { granted: string[]; refused: Array<{ cidr: string }> };
    expect(body.granted).toEqual(["10.0.32.0/28"]);
    expect(body.refused.map((r) => r.cidr)).toEqual(["10.0.16.0/28"]);
    for (let i = 2; i <= 16; i++) expect(addrOf(await add(svc, `c${i}`))).toStartWith("10.0.16.");
    expect((await add(svc, "c17")).json.code).toBe(11);
  });

  test("drain with releaseCooling (upstream's release): a cooling CIDR is granted and its cooldown leaves with it; without, refused", async () => {
    const { svc } = await setup({ cooldownSeconds: 30, capacity: testCapacity({ prefixes: ["10.0.16.0/28", "10.0.32.0/28"] }) });
    expect(addrOf(await add(svc, "c1"))).toBe("10.0.16.0/32");
    expect((await del(svc, "c1")).exitCode).toBe(0);
    const drain = async (releaseCooling?: boolean) => (await (await svc.frame.app.request("/v1/drain", { method: "POST", body: JSON.stringify({ cidrs: ["10.0.16.0/28"], ...(releaseCooling === undefined ? {} : { releaseCooling }) }) })).json()) as { granted: string[]; refused: Array<{ reason: string }> };
    const held = await drain();
    expect(held.granted).toEqual([]);
    expect(held.refused[0]?.reason).toContain("cooling");
    expect((await drain(true)).granted).toEqual(["10.0.16.0/28"]);
    const usage = (await (await svc.frame.app.request("/v1/usage")).json()) as { cooling: number; cidrs: Array<{ cidr: string; cooling: number }> };
    expect(usage.cooling).toBe(0);
    expect(usage.cidrs.find((c) => c.cidr === "10.0.16.0/28")?.cooling).toBe(0);
    expect(addrOf(await add(svc, "c2"))).toStartWith("10.0.32.");
  });

  test("GC releases what is not in valid-attachments; duplicate ifname in one netns is refused", async () => {
    const { svc, net } = await setup();
    await add(svc, "keep");
    await add(svc, "drop");
    const dup = await cni(svc, { CNI_COMMAND: "ADD", ...pod("other", "/run/netns/t-keep") });
    expect(dup.json.code).toBe(101);
    const gc = await cni(svc, { CNI_COMMAND: "GC" }, CONF("1.1.0", { "cni.dev/valid-attachments": [{ containerID: "keep", ifname: "eth0" }] }));
    expect(gc.exitCode).toBe(0);
    expect(svc.broker.allocations().map((a) => a.containerId)).toEqual(["keep"]);
    expect([...net.pods.keys()]).toEqual(["keep/eth0"]);
  });

  test("IPv6: an address of the /80 prefix as /128 via fe80::1, version per cniVersion", async () => {
    const v6 = coreCapacity([{ id: "eni-a", device: 0, cidrs: ["2001:db8:0:1:5::/80"] }], { family: "ipv6" });
    const { svc } = await setup({ capacity: v6 });
    const r = await cni(svc, { CNI_COMMAND: "ADD", ...pod("v6") }, CONF("0.4.0"));
    expect(r.json.ips).toEqual([{ version: "6", address: "2001:db8:0:1:5::1/128", gateway: "fe80::1", interface: 1 }]);
    expect(r.json.routes).toEqual([{ dst: "::/0", gw: "fe80::1" }]);
  });

  test("STATUS, usage, listAssignments and metrics", async () => {
    const { svc } = await setup();
    expect((await cni(svc, { CNI_COMMAND: "STATUS" })).exitCode).toBe(0);
    await add(svc, "c1");
    const usage = (await (await svc.frame.app.request("/v1/usage")).json()) as { assigned: number };
    expect(usage.assigned).toBe(1);
    const list = (await (await svc.frame.app.request("/v1/assignments")).json()) as { assignments: Array<{ address: string; routeTable: number }>; restored: boolean };
    expect(list).toMatchObject({ restored: true, assignments: [{ address: "10.0.1.1", routeTable: 254 }] });
    const metrics = await (await svc.frame.app.request("/metrics")).text();
    for (const name of ["awscni_add_ip_req_count 1", "awscni_assigned_ip_addresses 1", 'awscni_assigned_ip_per_cidr{cidr="10.0.1.1/32"} 1', "awscni_cni_request_duration_seconds_bucket", "awscni_no_available_ip_addresses 0"]) {
      expect(metrics).toContain(name);
    }
    const none = await setup({ capacity: null });
    expect((await cni(none.svc, { CNI_COMMAND: "STATUS" })).json.code).toBe(50);
  });

  test("STATUS: an empty pool is unavailable (50); a full or cooling one is not (ADD waits for pool-manager)", async () => {
    const empty = await setup({ capacity: testCapacity({ addresses: 0 }) });
    const r = await cni(empty.svc, { CNI_COMMAND: "STATUS" });
    expect(r.json.code).toBe(50);
    expect(r.json.msg).toContain("the pool is empty");
    const { svc } = await setup({ capacity: testCapacity({ addresses: 1 }) });
    await add(svc, "s1");
    expect((await cni(svc, { CNI_COMMAND: "STATUS" })).exitCode).toBe(0); // full
    await del(svc, "s1");
    expect(svc.broker.state.cooling.size).toBe(1);
    expect((await cni(svc, { CNI_COMMAND: "STATUS" })).exitCode).toBe(0); // cooling
  });
});

describe("the node's CNI configuration", () => {
  test("is installed only once pool-manager's capacity is ready; until then addr-broker is not ready", async () => {
    const confDir = h.path("conflist-net.d");
    const { svc, pool } = await setup({ capacity: null, conflistDir: confDir });
    const early = await svc.frame.app.request("/healthz");
    expect(early.status).toBe(503);
    expect(((await early.json()) as { reason: string }).reason).toContain("capacity");
    expect(existsSync(join(confDir, "10-aws.conflist"))).toBe(false);
    pool.publish(testCapacity());
    for (let i = 0; i < 200 && (await svc.frame.app.request("/healthz")).status !== 200; i++) await Bun.sleep(10);
    expect((await svc.frame.app.request("/healthz")).status).toBe(200);
    expect(JSON.parse(readFileSync(join(confDir, "10-aws.conflist"), "utf8")).name).toBe("aws-cni");
  });
});
