// Fuzzer (bad input anywhere gets a clear error naming the offending field and changes no
// state: docs/ARCHITECTURE.md, "Failure model"), in-process and seeded:
//  - CNI stdin and environment through addr-broker's own app (POST /v1/cni, as the shim
//    forwards it): malformed JSON, huge inputs, wrong types, unknown versions, hostile
//    ifnames, netns paths and container IDs. Each case: a CNI error {code, msg} naming the
//    field; the checkpoint and the (fake) kernel unchanged.
//  - every validated route of addr-broker, pool-manager and net-config (hono apps,
//    app.request): bad JSON, wrong types, missing fields, huge arrays, non-object bodies,
//    plus unknown fields on top. Each case: 4xx with error.code and error.field naming the
//    mutated field; nothing reaches the kernel (net-config's kernel is a recorder).
//  - every configuration variable (loadConfig): random strings; either accepted or a
//    ConfigError naming that variable, never anything else.
import { afterAll, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { FakeNetConfig, FakePoolManager, testCapacity } from "../../services/addr-broker/test-support/fakes.ts";
import { MemoryCheckpointStore } from "../../services/addr-broker/src/adapters/checkpoint-store.ts";
import type { KernelScan } from "../../services/addr-broker/src/adapters/kernel-scan.ts";
import { netConfigClient, poolManagerClient } from "../../services/addr-broker/src/adapters/peers.ts";
import { createAddrBroker, type AddrBroker } from "../../services/addr-broker/src/app/app.ts";
import { DEFAULT_SETTINGS } from "../../services/addr-broker/src/app/settings-from-config.ts";
import { mountNetConfig } from "../../services/net-config/src/app/app.ts";
import { HostService } from "../../services/net-config/src/app/host-service.ts";
import { PodService } from "../../services/net-config/src/app/pod-service.ts";
import { Reconciler } from "../../services/net-config/src/app/reconcile-service.ts";
import { settingsFromConfig } from "../../services/net-config/src/app/settings-from-config.ts";
import { manager, simWorld } from "../pool-manager/sim-world.ts";
import { serviceRoutes } from "../../services/pool-manager/src/app/routes.ts";
import { UPSTREAM_DEFAULTS } from "../../services/pool-manager/src/core/settings.ts";
import { ConfigError, loadConfig } from "../../shared/config/index.ts";
import { ENV_NAMES } from "../../shared/config/schema.ts";
import { serveUnix, type UnixServer } from "../../shared/ipc/server.ts";
import { buildShim } from "../../cni-shim/build.ts";
import { createFrame } from "../../shared/service.ts";
import { rng, SEED, SOAK, summary, type Rng } from "./support.ts";

/** Rounds of cases: each round is up to a minute of work on a loaded machine (the tests' budgets). */
const ROUNDS = SOAK ? 20 : 1;
const dir = mkdtempSync(join(tmpdir(), "rel-fuzz-"));
const servers: UnixServer[] = [];
const cleanups: Array<() => void | Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups) await c();
  for (const s of servers) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

const counts = { cniCases: 0, routeCases: 0, configCases: 0, findings: 0 };
/** Per test: what went wrong (the first 40), each a reproducible case label. */
let findings: string[] = [];
const finding = (what: string) => {
  counts.findings++;
  if (findings.length < 40) findings.push(what);
};
beforeEach(() => {
  findings = [];
});

// ---------- values ----------
const HOSTILE_STRINGS = [
  "", " ", "../../etc", "../../etc/passwd", "/etc/shadow", "a;reboot", "$(reboot)", "`id`", "a|b", "a&&b", "x\ny", "\u0000", "é", "🦀",
  "a".repeat(16), "a".repeat(5000), "-rf", "--help", ".", "..", "eth0 ", " eth0", "eth0/1", "eth0:1", "'", '"', "\\", "%s%n", "${IFS}",
];
function junk(r: Rng): unknown {
  switch (r.int(0, 9)) {
    case 0: return r.pick(HOSTILE_STRINGS);
    case 1: return r.int(-1e9, 1e9);
    case 2: return r.next() * 1e300;
    case 3: return null;
    case 4: return r.chance(0.5);
    case 5: return [r.pick(HOSTILE_STRINGS), r.int(0, 5)];
    case 6: return { [r.pick(HOSTILE_STRINGS)]: r.pick(HOSTILE_STRINGS) };
    case 7: return Array.from({ length: r.int(1000, 20000) }, () => r.pick(HOSTILE_STRINGS));
    case 8: return Number.NaN;
    default: return "x".repeat(r.int(1, 200_000));
  }
}
function randomText(r: Rng): string {
  const alphabet = "{}[]\":,0123456789abcdeftrunl \\\n\u0000é";
  return Array.from({ length: r.int(0, 300) }, () => alphabet[r.int(0, alphabet.length - 1)]).join("");
}

