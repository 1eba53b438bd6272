/**
 * Drives the compiled aws-cni binary exactly as a container runtime does (CNI_* env,
 * config on stdin, result on stdout, the exit code), against addr-broker run as its own
 * process (services/addr-broker/main.ts) and a fake pool-manager whose capacity the test
 * sets. Pod network namespaces are real. net-config is either
 * - "real": services/net-config/main.ts inside a fresh namespace standing for the node
 *   (one veth per ENI of the capacity, named eth<device> with the ENI's MAC; the primary's
 *   address on eth0), with addr-broker beside it in that namespace, as on a node: pods are
 *   wired in the kernel and tests read the kernel; or
 * - "fake": the in-process fake of services/addr-broker/test-support/fakes.ts, which keeps
 *   what it was told and never touches the kernel.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import type { CapacitySnapshot } from "../../shared/contracts/capacity.ts";
import type { UnixServer } from "../../shared/ipc/server.ts";
import { buildShim } from "../../cni-shim/build.ts";
import { FakeNetConfig, FakePoolManager, testCapacity } from "../../services/addr-broker/test-support/fakes.ts";
import { Namespaces } from "../../services/net-config/test-support/namespaces.ts";

const ROOT = resolve(import.meta.dir, "../..");
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface ShimRun {
  code: number;
  stdout: string;
  stderr: string;
  json: any;
}

export interface HarnessOptions {
  netConfig: "real" | "fake";
  capacity?: CapacitySnapshot;
  cooldownSeconds?: number;
  /** Extra environment for net-config ("real") and addr-broker, e.g. AWS_VPC_CNI_RECONCILE_INTERVAL_SECONDS. */
  netConfigEnv?: Record<string, string>;
  brokerEnv?: Record<string, string>;
  /** addr-broker's entry file under the repository (default services/addr-broker/main.ts), e.g. one that turns on ENABLE_POD_ENI. */
  brokerMain?: string;
  /** net-config's entry file ("real"), default services/net-config/main.ts. */
  netConfigMain?: string;
}

export class CniHarness {
  readonly dir = mkdtempSync(join(tmpdir(), "cni-conf-"));
  readonly runDir = join(this.dir, "run");
  readonly checkpoint = join(this.dir, "ipam.json");
  readonly pool: FakePoolManager;
  /** The fake net-config ("fake" only). */
  readonly fakeNet: FakeNetConfig | undefined;
  /** The namespace standing for the node ("real" only), set by start(). */
  node: { name: string; path: string } | undefined;
  shim = "";
  broker: Subprocess | undefined;
  private netConfig: Subprocess | undefined;
  private servers: UnixServer[] = [];
  private readonly nss = new Namespaces();
  private readonly pods = new Map<string, string>(); // netns path → name
  readonly cooldownSeconds: number;

  constructor(readonly opts: HarnessOptions) {
    this.pool = new FakePoolManager(opts.capacity ?? testCapacity({ addresses: 64 }));
    this.fakeNet = opts.netConfig === "fake" ? new FakeNetConfig("eni") : undefined;
    this.cooldownSeconds = opts.cooldownSeconds ?? 30;
  }

  async start(): Promise<void> {
    this.shim = await buildShim(join(this.dir, "bin", "aws-cni"));
    if (this.fakeNet) this.servers.push(await this.fakeNet.serve(join(this.runDir, "net-config.sock")));
    else await this.startNetConfig();
    this.servers.push(await this.pool.serve(join(this.runDir, "pool-manager.sock")));
    await this.startBroker();
  }

