// egress-cni served by addr-broker in-process (app.request), with a stateful fake of
// net-config's egress routes: the range's bookkeeping (exhaustion, reuse, restart, a failed
// wiring) and the node's conflist with and without the node address egress needs.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../../../shared/config/index.ts";
import { nodeConflist } from "../../../../shared/conflist.ts";
import type { EgressWiring } from "../../../../shared/contracts/egress.ts";
import type { UnixServer } from "../../../../shared/ipc/server.ts";
import { FakeNetConfig, FakePoolManager, testCapacity } from "../../test-support/fakes.ts";
import { MemoryCheckpointStore } from "../adapters/checkpoint-store.ts";
import { conflistInstaller } from "../adapters/conflist-installer.ts";
import { netConfigClient, poolManagerClient } from "../adapters/peers.ts";
import { silentLog } from "../core/ports.ts";
import { createAddrBroker, type AddrBroker } from "./app.ts";
import { EgressBook, type EgressNetPort } from "./egress-cni.ts";
import { DEFAULT_SETTINGS } from "./settings-from-config.ts";

/** Keeps what it wired; refuses an address already wired to another pod, as a kernel would make a mess of it. */
class FakeEgressNet implements EgressNetPort {
  readonly wired = new Map<string, EgressWiring>();
  failNext = false;
  async wire(w: EgressWiring) {
    if (this.failNext) {
      this.failNext = false;
      throw new Error("EGRESS_KERNEL_FAILED: ip -batch: RTNETLINK answers: File exists");
    }
    const other = [...this.wired.values()].find((x) => x.address === w.address && x.containerId !== w.containerId);
    if (other) throw new Error(`address ${w.address} already wired to ${other.containerId}`);
    this.wired.set(w.containerId, w);
    const n = this.wired.size;
    return { hostVeth: `veth${n.toString(16).padStart(8, "0")}`, hostMac: "02:00:00:00:00:aa", podIf: w.address.includes(":") ? "v6if0" : "v4if0", podMac: "02:00:00:00:00:bb" };
  }
  async unwire(w: { containerId: string }) {
    return { removed: this.wired.delete(w.containerId) ? ["pair"] : [] };
  }
  async check() {
    return { ok: true, problems: [] };
  }
}

let dir = "";
const stops: Array<() => unknown> = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = "";
});

async function setup(opts: { store?: MemoryCheckpointStore; net?: FakeEgressNet; confDir?: string; env?: Record<string, string>; nodeIps?: { ipv4?: string; ipv6?: string }; errors?: string[] } = {}) {
  dir ||= mkdtempSync(join(tmpdir(), "egtest-"));
  const n = stops.length;
  const pool = new FakePoolManager({ ...testCapacity(), ...(opts.nodeIps ? { nodeIps: opts.nodeIps } : {}) });
  const net = new FakeNetConfig("eni", () => true);
  const servers: UnixServer[] = [await pool.serve(join(dir, `pool${n}.sock`)), await net.serve(join(dir, `net${n}.sock`))];
  stops.push(async () => {
    for (const s of servers) await s.stop();
  });
  const store = opts.store ?? new MemoryCheckpointStore();
  const egressNet = opts.net ?? new FakeEgressNet();
  const config = loadConfig(opts.env ?? {}).config;
  const svc: AddrBroker = createAddrBroker({ ...DEFAULT_SETTINGS, missWaitMs: 0, capacityWaitMs: 200, netConfigSocket: join(dir, `net${n}.sock`) }, {
    store: new MemoryCheckpointStore(),
    kernel: { scan: async () => ({ pods: [], hostVeths: [] }) },
    netConfig: netConfigClient(join(dir, `net${n}.sock`), { kernel: { scan: async () => ({ pods: [], hostVeths: [] }) }, vethPrefix: "eni" }),
    pool: poolManagerClient(join(dir, `pool${n}.sock`)),
    netnsExists: () => true,
    egress: { book: new EgressBook(store, silentLog), net: egressNet },
    ...(opts.confDir ? { conflist: conflistInstaller(opts.confDir, (c) => nodeConflist(config, undefined, c?.nodeIps ?? {}, (why) => opts.errors?.push(why))) } : {}),
  });
  stops.push(() => svc.stop());
  await svc.start();
  return { svc, store, egressNet };
}

const PREV = { cniVersion: "1.0.0", interfaces: [{ name: "eth0", sandbox: "/run/netns/x" }], ips: [{ address: "2001:db8::7/128", interface: 0 }] };
const conf = (prevResult?: unknown) =>
  JSON.stringify({ cniVersion: "1.0.0", name: "aws-cni", type: "egress-cni", mtu: "9001", enabled: "true", randomizeSNAT: "prng", nodeIP: "10.0.0.10", ipam: { type: "host-local", ranges: [[{ subnet: "169.254.172.0/22" }]], routes: [{ dst: "0.0.0.0/0" }] }, ...(prevResult ? { prevResult } : {}) });

