/**
 * podman as the container runtime of one simulated node: CNI backend on the node's
 * aws-cni network, runc, vfs storage and a busybox root filesystem (no image, no registry),
 * every file of its own in a temp dir (CONTAINERS_CONF / CONTAINERS_STORAGE_CONF; /etc is
 * never touched).
 *
 * podman runs ON the node: it is started with `nsenter --net=/run/netns/<node>`, so the
 * chained portmap plugin programs the node's iptables and published ports answer at the
 * node's primary IP. Only the network namespace is switched, not the mount namespace:
 * podman bind-mounts each container's netns under /run/netns, and net-config (another
 * process, in its own mount namespace) must be able to open that path. Under
 * `ip netns exec` (which also unshares the mount namespace, making it a slave) that bind
 * mount never propagates and the ADD fails with "net-config could not wire the pod: setns
 * failed: errno 22" (see the test file's header).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildRootfs } from "../../../deploy/local/busybox-rootfs.ts";
export { BUSYBOX } from "../../../deploy/local/busybox-rootfs.ts";
import { assertNetnsName } from "../../../deploy/local/vpc/names.ts";
import type { StackNode } from "../../../deploy/local/stack.ts";

const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** argv (never a shell string) with a clean env; killed after timeoutMs. */
export async function run(argv: readonly string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<RunResult> {
  const proc = Bun.spawn([...argv], { env: { PATH, ...env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  try {
    const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { exitCode, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

export interface ContainerInfo {
  id: string;
  name: string;
  ip: string;
  mac: string;
  /** The container's netns path, as podman created it (a bind mount under /run/netns). */
  sandboxKey: string;
}

/** One node's podman: its own config, storage, lock files and root filesystem. */
export class NodePodman {
  readonly env: Record<string, string>;
  readonly rootfs: string;
  private readonly names = new Set<string>();

  private constructor(readonly node: StackNode, readonly dir: string) {
    this.rootfs = join(dir, "rootfs");
    this.env = {
      HOME: dir,
      TMPDIR: join(dir, "tmp"),
      CONTAINERS_CONF: join(dir, "containers.conf"),
      CONTAINERS_STORAGE_CONF: join(dir, "storage.conf"),
    };
  }

  static async create(node: StackNode, dir: string): Promise<NodePodman> {
    if (!node.cniBinDir || !node.cniConfDir) throw new Error(`node ${node.name}: stack.json has no cniBinDir/cniConfDir (cloud-only deployment?)`);
    assertNetnsName(node.netns);
    const p = new NodePodman(node, dir);
    for (const d of ["graph", "run", "tmp", "libpod-tmp"]) mkdirSync(join(dir, d), { recursive: true });
    const q = (s: string) => JSON.stringify(s);
    writeFileSync(p.env.CONTAINERS_CONF!, [
      "[containers]",
      'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]',
      "[network]",
      'network_backend = "cni"',
      `cni_plugin_dirs = [${q(node.cniBinDir)}]`,
      `network_config_dir = ${q(node.cniConfDir)}`,
      "[engine]",
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      'runtime = "runc"',
      // file locks in tmp_dir instead of the machine-wide /dev/shm/libpod_lock segment
      'lock_type = "file"',
      `tmp_dir = ${q(join(dir, "libpod-tmp"))}`,
      `static_dir = ${q(join(dir, "graph/libpod"))}`,
      `volume_path = ${q(join(dir, "graph/volumes"))}`,
      "",
    ].join("\n"));
    writeFileSync(p.env.CONTAINERS_STORAGE_CONF!, ["[storage]", 'driver = "vfs"', `graphroot = ${q(join(dir, "graph"))}`, `runroot = ${q(join(dir, "run"))}`, ""].join("\n"));
    await buildRootfs(p.rootfs);
    return p;
  }

  /** `podman ARGS` inside the node's network namespace (and the root mount namespace). */
  podman(args: readonly string[], timeoutMs = 30_000): Promise<RunResult> {
    return run(["nsenter", `--net=/run/netns/${this.node.netns}`, "podman", ...args], this.env, timeoutMs);
  }

  private async must(args: readonly string[], timeoutMs?: number): Promise<string> {
    const r = await this.podman(args, timeoutMs);
    if (r.exitCode !== 0) throw new Error(`podman ${args.join(" ")} (node ${this.node.netns}) exited ${r.exitCode}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  private checkName(name: string): string {
    if (!NAME.test(name)) throw new Error(`container name ${JSON.stringify(name)}: expected ${NAME}`);
    this.names.add(name);
    return name;
  }

  /** `podman run --rm` on the aws-cni network; returns the command's result (exit code included). */
  runOnce(name: string, script: string, extra: readonly string[] = []): Promise<RunResult> {
    return this.podman(["run", "--rm", "--network", "aws-cni", "--name", this.checkName(name), ...extra, "--rootfs", this.rootfs, "/bin/sh", "-c", script]);
  }

  /** A detached container running `script` on the aws-cni network. */
  async start(name: string, script: string, extra: readonly string[] = []): Promise<ContainerInfo> {
    await this.must(["run", "-d", "--network", "aws-cni", "--name", this.checkName(name), ...extra, "--rootfs", this.rootfs, "/bin/sh", "-c", script]);
    return this.inspect(name);
  }

  async inspect(name: string): Promise<ContainerInfo> {
    const out = await this.must(["inspect", "--type", "container", this.checkName(name)]);
    const [c] = JSON.parse(out) as Array<{ Id: string; NetworkSettings: { SandboxKey: string; Networks: Record<string, { IPAddress: string; MacAddress: string }> } }>;
    if (!c) throw new Error(`podman inspect ${name}: no such container`);
    const net = c.NetworkSettings.Networks["aws-cni"];
    if (!net) throw new Error(`${name}: not attached to aws-cni: ${JSON.stringify(c.NetworkSettings.Networks)}`);
    return { id: c.Id, name, ip: net.IPAddress, mac: net.MacAddress, sandboxKey: c.NetworkSettings.SandboxKey };
  }

  exec(name: string, argv: readonly string[], timeoutMs = 15_000): Promise<RunResult> {
    return this.podman(["exec", this.checkName(name), ...argv], timeoutMs);
  }

  async remove(name: string): Promise<void> {
    await this.must(["rm", "-f", "-t", "0", this.checkName(name)]);
  }

  /** Removes every container this runtime made (CNI DEL reaches the node's services). */
  async removeAll(): Promise<string[]> {
    const problems: string[] = [];
    const r = await this.podman(["rm", "-a", "-f", "-t", "0"], 60_000);
    if (r.exitCode !== 0) problems.push(`podman rm -a on ${this.node.netns}: ${r.stderr.trim()}`);
    const left = await this.podman(["ps", "-a", "-q"]);
    if (left.stdout.trim()) problems.push(`containers left on ${this.node.netns}: ${left.stdout.trim()}`);
    return problems;
  }

  /** Storage, config and root filesystem go; vfs layers may be read-only dirs, rm handles that. */
  destroy(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Processes whose command line mentions `marker` (conmon, runc, containers' shells). */
export function processesMentioning(marker: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmd.includes(marker)) found.push(`${pid} ${cmd.trim()}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