// ---------- addr-broker in-process ----------
const liveNetns = new Set<string>(["/run/netns/fuzz-live"]);
const noKernel: KernelScan = { scan: async () => ({ pods: [], hostVeths: [] }) };
let brokers = 0;
async function broker(): Promise<{ svc: AddrBroker; store: MemoryCheckpointStore; net: FakeNetConfig }> {
  const n = brokers++;
  const netSock = join(dir, `net${n}.sock`);
  const poolSock = join(dir, `pool${n}.sock`);
  const net = new FakeNetConfig("eni", (p) => liveNetns.has(p));
  const pool = new FakePoolManager(testCapacity({ addresses: 16 }));
  servers.push(await net.serve(netSock), await pool.serve(poolSock));
  const store = new MemoryCheckpointStore();
  const svc = createAddrBroker({ ...DEFAULT_SETTINGS, missWaitMs: 0, capacityWaitMs: 200, netConfigSocket: netSock, checkpointPath: "memory" }, {
    store,
    kernel: noKernel,
    netConfig: netConfigClient(netSock, { kernel: noKernel, vethPrefix: "eni" }),
    pool: poolManagerClient(poolSock),
    netnsExists: (p) => liveNetns.has(p),
  });
  cleanups.push(() => svc.stop());
  await svc.start();
  for (let i = 0; i < 200 && !svc.broker.capacity; i++) await Bun.sleep(5);
  return { svc, store, net };
}

