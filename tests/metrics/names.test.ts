// The node's merged /metrics (services/metrics' Exporter) against the three services'
// real frames and metric registrations, each served on its own temp Unix socket:
// pool-manager started against the simulated EC2 (real SDK), addr-broker's app with fake
// peers, net-config's routes (kernel parts unused: only its registrations are exercised).
// Every awscni_* name upstream exports (UPSTREAM below) must be there once, with upstream's
// type and labels, and values must move when the fact they count changes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Registry } from "../../shared/metrics/index.ts";
import { serveUnix, type UnixServer } from "../../shared/ipc/server.ts";
import { createFrame } from "../../shared/service.ts";
import { MemoryCheckpointStore } from "../../services/addr-broker/src/adapters/checkpoint-store.ts";
import type { KernelScan } from "../../services/addr-broker/src/adapters/kernel-scan.ts";
import { netConfigClient, poolManagerClient } from "../../services/addr-broker/src/adapters/peers.ts";
import { createAddrBroker, type AddrBroker } from "../../services/addr-broker/src/app/app.ts";
import { DEFAULT_SETTINGS } from "../../services/addr-broker/src/app/settings-from-config.ts";
import { FakeNetConfig as BrokerNetConfig, FakePoolManager, testCapacity } from "../../services/addr-broker/test-support/fakes.ts";
import { Exporter } from "../../services/metrics/src/app/exporter.ts";
import { mountNetConfig, type NetConfigParts } from "../../services/net-config/src/app/app.ts";
import { repairCounter } from "../../services/net-config/src/app/metrics.ts";
import { connmarkMetrics, type ConnmarkMetrics } from "../../services/net-config/src/app/connmark-service.ts";
import { FakeBroker, FakeNetConfig } from "../../services/pool-manager/test-support/fakes.ts";
import { simImds, simWorld } from "../pool-manager/sim-world.ts";
import { poolMetrics } from "../../services/pool-manager/src/app/metrics.ts";
import { PoolManager } from "../../services/pool-manager/src/app/pool-manager.ts";
import { UPSTREAM_DEFAULTS } from "../../services/pool-manager/src/core/settings.ts";

type Kind = "counter" | "gauge" | "summary" | "histogram";
/**
 * Upstream's metrics (v1.23.1: utils/prometheusmetrics/prometheusmetrics.go, pkg/version/info.go):
 * name → type, HELP, labels, and the service of this project that owns the fact. A fixture of
 * upstream's shape, written out here rather than imported, so the test can fail.
 */