async function call(svc: AddrBroker, command: string, id: string) {
  const env = { CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: `/run/netns/${id}`, CNI_IFNAME: "eth0" };
  const res = await svc.frame.app.request("/v1/cni", { method: "POST", body: JSON.stringify({ env, stdin: conf(command === "DEL" ? undefined : PREV) }) });
  const out = (await res.json()) as { exitCode: number; stdout: string };
  return { exitCode: out.exitCode, json: out.stdout ? JSON.parse(out.stdout) : undefined };
}

describe("egress-cni in addr-broker", () => {
  test("the range runs out after 1021 pods (CNI error 11 saying so, nothing wired); a freed address goes to the next pod", async () => {
    const { svc, egressNet } = await setup();
    for (let i = 0; i < 1021; i++) expect((await call(svc, "ADD", `p${i}`)).exitCode).toBe(0);
    expect(new Set([...egressNet.wired.values()].map((w) => w.address)).size).toBe(1021);
    const full = await call(svc, "ADD", "late");
    expect(full.exitCode).toBe(1);
    expect(full.json).toMatchObject({ code: 11, msg: expect.stringContaining("no egress address left in 169.254.172.0/22") });
    expect(egressNet.wired.has("late")).toBe(false);
    const freed = egressNet.wired.get("p5")!.address;
    expect((await call(svc, "DEL", "p5")).exitCode).toBe(0);
    expect((await call(svc, "ADD", "late")).exitCode).toBe(0);
    expect(egressNet.wired.get("late")!.address).toBe(freed);
  }, 60_000);

  test("a restart keeps the book: a retried ADD gets its address again, a new pod the next one, DEL still finds the old pod", async () => {
    const store = new MemoryCheckpointStore();
    const first = await setup({ store });
    const a = await call(first.svc, "ADD", "a");
    expect(a.json.interfaces.map((i: { name: string }) => i.name)).toEqual(["eth0", "veth00000001", "v4if0"]);
    expect(first.egressNet.wired.get("a")!.address).toBe("169.254.172.2");
    first.svc.stop();
    const net = new FakeEgressNet();
    const second = await setup({ store, net });
    expect((await call(second.svc, "ADD", "a")).exitCode).toBe(0);
    expect(net.wired.get("a")!.address).toBe("169.254.172.2");
    expect((await call(second.svc, "ADD", "b")).exitCode).toBe(0);
    expect(net.wired.get("b")!.address).toBe("169.254.172.3");
    expect((await call(second.svc, "DEL", "a")).exitCode).toBe(0);
    expect(net.wired.has("a")).toBe(false);
    expect(JSON.parse(store.text!).allocations.map((x: { containerId: string }) => x.containerId)).toEqual(["b"]);
  });

  test("a wiring that fails releases the address it took", async () => {
    const { svc, egressNet, store } = await setup();
    egressNet.failNext = true;
    const r = await call(svc, "ADD", "x");
    expect(r.exitCode).toBe(1);
    expect(r.json.code).toBe(102);
    expect(JSON.parse(store.text!).allocations).toEqual([]);
  });
});

describe("the node's conflist and egress-cni", () => {
  const read = (confDir: string) => JSON.parse(readFileSync(join(confDir, "10-aws.conflist"), "utf8")) as { plugins: Array<{ type: string; nodeIP?: string }> };
  const installed = async (confDir: string, svc: AddrBroker) => {
    for (let i = 0; i < 300 && (await svc.frame.app.request("/healthz")).status !== 200; i++) await Bun.sleep(10);
    return read(confDir).plugins;
  };

  test("ENABLE_V6_EGRESS on a node whose primary ENI has no IPv6 address: left out, the reason logged", async () => {
    dir ||= mkdtempSync(join(tmpdir(), "egtest-"));
    const errors: string[] = [];
    const { svc } = await setup({ confDir: join(dir, "a"), env: { ENABLE_V6_EGRESS: "true" }, nodeIps: { ipv4: "10.0.0.10" }, errors });
    expect((await installed(join(dir, "a"), svc)).map((p) => p.type)).toEqual(["aws-cni", "portmap"]);
    expect(errors[0]).toContain("ENABLE_V6_EGRESS=true but the node's primary ENI has no global IPv6 address");
  });

  test("ENABLE_V6_EGRESS with the node's IPv6 address from the capacity: chained, SNAT to it", async () => {
    dir ||= mkdtempSync(join(tmpdir(), "egtest-"));
    const errors: string[] = [];
    const { svc } = await setup({ confDir: join(dir, "b"), env: { ENABLE_V6_EGRESS: "true" }, nodeIps: { ipv4: "10.0.0.10", ipv6: "2600:1f14::10" }, errors });
    const plugins = await installed(join(dir, "b"), svc);
    expect(plugins.map((p) => p.type)).toEqual(["aws-cni", "egress-cni", "portmap"]);
    expect(plugins[1]!.nodeIP).toBe("2600:1f14::10");
    expect(errors).toEqual([]);
  });
});