  /** The node namespace with one link per ENI, and net-config serving in it. */
  private async startNetConfig(): Promise<void> {
    const node = (this.node = this.nss.add("n"));
    const snapshot = this.pool.snapshot!;
    for (const eni of snapshot.enis) {
      // An ENI on another network card gets a link of its own, named as the local deployment names it.
      const dev = eni.networkCard > 0 ? `c${eni.networkCard}eth${eni.deviceNumber}` : `eth${eni.deviceNumber}`;
      const peer = eni.networkCard > 0 ? `vpc${eni.networkCard}x${eni.deviceNumber}` : `vpc${eni.deviceNumber}`;
      this.nss.ip(node.name, ["link", "add", dev, "address", eni.mac, "type", "veth", "peer", "name", peer]);
      this.nss.ip(node.name, ["link", "set", peer, "up"]);
      if (eni.primary) {
        this.nss.ip(node.name, ["addr", "add", `${eni.primaryIp}/${eni.subnetCidr.split("/")[1]}`, "dev", dev]);
        this.nss.ip(node.name, ["link", "set", dev, "up"]);
      }
    }
    this.nss.exec(node.name, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    this.netConfig = this.spawnService("net-config", this.opts.netConfigEnv);
    await waitFor("net-config", this.netConfig, async () => (await this.get("net-config", "/healthz")).ok);
  }

  async startBroker(): Promise<void> {
    this.broker = this.spawnService("addr-broker", { AWS_VPC_K8S_CNI_BACKING_STORE: this.checkpoint, IP_COOLDOWN_PERIOD: String(this.cooldownSeconds), ...this.opts.brokerEnv });
    // Ready when it has capacity and its start-up sweep is done.
    await waitFor("addr-broker", this.broker, async () => {
      const d = (await (await this.get("addr-broker", "/debug")).json()) as { capacity: unknown; startupSweep: { done: boolean } };
      return !!d.capacity && d.startupSweep.done;
    });
  }

  /** A service's main.ts as its own process: in the node namespace with the real net-config (as on a node). */
  private spawnService(service: "net-config" | "addr-broker", env: Record<string, string> = {}): Subprocess {
    const main = (service === "addr-broker" ? this.opts.brokerMain : this.opts.netConfigMain) ?? join("services", service, "main.ts");
    const argv = [process.execPath, join(ROOT, main)];
    return Bun.spawn(this.node ? ["ip", "netns", "exec", this.node.name, ...argv] : argv, {
      env: { PATH, AWS_VPC_CNI_RUN_DIR: this.runDir, AWS_VPC_K8S_CNI_LOG_FILE: join(this.dir, `${service}.log`), ...env },
      stdout: "ignore",
      stderr: "inherit",
    });
  }

  /** GET a service's route over its socket (/debug, /healthz, ...). */
  get(service: string, path: string): Promise<Response> {
    return fetch(`http://localhost${path}`, { unix: join(this.runDir, `${service}.sock`), signal: AbortSignal.timeout(2000) });
  }

  async killBroker(signal: "SIGKILL" | "SIGTERM" = "SIGKILL"): Promise<void> {
    const b = this.broker;
    this.broker = undefined;
    if (!b) return;
    b.kill(signal);
    await b.exited;
  }

  /** Stops the real net-config (SIGKILL); restartNetConfig() starts it again in the same node namespace. */
  async killNetConfig(): Promise<void> {
    const nc = this.netConfig;
    this.netConfig = undefined;
    if (!nc) return;
    nc.kill("SIGKILL");
    await nc.exited;
  }

  async restartNetConfig(): Promise<void> {
    this.netConfig = this.spawnService("net-config");
    await waitFor("net-config", this.netConfig, async () => (await this.get("net-config", "/healthz")).ok);
  }

  /** A fresh pod network namespace; removed in stop() (or by dropNetns). */
  netns(): string {
    const ns = this.nss.add("p");
    this.pods.set(ns.path, ns.name);
    return ns.path;
  }

  /** The name of a pod namespace made by netns(), for `ip -n`. */
  netnsName(path: string): string {
    const name = this.pods.get(path);
    if (!name) throw new Error(`${path} was not made by this harness`);
    return name;
  }

  dropNetns(path: string): void {
    const name = this.pods.get(path);
    if (name === undefined) return;
    this.pods.delete(path);
    this.nss.remove(name);
  }

  conf(cniVersion: string | undefined, extra: Record<string, unknown> = {}): string {
    const c: Record<string, unknown> = { name: "aws-cni", type: "aws-cni", runDir: this.runDir, ...extra };
    if (cniVersion !== undefined) c.cniVersion = cniVersion;
    return JSON.stringify(c);
  }

  /** Runs the shim (or `binary`, e.g. the shim installed as egress-cni) as a runtime does. */
  async exec(env: Record<string, string | undefined>, stdin: string, binary = this.shim): Promise<ShimRun> {
    const clean: Record<string, string> = { CNI_PATH: join(this.dir, "bin") };
    for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
    const p = Bun.spawn([binary], { env: clean, stdin: new Blob([stdin]), stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    let json: unknown;
    try {
      json = stdout ? JSON.parse(stdout) : undefined;
    } catch {
      json = undefined;
    }
    return { code, stdout, stderr, json };
  }

  async readCheckpoint(): Promise<{ allocations: Array<{ containerID: string; ifName: string; ipv4: string }> }> {
    return JSON.parse(await Bun.file(this.checkpoint).text());
  }

  /** DELs the shim recorded for addr-broker (`<run dir>/pending-del/*.json`). */
  pendingDels(): number {
    try {
      return readdirSync(join(this.runDir, "pending-del")).filter((n) => n.endsWith(".json")).length;
    } catch {
      return 0;
    }
  }

  async stop(): Promise<void> {
    await this.killBroker("SIGTERM");
    const nc = this.netConfig;
    this.netConfig = undefined;
    if (nc) {
      nc.kill("SIGTERM");
      await nc.exited;
    }
    for (const s of this.servers) await s.stop();
    this.pods.clear();
    this.nss.cleanup();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls `ready` (every 10 ms, up to 15 s) while `proc` runs; throws naming the service otherwise. */
async function waitFor(service: string, proc: Subprocess, ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${service} exited with ${proc.exitCode} during start-up`);
    try {
      if (await ready()) return;
      last = "answering, not ready";
    } catch (err) {
      last = (err as Error).message;
    }
    await Bun.sleep(10);
  }
  throw new Error(`${service} not ready after 15 s: ${last}`);
}