const UPSTREAM: Record<string, { type: Kind; help: string; labels: string[]; service: "pool-manager" | "addr-broker" | "net-config" }> = {
  awscni_ipamd_error_count: { type: "counter", help: "The number of errors encountered in ipamd", labels: ["fn"], service: "pool-manager" },
  awscni_ipamd_action_inprogress: { type: "gauge", help: "The number of ipamd actions in progress", labels: ["fn"], service: "pool-manager" },
  awscni_eni_max: { type: "gauge", help: "The maximum number of ENIs that can be attached to the instance, accounting for unmanaged ENIs", labels: [], service: "pool-manager" },
  awscni_ip_max: { type: "gauge", help: "The maximum number of IP addresses that can be allocated to the instance", labels: [], service: "pool-manager" },
  awscni_reconcile_count: { type: "counter", help: "The number of times ipamd reconciles on ENIs and IP/Prefix addresses", labels: ["fn"], service: "pool-manager" },
  awscni_add_ip_req_count: { type: "counter", help: "The number of add IP address requests", labels: [], service: "addr-broker" },
  awscni_del_ip_req_count: { type: "counter", help: "The number of delete IP address requests", labels: ["reason"], service: "addr-broker" },
  awscni_pod_eni_error_count: { type: "counter", help: "The number of errors encountered for pod ENIs", labels: ["fn"], service: "pool-manager" },
  awscni_aws_api_latency_ms: { type: "summary", help: "AWS API call latency in ms", labels: ["api", "error", "status"], service: "pool-manager" },
  awscni_aws_api_error_count: { type: "counter", help: "The number of times AWS API returns an error", labels: ["api", "error"], service: "pool-manager" },
  awscni_aws_utils_error_count: { type: "counter", help: "The number of errors not handled in awsutils library", labels: ["fn", "error"], service: "pool-manager" },
  awscni_ec2api_req_count: { type: "counter", help: "The number of requests made to EC2 APIs by CNI", labels: ["fn"], service: "pool-manager" },
  awscni_ec2api_error_count: { type: "counter", help: "The number of failed EC2 APIs requests", labels: ["fn"], service: "pool-manager" },
  awscni_eni_allocated: { type: "gauge", help: "The number of ENIs allocated", labels: [], service: "pool-manager" },
  awscni_total_ip_addresses: { type: "gauge", help: "The total number of IP addresses", labels: [], service: "pool-manager" },
  awscni_assigned_ip_addresses: { type: "gauge", help: "The number of IP addresses assigned to pods", labels: [], service: "addr-broker" },
  awscni_force_removed_enis: { type: "counter", help: "The number of ENIs force removed while they had assigned pods", labels: [], service: "pool-manager" },
  awscni_force_removed_ips: { type: "counter", help: "The number of IPs force removed while they had assigned pods", labels: [], service: "pool-manager" },
  awscni_total_ipv4_prefixes: { type: "gauge", help: "The total number of IPv4 prefixes", labels: [], service: "pool-manager" },
  awscni_assigned_ip_per_cidr: { type: "gauge", help: "The total number of IP addresses assigned per cidr", labels: ["cidr"], service: "addr-broker" },
  awscni_no_available_ip_addresses: { type: "counter", help: "The number of pod IP assignments that fail due to no available IP addresses", labels: [], service: "addr-broker" },
  awscni_assigned_ip_per_eni: { type: "gauge", help: "The number of allocated ips partitioned by eni", labels: ["eni"], service: "pool-manager" },
  awscni_ipamd_startup_duration_seconds: { type: "histogram", help: "The duration of IPAMD startup from process start to ready to serve CNI requests", labels: ["success", "with_api_server", "failure_reason"], service: "pool-manager" },
  awscni_ipamd_node_initialization_duration_seconds: { type: "histogram", help: "The duration of node initialization during IPAMD startup", labels: ["success"], service: "pool-manager" },
  awscni_connmark_backend: { type: "gauge", help: "The connmark backend in use; the active backend's series is set to 1", labels: ["backend"], service: "net-config" },
  awscni_connmark_reconcile_total: { type: "counter", help: "The number of connmark Setup/Cleanup reconciliations by result", labels: ["result"], service: "net-config" },
  awscni_build_info: { type: "gauge", help: "A metric with a constant '1' value labeled by version, revision, and goversion from which amazon-vpc-cni-k8s was built.", labels: ["version", "goversion"], service: "pool-manager" },
};
/** The project's own: CNI ADD/DEL latency, EC2 token-bucket wait, reconcile repairs, addresses cooling. */
const OWN: Record<string, { type: Kind; labels: string[] }> = {
  awscni_cni_request_duration_seconds: { type: "histogram", labels: ["command", "outcome"] },
  awscni_ec2_bucket_wait_seconds: { type: "histogram", labels: ["api"] },
  awscni_netconfig_repairs_total: { type: "counter", labels: ["kind"] },
  awscni_cooling_ip_addresses: { type: "gauge", labels: [] },
  awscni_metrics_scrape_up: { type: "gauge", labels: ["service"] },
};