const BASE_ENV = { CNI_COMMAND: "ADD", CNI_CONTAINERID: "fuzzlive", CNI_NETNS: "/run/netns/fuzz-live", CNI_IFNAME: "eth0", CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=fuzzlive", CNI_PATH: "/opt/cni/bin" };
const BASE_CONF = { cniVersion: "1.0.0", name: "aws-cni", type: "aws-cni", vethPrefix: "eni", mtu: "9001" };

interface CniCase {
  label: string;
  env: Record<string, string>;
  stdin: string;
  /** Acceptable CNI error codes and a word the msg must contain (the field). */
  codes: number[];
  field: RegExp;
}

/** One hostile CNI case: exactly one thing wrong, the rest a valid ADD/DEL/CHECK of the live pod. */
function cniCase(r: Rng): CniCase {
  const command = r.pick(["ADD", "DEL", "CHECK"]);
  const env: Record<string, string> = { ...BASE_ENV, CNI_COMMAND: command };
  const conf: Record<string, unknown> = { ...BASE_CONF };
  const kind = r.int(0, 10);
  const badOf = (valid: RegExp) => {
    for (;;) {
      const s = r.chance(0.7) ? r.pick(HOSTILE_STRINGS) : randomText(r);
      if (!valid.test(s)) return s;
    }
  };
  switch (kind) {
    case 0:
      return { label: "stdin not JSON", env, stdin: r.chance(0.5) ? randomText(r).replace(/^\s*[{[]/, "") + "}" : JSON.stringify(conf).slice(0, r.int(1, 20)), codes: [6], field: /stdin|config|JSON/i };
    case 1:
      return { label: "stdin a JSON non-object", env, stdin: JSON.stringify(r.pick([[], 1, "x", null, true, [conf]])), codes: [6], field: /stdin|config|object/i };
    case 2: {
      const v = r.pick(["0.0.1", "0.2.0", "9.9.9", "1.2.0", "2.0.0", "x", "", "1.0.0.0", "-1.0.0"]);
      return { label: `unknown cniVersion ${v}`, env, stdin: JSON.stringify({ ...conf, cniVersion: v }), codes: [1, 7], field: /version/i };
    }
    case 3: {
      const key = r.pick(["name", "type", "cniVersion"]);
      const v = r.pick([1, true, null, [], {}, 3.5]);
      return { label: `${key} wrong type ${JSON.stringify(v)}`, env, stdin: JSON.stringify({ ...conf, [key]: v }), codes: [1, 4, 6, 7], field: new RegExp(key === "cniVersion" ? "version" : key, "i") };
    }
    case 4:
      // Names Linux refuses (empty, > 15 bytes, '/', ':', whitespace, "." / ".."); shell
      // metacharacters alone make a valid Linux name, so they are not hostile here.
      env.CNI_IFNAME = r.pick(["", ".", "..", "../../etc", "eth0/1", "eth0:1", "eth 0", "eth0\n", "a".repeat(16), "a".repeat(5000), "$(reboot) x", "a;b c", "\u0000", "\t", "é".repeat(8)]);
      return { label: `hostile ifname ${JSON.stringify(env.CNI_IFNAME.slice(0, 20))}`, env, stdin: JSON.stringify(conf), codes: [4, 7], field: /CNI_IFNAME|ifname/i };
    case 5:
      env.CNI_NETNS = r.pick(["../../etc", "../../etc/passwd", "/etc/shadow", "relative/ns", "/run/netns/../../etc/passwd", "/proc/1/../../etc", "/run/netns/a;reboot", "/run/netns/$(id)", "\u0000", " /run/netns/x", "/tmp/x"]);
      return { label: `hostile netns ${JSON.stringify(env.CNI_NETNS)}`, env: command === "DEL" ? { ...env, CNI_COMMAND: "ADD" } : env, stdin: JSON.stringify(conf), codes: [4, 7], field: /CNI_NETNS|netns/i };
    case 6:
      env.CNI_CONTAINERID = badOf(/^[A-Za-z0-9][A-Za-z0-9_.\-]*$/);
      return { label: `hostile containerID ${JSON.stringify(env.CNI_CONTAINERID.slice(0, 20))}`, env, stdin: JSON.stringify(conf), codes: [4, 7], field: /CNI_CONTAINERID|container/i };
    case 7:
      env.CNI_COMMAND = badOf(/^(ADD|DEL|CHECK|VERSION|GC|STATUS)$/);
      return { label: `unknown command ${JSON.stringify(env.CNI_COMMAND.slice(0, 20))}`, env, stdin: JSON.stringify(conf), codes: [4, 7], field: /CNI_COMMAND|command/i };
    case 8: {
      const key = r.pick(["CNI_CONTAINERID", "CNI_IFNAME", "CNI_COMMAND"] as const);
      delete env[key];
      if (key === "CNI_COMMAND") return { label: "no CNI_COMMAND", env, stdin: JSON.stringify(conf), codes: [4, 7], field: /CNI_COMMAND|command/i };
      return { label: `missing ${key}`, env: command === "DEL" ? { ...env, CNI_COMMAND: "ADD" } : env, stdin: JSON.stringify(conf), codes: [4, 7], field: new RegExp(key, "i") };
    }
    case 9:
      return { label: "huge name (1 MiB)", env, stdin: JSON.stringify({ ...conf, name: "n".repeat(1 << 20) }), codes: [4, 7], field: /name/i };
    default:
      return { label: "GC valid-attachments wrong type", env: { CNI_COMMAND: "GC", CNI_PATH: "/opt/cni/bin" }, stdin: JSON.stringify({ ...conf, cniVersion: "1.1.0", "cni.dev/valid-attachments": r.pick([{}, "x", 1, [1], [{ containerID: 3 }], null]) }), codes: [4, 7], field: /valid-attachments/i };
  }
}

test("CNI stdin and environment: every hostile case gets a CNI error naming the field and changes nothing", async () => {
  const { svc, store, net } = await broker();
  const add = await svc.frame.app.request("/v1/cni", { method: "POST", body: JSON.stringify({ env: BASE_ENV, stdin: JSON.stringify(BASE_CONF) }) });
  expect(((await add.json()) as { exitCode: number }).exitCode).toBe(0);
  const before = { ckpt: store.text, wired: JSON.stringify([...net.pods]) };
  const r = rng(SEED ^ 0xc41);
  const n = 1500 * ROUNDS;
  for (let i = 0; i < n; i++) {
    const c = cniCase(r);
    counts.cniCases++;
    const res = await svc.frame.app.request("/v1/cni", { method: "POST", body: JSON.stringify({ env: c.env, stdin: c.stdin }) });
    if (res.status !== 200) {
      finding(`CNI ${c.label}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
      continue;
    }
    const out = (await res.json()) as { exitCode: number; stdout: string };
    let err: { code?: unknown; msg?: unknown } = {};
    try {
      err = JSON.parse(out.stdout);
    } catch {
      finding(`CNI ${c.label}: stdout not JSON: ${out.stdout.slice(0, 120)}`);
      continue;
    }
    if (out.exitCode === 0 || typeof err.code !== "number" || typeof err.msg !== "string" || !c.codes.includes(err.code) || !c.field.test(String(err.msg) + String((err as { details?: string }).details ?? ""))) {
      finding(`CNI ${c.label}: exit ${out.exitCode} ${out.stdout.slice(0, 200)}`);
    }
    if (store.text !== before.ckpt || JSON.stringify([...net.pods]) !== before.wired) {
      finding(`CNI ${c.label}: state changed`);
      before.ckpt = store.text;
      before.wired = JSON.stringify([...net.pods]);
    }
  }
  // The live pod is still there and the same.
  expect(JSON.parse(store.text!).allocations.map((a: { containerID: string }) => a.containerID)).toEqual(["fuzzlive"]);
  // A body above the 4 MiB stdin bound is refused at the route, naming stdin.
  const huge = await svc.frame.app.request("/v1/cni", { method: "POST", body: JSON.stringify({ env: BASE_ENV, stdin: "x".repeat(5 << 20) }) });
  counts.cniCases++;
  expect(huge.status).toBe(400);
  expect(((await huge.json()) as { error: { field: string } }).error.field).toBe("stdin");
  expect(findings).toEqual([]);
}, 60_000 * ROUNDS);

// ---------- every validated route ----------
interface RouteSpec {
  service: string;
  app: Hono;
  method: "POST" | "GET";
  path: string;
  valid: Record<string, unknown>;
  /** Keys that may be absent (removing them leaves a valid body). */
  optional?: string[];
}

/** A recorder standing in for the kernel: any call through it is a state change. */
function recorder(calls: string[], name: string): any {
  return new Proxy({}, { get: (_t, prop) => (prop === "then" ? undefined : (...args: unknown[]) => (calls.push(`${name}.${String(prop)}(${JSON.stringify(args).slice(0, 80)})`), recorder(calls, name))) });
}

function mutateBody(r: Rng, valid: Record<string, unknown>, optional: string[] = []): { body: string; field: string; label: string } {
  const keys = Object.keys(valid).filter((k) => !optional.includes(k));
  const kind = r.int(0, 5);
  if (kind === 0) return { body: randomText(r).replace(/^\s*[{[]/, "") + "{", field: "(body)", label: "not JSON" };
  if (kind === 1) return { body: JSON.stringify(r.pick([[], [valid], 1, "x", true, null])), field: "(body)", label: "non-object body" };
  const key = r.pick(keys);
  const v = valid[key];
  const copy: Record<string, unknown> = { ...valid };
  if (kind === 2) {
    delete copy[key];
    return { body: JSON.stringify(copy), field: key, label: `missing ${key}` };
  }
  if (kind === 3 && Array.isArray(v)) {
    copy[key] = Array.from({ length: r.int(10_000, 100_000) }, () => r.pick([null, 7, "../../etc", {}]));
    return { body: JSON.stringify(copy), field: key, label: `huge junk array ${key}` };
  }
  // A value of the wrong type (strings get non-strings and vice versa).
  const wrong = typeof v === "string" ? r.pick([7, null, true, [], {}, ["x"]]) : typeof v === "number" ? r.pick(["7", null, true, [], {}, -1.5e308]) : Array.isArray(v) ? r.pick(["x", 1, {}, null]) : r.pick(["x", 1, [], null]);
  copy[key] = wrong;
  if (kind === 5) copy[`unknown${r.int(0, 99)}`] = junk(r);
  return { body: JSON.stringify(copy), field: key, label: `${key} := ${JSON.stringify(wrong)}` };
}

test("every validated service route: bad bodies get 4xx naming the field; nothing reaches the kernel", async () => {
  const { svc, store } = await broker();
  // net-config with a recording kernel and iptables.
  const calls: string[] = [];
  const { config } = loadConfig({});
  const settings = settingsFromConfig(config);
  const kernel = recorder(calls, "kernel");
  const host = new HostService(kernel, recorder(calls, "iptables"), () => settings, { linkWaitMs: 10, randomFully: true });
  const reconciler = new Reconciler(kernel, host, { assignments: async () => ({ assignments: [], restored: true }), capacity: async () => { throw new Error("none"); } }, () => settings);
  const pods = new PodService(kernel, () => settings);
  const ncFrame = createFrame({ name: "net-config", debug: () => ({}), processMetrics: false });
  mountNetConfig(ncFrame, { pods, host, reconciler, settings, backend: "recorder", nodeNetns: "self" });
  // pool-manager against the simulated EC2.
  const w = await simWorld();
  cleanups.push(() => w.stop());
  const h = manager(w, { ...UPSTREAM_DEFAULTS });
  await h.pm.start();
  const pmApp = new Hono();
  serviceRoutes(pmApp, h.pm);

  const wiring = { containerId: "c1", ifName: "eth0", netns: "/run/netns/x", podNamespace: "default", podName: "p", address: "10.0.1.1", routeTable: 254 };
  const eni = { eniId: "eni-0123456789abcdef0", mac: "02:00:00:00:00:01", deviceNumber: 1, primaryIp: "10.0.0.10", subnetCidr: "10.0.0.0/19", gateway: "10.0.0.1", routeTable: 2 };
  const routes: RouteSpec[] = [
    { service: "addr-broker", app: svc.frame.app, method: "POST", path: "/v1/cni", valid: { env: BASE_ENV, stdin: "{}" } },
    { service: "addr-broker", app: svc.frame.app, method: "POST", path: "/v1/drain", valid: { cidrs: ["10.0.1.1/32"] } },
    { service: "net-config", app: ncFrame.app, method: "POST", path: "/v1/pods/wire", valid: wiring, optional: ["podNamespace", "podName"] },
    { service: "net-config", app: ncFrame.app, method: "POST", path: "/v1/pods/unwire", valid: wiring, optional: ["podNamespace", "podName"] },
    { service: "net-config", app: ncFrame.app, method: "POST", path: "/v1/pods/check", valid: wiring, optional: ["podNamespace", "podName"] },
    { service: "net-config", app: ncFrame.app, method: "POST", path: "/v1/enis/setup", valid: eni },
    { service: "net-config", app: ncFrame.app, method: "POST", path: "/v1/enis/teardown", valid: eni },
    { service: "net-config", app: ncFrame.app, method: "POST", path: "/v1/host/setup", valid: { vpcCidrs: ["10.0.0.0/16"], primaryIp: "10.0.0.4", primaryMac: "02:00:00:00:00:07" } },
    { service: "pool-manager", app: pmApp, method: "POST", path: "/v1/usage", valid: { capacityVersion: 1, assigned: 1, cooling: 0, cidrs: [], misses: 0, waiting: 0 } },
    { service: "pool-manager", app: pmApp, method: "GET", path: "/v1/capacity", valid: { since: "-1", waitMs: "0" } },
  ];
  const ckptBefore = store.text;
  const usageBefore = JSON.stringify(h.pm.model.usage ?? null);
  const r = rng(SEED ^ 0x40e7);
  const perRoute = 150 * ROUNDS;
  for (const route of routes) {
    for (let i = 0; i < perRoute; i++) {
      counts.routeCases++;
      let res: Response;
      let expectField: string;
      let label: string;
      if (route.method === "GET") {
        // Query strings: wrong numbers, out of range, hostile text.
        const key = r.pick(["since", "waitMs"]);
        const bad = r.pick(["x", "-2", "1.5", "NaN", "../../etc", "%00", "9".repeat(400), ...(key === "waitMs" ? ["60001", "-1", "1e9"] : [])]);
        label = `${key}=${bad}`;
        expectField = key;
        res = await route.app.request(`${route.path}?${key}=${encodeURIComponent(bad)}`);
      } else {
        const m = mutateBody(r, route.valid, route.optional);
        label = m.label;
        expectField = m.field;
        res = await route.app.request(route.path, { method: "POST", headers: { "content-type": "application/json" }, body: m.body });
      }
      const text = await res.text();
      if (calls.length > 0) {
        finding(`${route.service} ${route.path} ${label.slice(0, 80)}: reached the kernel: ${calls[0]}`);
        calls.length = 0;
      }
      let body: { error?: { code?: string; field?: string } } = {};
      try {
        body = JSON.parse(text);
      } catch {
        // reported below
      }
      const field = body.error?.field ?? "";
      const named = field === expectField || field.startsWith(`${expectField}.`) || (expectField === "(body)" && field !== "");
      if (res.status < 400 || res.status >= 500 || !body.error?.code || !named) finding(`${route.service} ${route.method} ${route.path} ${label.slice(0, 80)}: ${res.status} ${text.slice(0, 160)}`);
    }
  }
  expect(store.text).toBe(ckptBefore);
  expect(JSON.stringify(h.pm.model.usage ?? null)).toBe(usageBefore);
  expect(findings).toEqual([]);
}, 60_000 * ROUNDS);

test("every configuration variable: random values are accepted or refused by a ConfigError naming the variable", () => {
  const r = rng(SEED ^ 0xc0f);
  const perVar = 30 * ROUNDS;
  for (const name of ENV_NAMES) {
    for (let i = 0; i < perVar; i++) {
      counts.configCases++;
      const v = r.chance(0.6) ? String(r.pick(HOSTILE_STRINGS)) : r.chance(0.5) ? randomText(r) : String(r.pick([-1, 0, 1, 2 ** 53, 1e309, -0, 0.5, "true", "TRUE", "yes", "1", "0", "10.0.0.0/8", "a,b", ":61678", "unix:///x"]));
      try {
        loadConfig({ [name]: v });
      } catch (err) {
        if (!(err instanceof ConfigError)) finding(`config ${name}=${JSON.stringify(v.slice(0, 40))}: threw ${String(err).slice(0, 120)}`);
        else if (!err.problems.some((p) => p.name === name)) finding(`config ${name}=${JSON.stringify(v.slice(0, 40))}: error names ${err.problems.map((p) => p.name).join(",")}`);
        else if (!err.message.includes(name)) finding(`config ${name}: message does not name it`);
      }
    }
  }
  expect(findings).toEqual([]);
});

/**
 * Cases through the compiled shim, one exec each: ~30 ms on an idle machine, up to ~150 ms
 * on a loaded one; the test's budget is that plus a minute for the build and the broker.
 */
const SHIM_CASES = SOAK ? 1000 : 80;
test("the compiled shim, for a subset: hostile CNI cases get a JSON CNI error on stdout and a non-zero exit", async () => {
  const { svc, store } = await broker();
  const runDir = join(dir, "shim-run");
  servers.push(await serveUnix(svc.frame.app, join(runDir, "addr-broker.sock")));
  const shim = await buildShim(join(dir, "bin", "aws-cni"));
  const add = await svc.frame.app.request("/v1/cni", { method: "POST", body: JSON.stringify({ env: BASE_ENV, stdin: JSON.stringify(BASE_CONF) }) });
  expect(((await add.json()) as { exitCode: number }).exitCode).toBe(0);
  const before = store.text;
  const r = rng(SEED ^ 0x5417);
  for (let i = 0; i < SHIM_CASES; i++) {
    const c = cniCase(r);
    counts.cniCases++;
    let stdin = c.stdin;
    try {
      const conf = JSON.parse(stdin);
      if (conf && typeof conf === "object" && !Array.isArray(conf)) stdin = JSON.stringify({ ...conf, runDir });
    } catch {
      // undecodable stdin: the shim answers it itself
    }
    const env = Object.fromEntries(Object.entries(c.env).filter(([, v]) => !v.includes("\u0000")));
    const p = Bun.spawn([shim], { env, stdin: new TextEncoder().encode(stdin), stdout: "pipe", stderr: "pipe" });
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    let err: { code?: unknown; msg?: unknown } = {};
    try {
      err = JSON.parse(out);
    } catch {
      finding(`shim ${c.label}: stdout not JSON (exit ${code}): ${out.slice(0, 120)}`);
      continue;
    }
    if (code === 0 || typeof err.code !== "number" || typeof err.msg !== "string") finding(`shim ${c.label}: exit ${code} ${out.slice(0, 160)}`);
  }
  expect(store.text).toBe(before);
  expect(findings).toEqual([]);
}, 60_000 + SHIM_CASES * 150);

test("fuzz summary", () => {
  summary("fuzz", { seed: SEED, cases: counts.cniCases + counts.routeCases + counts.configCases, ...counts });
  expect(counts.cniCases + counts.routeCases + counts.configCases).toBeGreaterThan(1000);
});
