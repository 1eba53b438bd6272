/**
 * Drives the compiled aws-cni binary exactly as a container runtime does (CNI_* env,
 * config on stdin, result on stdout, the exit code), against addr-broker run as its own
 * process (services/addr-broker/main.ts) with fake pool-manager and net-config sockets
 * in its run dir. Pod network namespaces are real (`ip netns add`), so CNI_NETNS paths
 * exist; the fake net-config never touches the kernel.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import type { UnixServer } from "../../shared/ipc/server.ts";
import { buildShim } from "../../cni-shim/build.ts";
import { FakeNetConfig, FakePoolManager, testCapacity } from "../../services/addr-broker/test-support/fakes.ts";

const ROOT = resolve(import.meta.dir, "../..");
export const isRoot = process.getuid?.() === 0;

export interface ShimRun {
  code: number;
  stdout: string;
  stderr: string;
  json: any;
}

export class CniHarness {
  readonly dir = mkdtempSync(join(tmpdir(), "cni-conf-"));
  readonly runDir = join(this.dir, "run");
  readonly checkpoint = join(this.dir, "ipam.json");
  readonly net = new FakeNetConfig("eni");
  readonly pool: FakePoolManager;
  shim = "";
  broker: Subprocess | undefined;
  private servers: UnixServer[] = [];
  private namespaces = new Set<string>();
  private seq = 0;

  constructor(capacity = testCapacity({ addresses: 64 }), readonly cooldownSeconds = 30) {
    this.pool = new FakePoolManager(capacity);
  }

  async start(): Promise<void> {
    this.shim = await buildShim(join(this.dir, "bin", "aws-cni"));
    this.servers.push(await this.net.serve(join(this.runDir, "net-config.sock")));
    this.servers.push(await this.pool.serve(join(this.runDir, "pool-manager.sock")));
    await this.startBroker();
  }

  async startBroker(): Promise<void> {
    this.broker = Bun.spawn([process.execPath, join(ROOT, "services/addr-broker/main.ts")], {
      env: {
        PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
        AWS_VPC_CNI_RUN_DIR: this.runDir,
        AWS_VPC_K8S_CNI_BACKING_STORE: this.checkpoint,
        IP_COOLDOWN_PERIOD: String(this.cooldownSeconds),
        AWS_VPC_K8S_CNI_LOG_FILE: join(this.dir, "addr-broker.log"),
      },
      stdout: "ignore",
      stderr: "inherit",
    });
    // Ready when it answers /healthz and has capacity.
    for (let i = 0; i < 500; i++) {
      try {
        const res = await fetch("http://localhost/debug", { unix: join(this.runDir, "addr-broker.sock") });
        const d = (await res.json()) as { capacity: unknown; startupSweep: { done: boolean } };
        if (res.ok && d.capacity && d.startupSweep.done) return;
      } catch {
        // not up yet
      }
      await Bun.sleep(10);
    }
    throw new Error("addr-broker did not start");
  }

  async killBroker(signal: "SIGKILL" | "SIGTERM" = "SIGKILL"): Promise<void> {
    const b = this.broker;
    this.broker = undefined;
    if (!b) return;
    b.kill(signal);
    await b.exited;
  }

  /** A fresh pod network namespace; removed in stop() (or by dropNetns). */
  netns(): string {
    const name = `cnic${process.pid}x${this.seq++}`;
    const r = Bun.spawnSync(["ip", "netns", "add", name]);
    if (r.exitCode !== 0) throw new Error(`ip netns add ${name}: ${r.stderr.toString()}`);
    this.namespaces.add(name);
    return `/run/netns/${name}`;
  }

  dropNetns(path: string): void {
    const name = path.split("/").pop() ?? "";
    if (this.namespaces.delete(name)) Bun.spawnSync(["ip", "netns", "del", name]);
  }

  conf(cniVersion: string | undefined, extra: Record<string, unknown> = {}): string {
    const c: Record<string, unknown> = { name: "aws-cni", type: "aws-cni", runDir: this.runDir, ...extra };
    if (cniVersion !== undefined) c.cniVersion = cniVersion;
    return JSON.stringify(c);
  }

  async exec(env: Record<string, string | undefined>, stdin: string): Promise<ShimRun> {
    const clean: Record<string, string> = { CNI_PATH: join(this.dir, "bin") };
    for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
    const p = Bun.spawn([this.shim], { env: clean, stdin: new Blob([stdin]), stdout: "pipe", stderr: "pipe" });
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

  async stop(): Promise<void> {
    await this.killBroker("SIGTERM");
    for (const s of this.servers) await s.stop();
    for (const n of this.namespaces) Bun.spawnSync(["ip", "netns", "del", n]);
    this.namespaces.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