interface Family {
  type?: string;
  help?: string;
  helps: number;
  types: number;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

/** A strict reading of the text format: every sample must follow its family's TYPE line. */
function parse(text: string): Map<string, Family> {
  const fams = new Map<string, Family>();
  let current: string | undefined;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const f = fams.get(meta[2]!) ?? { helps: 0, types: 0, samples: [] };
      fams.set(meta[2]!, f);
      if (meta[1] === "HELP") {
        f.helps++;
        f.help = meta[3];
      }
      else {
        f.types++;
        f.type = meta[3];
      }
      current = meta[2];
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    if (!current || !m[1]!.startsWith(current)) throw new Error(`sample ${m[1]} outside its family (after ${current})`);
    fams.get(current)!.samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return fams;
}

const value = (fams: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined =>
  [...fams.values()].flatMap((f) => f.samples).find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

/** Label names a registered metric was declared with (for families that have no sample yet). */
const declaredLabels = (r: Registry, name: string): string[] | undefined => (r.getSingleMetric(name) as unknown as { labelNames?: string[] } | undefined)?.labelNames;

let dir = "";
const servers: UnixServer[] = [];
let world: Awaited<ReturnType<typeof simWorld>> | undefined;
let pm: PoolManager | undefined;
let broker: AddrBroker | undefined;
let exporter: Exporter;
const registries: Record<string, Registry> = {};
const liveNetns = new Set<string>();
let connmark: ConnmarkMetrics;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), `metrics-names-${process.pid}-`));
  // pool-manager: its metrics exactly as main.ts registers them, the guard counting EC2 calls.
  const pmFrame = createFrame({ name: "pool-manager", debug: () => ({}) });
  const metrics = poolMetrics(pmFrame.registry);
  registries["pool-manager"] = pmFrame.registry;
  // CreateNetworkInterface always fails: the second warm ENI is never made, which the pool counts as an error.
  world = await simWorld({ guard: { metrics, maxRetries: 1 }, faults: { errors: { CreateNetworkInterface: { rate: 1, code: "InternalError" } } } });
  pm = new PoolManager(
    { ...UPSTREAM_DEFAULTS, warmEniTarget: 2 },
    { ec2: world.ec2, imds: simImds(world), net: new FakeNetConfig(), broker: new FakeBroker() },
    { additionalTags: {}, subnetDiscovery: false, disableProvisioning: false, disableLeakedEniCleanup: false, now: Date.now, sleep: (ms) => Bun.sleep(Math.min(ms, 20)) },
    metrics,
  );
  await pm.start();
  for (let i = 0; i < 3; i++) await pm.cycle();
  servers.push(await serveUnix(pmFrame.app, join(dir, "pool-manager.sock")));

  // addr-broker: the service as main.ts builds it, with fake peers on sockets.
  const net = new BrokerNetConfig("eni", (p) => liveNetns.has(p));
  const pool = new FakePoolManager(testCapacity());
  servers.push(await net.serve(join(dir, "fake-net.sock")), await pool.serve(join(dir, "fake-pool.sock")));
  const noKernel: KernelScan = { scan: async () => ({ pods: [], hostVeths: [] }) };
  broker = createAddrBroker(
    { ...DEFAULT_SETTINGS, missWaitMs: 0, capacityWaitMs: 200, netConfigSocket: join(dir, "fake-net.sock") },
    { store: new MemoryCheckpointStore(), kernel: noKernel, netConfig: netConfigClient(join(dir, "fake-net.sock"), { kernel: noKernel, vethPrefix: "eni" }), pool: poolManagerClient(join(dir, "fake-pool.sock")), netnsExists: (p) => liveNetns.has(p) },
  );
  await broker.start();
  for (let i = 0; i < 200 && !broker.broker.capacity; i++) await Bun.sleep(5);
  registries["addr-broker"] = broker.frame.registry;
  servers.push(await serveUnix(broker.frame.app, join(dir, "addr-broker.sock")));

  // net-config: its routes and metrics as main.ts mounts them; no request reaches the kernel parts here.
  const ncFrame = createFrame({ name: "net-config", debug: () => ({}) });
  mountNetConfig(ncFrame, { backend: "nft" } as NetConfigParts);
  // The connmark metrics as main.ts registers them (what increments them: connmark-nft.root.test.ts).
  connmark = connmarkMetrics(ncFrame.registry, "nftables");
  repairCounter(ncFrame.registry).inc({ kind: "route" }, 0);
  registries["net-config"] = ncFrame.registry;
  servers.push(await serveUnix(ncFrame.app, join(dir, "net-config.sock")));

  exporter = new Exporter({ "pool-manager": join(dir, "pool-manager.sock"), "addr-broker": join(dir, "addr-broker.sock"), "net-config": join(dir, "net-config.sock") });
});

