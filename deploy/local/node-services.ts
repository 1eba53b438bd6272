/**
 * The aws-node "pod" of every simulated node: the four services started inside the node's
 * network namespace (as a hostNetwork DaemonSet pod runs on an EC2 instance), each with the
 * node's configuration, restarted when it dies as the kubelet restarts a container, plus the
 * node's CNI directories: the compiled shim, the chained plugins and a rendered conflist.
 */
import { EGRESS_PLUGIN_TYPE } from "../../shared/egress.ts";
import { existsSync, linkSync, mkdirSync, openSync, closeSync, renameSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Logger } from "pino";
import { loadConfig } from "../../shared/config/index.ts";
import { buildServices } from "../../services/build.ts";
import { SERVICE_RUNTIME_ENV } from "../../services/runtime-env.ts";
import type { Stack, StackNode } from "./stack.ts";

export const REPO_ROOT = resolve(import.meta.dir, "../..");
export const BUN = join(REPO_ROOT, "node_modules/.bin/bun");
/** Start order: kernel owner first, then the pool, then the broker that needs both, then metrics, then the policy agent (reads the pool's node addresses). */
export const SERVICE_ORDER = ["net-config", "pool-manager", "addr-broker", "metrics", "policy-agent"] as const;
export type LocalService = (typeof SERVICE_ORDER)[number];
export const CHAINED_PLUGINS = ["portmap", "bandwidth", "tuning", "loopback", "host-local"];
/** How the services run under Bun (JIT tiers, allocator): see services/runtime-env.ts. */
export { SERVICE_RUNTIME_ENV } from "../../services/runtime-env.ts";

export interface NodeLayout {
  root: string;
  runDir: string;
  logDir: string;
  cniBinDir: string;
  cniConfDir: string;
  conflist: string;
  cacheDir: string;
}

export function nodeLayout(dir: string, index: number): NodeLayout {
  const root = join(dir, "nodes", String(index));
  return {
    root,
    runDir: join(root, "run"),
    logDir: join(root, "logs"),
    cniBinDir: join(root, "cni/bin"),
    cniConfDir: join(root, "cni/net.d"),
    conflist: join(root, "cni/net.d/10-aws.conflist"),
    cacheDir: join(root, "cni/cache"),
  };
}

/** The environment of a node's services: the node's endpoints, then the operator's --env on top. */
export function nodeEnv(stack: Stack, node: StackNode, layout: NodeLayout, service: LocalService, extra: Record<string, string>): Record<string, string> {
  return {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: layout.root,
    AWS_VPC_CNI_RUN_DIR: layout.runDir,
    AWS_VPC_K8S_CNI_LOG_FILE: join(layout.logDir, `${service}.log`),
    AWS_VPC_K8S_PLUGIN_LOG_FILE: join(layout.logDir, "plugin.log"),
    AWS_VPC_K8S_EGRESS_V4_PLUGIN_LOG_FILE: join(layout.logDir, "egress-v4-plugin.log"),
    AWS_VPC_K8S_EGRESS_V6_PLUGIN_LOG_FILE: join(layout.logDir, "egress-v6-plugin.log"),
    AWS_EC2_ENDPOINT: stack.ec2.endpoint,
    AWS_REGION: "us-west-2",
    // The SDK signs every request; the simulated EC2 accepts any static credentials.
    AWS_ACCESS_KEY_ID: "AKIDLOCALDEPLOYMENT",
    AWS_SECRET_ACCESS_KEY: "local-deployment-secret",
    AWS_EC2_METADATA_SERVICE_ENDPOINT: stack.imds.endpoint,
    KUBECONFIG: stack.kube.kubeconfig,
    MY_NODE_NAME: node.name,
    CLUSTER_NAME: "local",
    HOST_CNI_BIN_PATH: layout.cniBinDir,
    HOST_CNI_CONFDIR_PATH: layout.cniConfDir,
    ...extra,
  };
}

