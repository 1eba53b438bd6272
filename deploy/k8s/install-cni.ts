/**
 * The init container of the aws-node DaemonSet (`/app/bin/install-cni` in the image): sets the
 * node sysctls the CNI relies on, then installs the aws-cni shim and the chained plugins
 * (portmap, loopback, host-local, bandwidth, tuning) into the host's CNI bin dir
 * (HOST_CNI_BIN_PATH). It writes no conflist: addr-broker writes that once it can serve ADDs.
 *
 * What is installed must run on any node (glibc ≥ 2.26, Amazon Linux 2's): each binary's needs
 * are read from its ELF file (./image/elf.ts). One that might not run there never replaces a
 * plugin the node already has (kept, with a warning); with nothing there it is installed, with
 * a warning. Each file is written to a temp name in the target directory, fsynced, renamed over
 * the target, and the directory fsynced: a runtime exec'ing the plugin meanwhile runs the old
 * or the new binary, never a half-written one ("text file busy" is avoided too: rename
 * replaces the directory entry, not the inode), and after a crash the node has one of the two.
 *
 * Usage: install-cni [--plugins-dir /app/cni] [--shim /app/bin/aws-cni] [--proc-sys /proc/sys]
 */
import { closeSync, existsSync, fchmodSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { loadConfigOrExit, type Config } from "../../shared/config/index.ts";
import { ElfError, formatGlibc, glibcObstacle, readElfDependencies, type GlibcVersion } from "./image/elf.ts";
import { CHAINED_PLUGINS, IMAGE_LAYOUT, MIN_NODE_GLIBC } from "./image/layout.ts";
import { EGRESS_PLUGIN_TYPE } from "../../shared/egress.ts";

/** ENABLE_V4_EGRESS in IPv6 mode, ENABLE_V6_EGRESS in IPv4 mode: egress-cni may be chained. */
export function egressWanted(config: Config): boolean {
  return config.ipFamily === "ipv6" ? config.cni.v4Egress : config.cni.v6Egress;
}

export interface InstallFile {
  name: string;
  from: string;
  to: string;
  mode: number;
}

export interface InstallPlan {
  files: InstallFile[];
  sysctls: Array<{ key: string; value: string }>;
}

/** Pure: what to install where, from the configuration. */
export function planInstall(config: Config, opts: { pluginsDir: string; shim: string }): InstallPlan {
  const binaries = [
    { name: "aws-cni", from: opts.shim },
    // egress-cni is the same binary (it forwards whatever its config's type is to addr-broker),
    // installed only when the configuration may chain it: it is as big as the shim.
    ...(egressWanted(config) ? [{ name: EGRESS_PLUGIN_TYPE, from: opts.shim }] : []),
    ...CHAINED_PLUGINS.map((name) => ({ name, from: join(opts.pluginsDir, name) })),
  ];
  const sysctls = [{ key: "net/ipv4/tcp_early_demux", value: config.network.disableTcpEarlyDemux ? "0" : "1" }];
  if (config.enableIPv6) {
    sysctls.push({ key: "net/ipv6/conf/all/forwarding", value: "1" }, { key: "net/ipv6/conf/all/accept_ra", value: "2" });
  }
  return { files: binaries.map((b) => ({ ...b, to: join(config.cni.binDir, b.name), mode: 0o755 })), sysctls };
}

export interface InstallDecision {
  action: "install" | "keep";
  warning?: string;
}

/**
 * Pure: the install rule. `obstacle` says why our binary might not run on a node (undefined:
 * it runs on every supported node); `present` is whether the node already has that plugin.
 */
export function decideInstall(name: string, obstacle: string | undefined, present: boolean): InstallDecision {
  if (obstacle === undefined) return { action: "install" };
  if (present) return { action: "keep", warning: `kept the node's ${name}: ours ${obstacle}` };
  return { action: "install", warning: `installed ${name}, which ${obstacle}: it may not run on this node` };
}

/** Why the binary at `path` might not run on a node with glibc ≥ floor; undefined when it will. */
export function portabilityObstacle(path: string, floor: GlibcVersion = MIN_NODE_GLIBC): string | undefined {
  try {
    return glibcObstacle(readElfDependencies(path), floor);
  } catch (err) {
    if (err instanceof ElfError) return `cannot be checked (${err.code}: ${err.message})`;
    throw err;
  }
}

const COPY_CHUNK = 1 << 20;

/** Copies `from` to `to` by temp file, fsync, rename and directory fsync (see the header). */
export function installDurably(from: string, to: string, mode: number): void {
  const dir = dirname(to);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(to)}.tmp-${process.pid}`);
  const src = openSync(from, "r");
  try {
    const out = openSync(tmp, "w", mode);
    try {
      const buf = Buffer.allocUnsafe(COPY_CHUNK);
      for (;;) {
        const n = readSync(src, buf, 0, COPY_CHUNK, null);
        if (n === 0) break;
        for (let done = 0; done < n; ) done += writeSync(out, buf, done, n - done);
      }
      fchmodSync(out, mode);
      fsyncSync(out);
    } finally {
      closeSync(out);
    }
    renameSync(tmp, to);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // the temp file was never made, or was already renamed
    }
    throw err;
  } finally {
    closeSync(src);
  }
  const dfd = openSync(dir, "r");
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

export interface InstallOutcome {
  name: string;
  to: string;
  action: "install" | "keep";
  warning?: string;
}

/** Installs every file of the plan by the rule above; returns what was done to each. */
export function installFiles(files: readonly InstallFile[], floor: GlibcVersion = MIN_NODE_GLIBC): InstallOutcome[] {
  return files.map((f) => {
    const decision = decideInstall(f.name, portabilityObstacle(f.from, floor), existsSync(f.to));
    if (decision.action === "install") installDurably(f.from, f.to, f.mode);
    return { name: f.name, to: f.to, ...decision };
  });
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      "plugins-dir": { type: "string", default: IMAGE_LAYOUT.cniPlugins },
      shim: { type: "string", default: IMAGE_LAYOUT.shim },
      "proc-sys": { type: "string", default: "/proc/sys" },
    },
  });
  const { config } = loadConfigOrExit();
  const plan = planInstall(config, { pluginsDir: values["plugins-dir"]!, shim: values.shim! });
  const missing = plan.files.filter((f) => !existsSync(f.from)).map((f) => f.from);
  if (missing.length > 0) {
    process.stderr.write(`install-cni: INSTALL_SOURCE_MISSING: ${missing.join(", ")}\n`);
    process.exit(1);
  }
  for (const s of plan.sysctls) {
    try {
      writeFileSync(join(values["proc-sys"]!, s.key), s.value);
    } catch (err) {
      process.stderr.write(`install-cni: SYSCTL_FAILED: ${s.key}=${s.value}: ${(err as Error).message}\n`);
      process.exit(1);
    }
  }
  let outcomes: InstallOutcome[];
  try {
    outcomes = installFiles(plan.files);
  } catch (err) {
    process.stderr.write(`install-cni: INSTALL_FAILED: ${(err as Error).message}\n`);
    process.exit(1);
  }
  for (const o of outcomes) {
    if (o.warning) process.stderr.write(`install-cni: warning: ${o.warning}\n`);
    process.stdout.write(`install-cni: ${o.action === "install" ? "installed" : "kept"} ${o.to}\n`);
  }
  process.stdout.write(`install-cni: set ${plan.sysctls.map((s) => `${s.key}=${s.value}`).join(", ")}; every binary installed runs on glibc >= ${formatGlibc(MIN_NODE_GLIBC)} unless warned above\n`);
}
