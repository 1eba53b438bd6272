/**
 * The frame of addr-broker's in-process service tests: a scratch directory per test, the fake
 * peers served on real sockets in it, the service under test created and started against them,
 * and all of it stopped (the service before its peers) and removed after each test — the
 * harness registers that with `afterEach` when it is made, at a test file's top level.
 */
import { afterEach } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { UnixServer } from "../../../shared/ipc/server.ts";
import type { KernelScan } from "../src/adapters/kernel-scan.ts";
import { createAddrBroker, type AddrBroker, type BrokerDeps } from "../src/app/app.ts";
import type { BrokerSettings } from "../src/app/settings-from-config.ts";

/** A kernel with no pods and no host veths. */
export const noKernel: KernelScan = { scan: async () => ({ pods: [], hostVeths: [] }) };

export class AppHarness {
  #dir = "";
  #stops: Array<() => unknown> = [];
  /** Services started in the current test (tests name their sockets apart by it). */
  started = 0;

  constructor(private readonly prefix: string) {
    afterEach(() => this.teardown());
  }

  /** The current test's scratch directory, made on first use. */
  get dir(): string {
    return (this.#dir ||= mkdtempSync(join(tmpdir(), this.prefix)));
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  /** Keeps a server (a fake peer on its socket) until the end of the test. */
  async serve(...servers: Array<Promise<UnixServer> | UnixServer>): Promise<void> {
    for (const s of await Promise.all(servers)) this.#stops.push(() => s.stop());
  }

  /** Creates and starts addr-broker; unless told not to, waits up to 0.5 s for its first capacity. */
  async start(settings: BrokerSettings, deps: BrokerDeps, opts: { waitCapacity?: boolean } = {}): Promise<AddrBroker> {
    const svc = createAddrBroker(settings, deps);
    this.#stops.push(() => svc.stop());
    this.started++;
    await svc.start();
    if (opts.waitCapacity !== false) for (let i = 0; i < 100 && !svc.broker.capacity; i++) await Bun.sleep(5);
    return svc;
  }

  async teardown(): Promise<void> {
    for (const stop of this.#stops.splice(0).reverse()) await stop();
    this.started = 0;
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
    this.#dir = "";
  }
}

/** One CNI call through the service's /v1/cni route: its exit code and its parsed answer. */
export async function cniCall(svc: AddrBroker, env: Record<string, string>, stdin: string): Promise<{ status: number; exitCode: number; json: any }> {
  const res = await svc.frame.app.request("/v1/cni", { method: "POST", body: JSON.stringify({ env, stdin }) });
  const out = (await res.json()) as { exitCode: number; stdout: string };
  return { status: res.status, exitCode: out.exitCode, json: out.stdout ? JSON.parse(out.stdout) : undefined };
}