afterAll(async () => {
  broker?.stop();
  pm?.stop();
  for (const s of servers) await s.stop();
  await world?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function cni(command: "ADD" | "DEL", id: string): Promise<number> {
  const netns = `/run/netns/metrics-${process.pid}-${id}`;
  liveNetns.add(netns);
  const env = { CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: "eth0", CNI_ARGS: `K8S_POD_NAMESPACE=default;K8S_POD_NAME=${id}` };
  const res = await broker!.frame.app.request("/v1/cni", { method: "POST", body: JSON.stringify({ env, stdin: JSON.stringify({ cniVersion: "1.0.0", name: "aws-cni", type: "aws-cni" }) }) });
  return ((await res.json()) as { exitCode: number }).exitCode;
}

describe("merged /metrics", () => {
  test("every upstream name once, with upstream's type and labels, from the service that owns the fact", async () => {
    const text = await exporter.collect();
    const fams = parse(text);
    for (const s of ["pool-manager", "addr-broker", "net-config"]) expect(value(fams, "awscni_metrics_scrape_up", { service: s })).toBe(1);
    for (const [name, want] of Object.entries({ ...UPSTREAM, ...OWN })) {
      const f = fams.get(name);
      expect(f, `${name} missing from the merged exposition`).toBeDefined();
      expect({ name, type: f!.type, helps: f!.helps, types: f!.types }).toEqual({ name, type: want.type, helps: 1, types: 1 });
      if ("help" in want) expect({ name, help: f!.help }).toEqual({ name, help: want.help });
      const sampleLabels = new Set(f!.samples.flatMap((s) => Object.keys(s.labels)).filter((l) => l !== "le" && l !== "quantile"));
      if (f!.samples.length > 0) expect({ name, labels: [...sampleLabels].sort() }).toEqual({ name, labels: [...want.labels].sort() });
      else {
        // No sample yet (nothing counted): the declared label names are checked on the owner's registry.
        const owner = Object.values(registries).find((r) => r.getSingleMetric(name));
        const declared = owner ? declaredLabels(owner, name) : undefined;
        expect({ name, labels: [...(declared ?? [])].sort() }).toEqual({ name, labels: [...want.labels].sort() });
      }
    }
    for (const name of Object.keys(UPSTREAM)) {
      expect(fams.has(`${name}_total`), `${name}_total must not exist: upstream's name has no suffix`).toBe(false);
      expect(registries[UPSTREAM[name]!.service]!.getSingleMetric(name), `${name} is served by ${UPSTREAM[name]!.service}`).toBeDefined();
    }
    // Families are unique across the whole exposition, HELP and TYPE included.
    for (const [name, f] of fams) expect({ name, helps: f.helps, types: f.types }).toEqual({ name, helps: 1, types: 1 });
    expect(fams.get("awscni_build_info")!.samples).toHaveLength(1);
  });

  test("pool-manager's values are the pool's facts (m5.large: 3 ENIs × 10 addresses; a failed ENI creation counted)", async () => {
    const fams = parse(await exporter.collect());
    expect(value(fams, "awscni_eni_max")).toBe(3);
    expect(value(fams, "awscni_ip_max")).toBe(27);
    expect(value(fams, "awscni_eni_allocated")).toBe(pm!.model.poolState().enis.length);
    expect(value(fams, "awscni_total_ip_addresses")).toBeGreaterThan(0);
    expect(value(fams, "awscni_ipamd_startup_duration_seconds_count")).toBe(1);
    expect(value(fams, "awscni_ec2api_req_count", { fn: "AssignPrivateIpAddresses" })).toBeGreaterThan(0);
    expect(value(fams, "awscni_aws_api_latency_ms_count", { api: "AssignPrivateIpAddresses", error: "false", status: "200" })).toBeGreaterThan(0);
    expect(value(fams, "awscni_ec2api_error_count", { fn: "CreateNetworkInterface" })).toBeGreaterThan(0);
    expect(value(fams, "awscni_aws_api_error_count", { api: "CreateNetworkInterface", error: "InternalError" })).toBeGreaterThan(0);
    expect([...fams.get("awscni_ipamd_error_count")!.samples.map((s) => s.value)].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    const primary = pm!.model.poolState().enis[0]!.id;
    expect(value(fams, "awscni_assigned_ip_per_eni", { eni: primary })).toBe(0);
  });

  test("an ADD and a DEL through addr-broker's app move its counters and gauges", async () => {
    const before = parse(await exporter.collect());
    expect(value(before, "awscni_add_ip_req_count")).toBe(0);
    expect(value(before, "awscni_assigned_ip_addresses")).toBe(0);
    expect(await cni("ADD", "p1")).toBe(0);
    const added = parse(await exporter.collect());
    expect(value(added, "awscni_add_ip_req_count")).toBe(1);
    expect(value(added, "awscni_assigned_ip_addresses")).toBe(1);
    expect(value(added, "awscni_assigned_ip_per_cidr", { cidr: "10.0.1.1/32" })).toBe(1);
    expect(value(added, "awscni_cni_request_duration_seconds_count", { command: "ADD", outcome: "ok" })).toBe(1);
    expect(await cni("DEL", "p1")).toBe(0);
    const deleted = parse(await exporter.collect());
    expect(value(deleted, "awscni_del_ip_req_count", { reason: "PodDeleted" })).toBe(1);
    expect(value(deleted, "awscni_assigned_ip_addresses")).toBe(0);
    expect(value(deleted, "awscni_cooling_ip_addresses")).toBe(1);
    expect(value(deleted, "awscni_cni_request_duration_seconds_count", { command: "DEL", outcome: "ok" })).toBe(1);
  });

  test("net-config: the connmark backend in use, and reconciliations counted by result", async () => {
    connmark.reconciled("success");
    connmark.reconciled("error");
    connmark.reconciled("success");
    const fams = parse(await exporter.collect());
    expect(value(fams, "awscni_connmark_backend", { backend: "nftables" })).toBe(1);
    expect(value(fams, "awscni_connmark_reconcile_total", { result: "success" })).toBe(2);
    expect(value(fams, "awscni_connmark_reconcile_total", { result: "error" })).toBe(1);
  });

  test("a service that does not answer is reported, and the others are still merged", async () => {
    const gone = new Exporter({ "addr-broker": join(dir, "addr-broker.sock"), "pool-manager": join(dir, "absent.sock") });
    const fams = parse(await gone.collect());
    expect(value(fams, "awscni_metrics_scrape_up", { service: "pool-manager" })).toBe(0);
    expect(value(fams, "awscni_metrics_scrape_up", { service: "addr-broker" })).toBe(1);
    expect(fams.has("awscni_add_ip_req_count")).toBe(true);
    expect(fams.has("awscni_eni_allocated")).toBe(false);
  });
});