/** Validates the operator's --env pairs against the configuration schema before any node starts. */
export function parseEnvPairs(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new Error(`--env: expected KEY=VALUE, got ${JSON.stringify(pair)}`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  loadConfig(env); // throws ConfigError naming every offending variable
  return env;
}

/** Compiles the shim once per deployment; nodes get hard links to it. */
export async function buildShim(dir: string): Promise<string> {
  const out = join(dir, "aws-cni");
  if (existsSync(out)) return out;
  const p = Bun.spawn([BUN, "run", join(REPO_ROOT, "cni-shim/build.ts"), out], { cwd: REPO_ROOT, stdout: "pipe", stderr: "pipe" });
  if ((await p.exited) !== 0) throw new Error(`building the cni shim failed: ${await new Response(p.stderr).text()}`);
  return out;
}

/**
 * The node's CNI bin dir, as the init container installs it on a host: the shim (also as
 * egress-cni) and the chained plugins. The conflist is not written here: addr-broker installs it into the node's
 * conf dir (HOST_CNI_CONFDIR_PATH) once it can serve ADDs, as on a real node.
 */
export function installCni(layout: NodeLayout, shim: string): void {
  mkdirSync(layout.cniBinDir, { recursive: true });
  mkdirSync(layout.cniConfDir, { recursive: true });
  // egress-cni is the same binary (a hard link costs nothing here): chained when the node's settings enable it.
  for (const name of ["aws-cni", EGRESS_PLUGIN_TYPE]) {
    const target = join(layout.cniBinDir, name);
    rmSync(`${target}.tmp`, { force: true });
    try {
      linkSync(shim, `${target}.tmp`);
    } catch {
      copyFileSync(shim, `${target}.tmp`);
    }
    renameSync(`${target}.tmp`, target);
  }
  for (const p of CHAINED_PLUGINS) {
    const src = join("/usr/lib/cni", p);
    const dst = join(layout.cniBinDir, p);
    if (existsSync(src) && !existsSync(dst)) symlinkSync(src, dst);
  }
}

/**
 * Bundles the services once per deployment into `<dir>/services/<service>/main.js`
 * (services/build.ts; the DaemonSet's image runs the same bundles): a bundle keeps only what
 * a service uses of the AWS SDK and the Kubernetes client — most of the memory a service run
 * from source holds. Nodes of one deployment share the build.
 */
const serviceBuilds = new Map<string, Promise<string>>();
export function bundledServices(dir: string): Promise<string> {
  const out = resolve(dir, "services");
  let build = serviceBuilds.get(out);
  if (!build) {
    build = buildServices(out);
    serviceBuilds.set(out, build);
    build.catch(() => serviceBuilds.delete(out));
  }
  return build;
}

interface Supervised {
  service: LocalService;
  proc?: ReturnType<typeof Bun.spawn>;
  restarts: number;
  backoffMs: number;
}

/** Runs one node's services and restarts any that dies (1 s backoff doubling to 10 s, reset after 30 s up). */
export class NodeServices {
  private readonly procs = new Map<LocalService, Supervised>();
  private stopping = false;
  private bundleDir: string | undefined;

  constructor(
    readonly stack: Stack,
    readonly node: StackNode,
    readonly layout: NodeLayout,
    private readonly extraEnv: Record<string, string>,
    private readonly log: Logger,
    /** Arguments per service (the policy agent's --enable-network-policy=true under `up --network-policy`). */
    private readonly args: Partial<Record<LocalService, readonly string[]>> = {},
    /** A source entry (argv after bun) to run instead of the service's bundle (`up --pod-eni`: pod-eni.ts). */
    private readonly sources: Partial<Record<LocalService, readonly string[]>> = {},
  ) {}

  async start(services: readonly LocalService[] = SERVICE_ORDER): Promise<void> {
    mkdirSync(this.layout.runDir, { recursive: true });
    mkdirSync(this.layout.logDir, { recursive: true });
    this.bundleDir = await bundledServices(this.stack.dir);
    for (const service of services) {
      const s: Supervised = { service, restarts: 0, backoffMs: 1000 };
      this.procs.set(service, s);
      this.spawn(s);
      await this.waitHealthy(service, 15_000);
    }
  }

  private spawn(s: Supervised): void {
    const out = openSync(join(this.layout.logDir, `${s.service}.out`), "a");
    const started = Date.now();
    if (!this.bundleDir) throw new Error("NodeServices.spawn before start()");
    const main = join(this.bundleDir, s.service, "main.js");
    const entry = this.sources[s.service] ?? [main, ...(this.args[s.service] ?? [])];
    const proc = Bun.spawn(["ip", "netns", "exec", this.node.netns, BUN, ...entry], {
      cwd: REPO_ROOT,
      env: { ...SERVICE_RUNTIME_ENV, ...nodeEnv(this.stack, this.node, this.layout, s.service, this.extraEnv) },
      stdout: out,
      stderr: out,
    });
    closeSync(out);
    s.proc = proc;
    writeFileSync(join(this.layout.root, `${s.service}.pid`), `${proc.pid}\n`);
    void proc.exited.then((code) => {
      if (this.stopping || s.proc !== proc) return;
      if (Date.now() - started > 30_000) s.backoffMs = 1000;
      s.restarts++;
      this.log.warn({ node: this.node.name, service: s.service, code, restarts: s.restarts, inMs: s.backoffMs }, "service exited; restarting");
      setTimeout(() => {
        if (!this.stopping) this.spawn(s);
      }, s.backoffMs);
      s.backoffMs = Math.min(s.backoffMs * 2, 10_000);
    });
  }

  /** Polls /healthz on the service's socket (the services answer 503 until they can serve). */
  async waitHealthy(service: LocalService, timeoutMs: number): Promise<void> {
    const socket = join(this.layout.runDir, `${service}.sock`);
    const deadline = Date.now() + timeoutMs;
    let last = "no socket yet";
    while (Date.now() < deadline) {
      if (existsSync(socket)) {
        try {
          const res = await fetch("http://localhost/healthz", { unix: socket, signal: AbortSignal.timeout(1000) });
          if (res.ok) return;
          last = `${res.status} ${await res.text()}`;
        } catch (err) {
          last = (err as Error).message;
        }
      }
      const p = this.procs.get(service)?.proc;
      if (p?.exitCode !== null && p?.exitCode !== undefined && this.procs.get(service)!.restarts === 0) {
        throw new Error(`${this.node.name}: ${service} exited with ${p.exitCode} during start-up (see ${join(this.layout.logDir, `${service}.out`)})`);
      }
      await Bun.sleep(50);
    }
    throw new Error(`${this.node.name}: ${service} not healthy after ${timeoutMs} ms: ${last}`);
  }

  /** The service's process (for kill tests); undefined when not running. */
  pid(service: LocalService): number | undefined {
    return this.procs.get(service)?.proc?.pid;
  }

  restarts(): Record<string, number> {
    return Object.fromEntries([...this.procs].map(([k, v]) => [k, v.restarts]));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const procs = [...this.procs.values()].reverse().flatMap((s) => (s.proc ? [s.proc] : []));
    for (const p of procs) p.kill("SIGTERM");
    await Promise.race([Promise.all(procs.map((p) => p.exited)), Bun.sleep(5000)]);
    for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
    await Promise.all(procs.map((p) => p.exited));
    for (const s of this.procs.keys()) rmSync(join(this.layout.root, `${s}.pid`), { force: true });
  }
}
