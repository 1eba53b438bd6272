/**
 * A minimal container runtime's CNI side (what libcni does for containerd and podman):
 * execs each plugin of a network configuration list with the CNI environment and the
 * plugin's configuration on stdin, chaining prevResult through ADD and CHECK, running DEL in
 * reverse with the cached result, and caching the result of ADD. The local deployment's demo
 * and the benchmarks drive the real aws-cni shim through it, exactly as a runtime would.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Conflist {
  cniVersion: string;
  name: string;
  plugins: Array<Record<string, unknown> & { type: string; capabilities?: Record<string, boolean> }>;
}

export interface Attachment {
  containerId: string;
  netns: string;
  ifName: string;
  /** CNI_ARGS pairs, e.g. K8S_POD_NAMESPACE, K8S_POD_NAME. */
  args?: Record<string, string>;
  /** Runtime config for capabilities, e.g. { portMappings: [...] }. */
  capabilityArgs?: Record<string, unknown>;
}

export class CniError extends Error {
  constructor(
    readonly plugin: string,
    readonly code: number,
    readonly msg: string,
    readonly details?: string,
  ) {
    super(`${plugin}: CNI error ${code}: ${msg}${details ? ` (${details})` : ""}`);
  }
}

export interface RuntimeOptions {
  binDirs: string[];
  cacheDir: string;
  /** Extra environment for plugins (never the caller's whole environment). */
  env?: Record<string, string>;
  /** argv put before the plugin's path, e.g. ["ip", "netns", "exec", NODE_NS] to exec it inside a node's namespace. */
  execPrefix?: string[];
}

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.\-]*$/;

/** CNI_ARGS as runtimes send it: `IgnoreUnknown=1`, then the pairs in order, `;`-separated. */
export function renderCniArgs(args: Record<string, string> = {}): string {
  return Object.entries({ IgnoreUnknown: "1", ...args }).map(([k, v]) => `${k}=${v}`).join(";");
}

export class CniRuntime {
  constructor(
    readonly conflist: Conflist,
    private readonly opts: RuntimeOptions,
  ) {
    if (!SAFE_ID.test(conflist.name)) throw new Error(`conflist name: ${JSON.stringify(conflist.name)} is not a safe network name`);
  }

  async add(a: Attachment): Promise<Record<string, unknown>> {
    let prev: unknown;
    for (const plugin of this.conflist.plugins) {
      prev = await this.exec("ADD", plugin, a, prev);
    }
    this.cache(a, prev);
    return prev as Record<string, unknown>;
  }

  async check(a: Attachment): Promise<void> {
    const prev = this.cached(a);
    for (const plugin of this.conflist.plugins) await this.exec("CHECK", plugin, a, prev);
  }

  /** DEL in reverse order; every plugin runs even when an earlier one failed, the first error is raised. */
  async del(a: Attachment): Promise<void> {
    const prev = this.cached(a);
    let first: unknown;
    for (const plugin of [...this.conflist.plugins].reverse()) {
      try {
        await this.exec("DEL", plugin, a, prev);
      } catch (err) {
        first ??= err;
      }
    }
    rmSync(this.cachePath(a), { force: true });
    if (first) throw first;
  }

  private cachePath(a: Attachment): string {
    if (!SAFE_ID.test(a.containerId) || !SAFE_ID.test(a.ifName)) throw new Error("containerId/ifName: unsafe for a cache path");
    return join(this.opts.cacheDir, `${this.conflist.name}-${a.containerId}-${a.ifName}`);
  }

  private cache(a: Attachment, result: unknown): void {
    mkdirSync(this.opts.cacheDir, { recursive: true });
    const path = this.cachePath(a);
    writeFileSync(`${path}.tmp`, JSON.stringify(result));
    renameSync(`${path}.tmp`, path);
  }

  private cached(a: Attachment): unknown {
    const path = this.cachePath(a);
    return existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : undefined;
  }

  private binary(type: string): string {
    if (!/^[A-Za-z0-9_.\-]+$/.test(type)) throw new Error(`plugin type: ${JSON.stringify(type)} is not a safe binary name`);
    for (const dir of this.opts.binDirs) {
      const p = join(dir, type);
      if (existsSync(p)) return p;
    }
    throw new CniError(type, 5, `plugin binary ${type} not found in ${this.opts.binDirs.join(":")}`);
  }

  private async exec(command: string, plugin: Conflist["plugins"][number], a: Attachment, prev: unknown): Promise<unknown> {
    const conf: Record<string, unknown> = { ...plugin, cniVersion: this.conflist.cniVersion, name: this.conflist.name };
    delete conf.capabilities;
    if (prev !== undefined) conf.prevResult = prev;
    const runtimeConfig: Record<string, unknown> = {};
    for (const [cap, on] of Object.entries(plugin.capabilities ?? {})) {
      if (on && a.capabilityArgs?.[cap] !== undefined) runtimeConfig[cap] = a.capabilityArgs[cap];
    }
    if (Object.keys(runtimeConfig).length > 0) conf.runtimeConfig = runtimeConfig;
    const args = renderCniArgs(a.args);
    const proc = Bun.spawn([...(this.opts.execPrefix ?? []), this.binary(plugin.type)], {
      env: {
        PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
        ...this.opts.env,
        CNI_COMMAND: command,
        CNI_CONTAINERID: a.containerId,
        CNI_NETNS: command === "DEL" && !existsSync(a.netns) ? "" : a.netns,
        CNI_IFNAME: a.ifName,
        CNI_ARGS: args,
        CNI_PATH: this.opts.binDirs.join(":"),
      },
      stdin: new TextEncoder().encode(JSON.stringify(conf)),
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, out] = await Promise.all([proc.exited, new Response(proc.stdout).text()]);
    if (code !== 0) {
      let parsed: { code?: number; msg?: string; details?: string } = {};
      try {
        parsed = JSON.parse(out);
      } catch {
        parsed = { msg: out.trim() || (await new Response(proc.stderr).text()).trim() };
      }
      throw new CniError(plugin.type, parsed.code ?? 999, parsed.msg ?? `exit ${code}`, parsed.details);
    }
    if (command !== "ADD") return prev;
    return out.trim() === "" ? prev : JSON.parse(out);
  }
}
