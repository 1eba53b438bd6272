/**
 * The init container of the aws-node DaemonSet: sets the node sysctls the CNI relies on,
 * installs the aws-cni shim and the chained plugins into the host's CNI bin dir, and writes
 * 10-aws.conflist into the host's CNI conf dir. Every file is written to a temporary name
 * and renamed into place, so a runtime exec'ing the plugin never sees a half-written binary
 * ("text file busy" is avoided as well: rename replaces the directory entry, not the inode).
 *
 * Usage: bun run deploy/k8s/install-cni.ts [--plugins-dir /opt/cni/bin] [--shim .build/aws-cni] [--proc-sys /proc/sys]
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadConfigOrExit, type Config } from "../../shared/config/index.ts";
import { conflistSettingsFromConfig, renderConflist } from "../../shared/conflist.ts";

export interface InstallPlan {
  files: Array<{ from?: string; content?: string; to: string; mode: number }>;
  sysctls: Array<{ key: string; value: string }>;
}

/** Pure: what to install where, from the configuration. */
export function planInstall(config: Config, opts: { pluginsDir: string; shim: string }): InstallPlan {
  const chained = ["portmap", "loopback", "host-local"];
  if (config.cni.bandwidthPlugin) chained.push("bandwidth");
  if (config.cni.disablePodV6) chained.push("tuning");
  const conflist = renderConflist(conflistSettingsFromConfig(config, config.runDir === "/var/run/aws-node" ? undefined : config.runDir));
  const sysctls = [{ key: "net/ipv4/tcp_early_demux", value: config.network.disableTcpEarlyDemux ? "0" : "1" }];
  if (config.enableIPv6) {
    sysctls.push({ key: "net/ipv6/conf/all/forwarding", value: "1" }, { key: "net/ipv6/conf/all/accept_ra", value: "2" });
  }
  return {
    files: [
      { from: opts.shim, to: join(config.cni.binDir, "aws-cni"), mode: 0o755 },
      ...chained.map((p) => ({ from: join(opts.pluginsDir, p), to: join(config.cni.binDir, p), mode: 0o755 })),
      { content: JSON.stringify(conflist, null, 2) + "\n", to: join(config.cni.confDir, "10-aws.conflist"), mode: 0o644 },
    ],
    sysctls,
  };
}

/** Writes next to the target, then renames over it. */
export function installAtomically(file: InstallPlan["files"][number]): void {
  const dir = file.to.slice(0, file.to.lastIndexOf("/"));
  mkdirSync(dir, { recursive: true });
  const tmp = `${file.to}.tmp-${process.pid}`;
  if (file.from !== undefined) copyFileSync(file.from, tmp);
  else writeFileSync(tmp, file.content ?? "");
  chmodSync(tmp, file.mode);
  renameSync(tmp, file.to);
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { "plugins-dir": { type: "string", default: "/opt/cni/bin" }, shim: { type: "string", default: ".build/aws-cni" }, "proc-sys": { type: "string", default: "/proc/sys" } },
  });
  const { config } = loadConfigOrExit();
  const plan = planInstall(config, { pluginsDir: values["plugins-dir"]!, shim: values.shim! });
  for (const f of plan.files) {
    if (f.from !== undefined && !existsSync(f.from)) {
      process.stderr.write(`install-cni: ${f.from} is missing\n`);
      process.exit(1);
    }
  }
  for (const s of plan.sysctls) writeFileSync(join(values["proc-sys"]!, s.key), s.value);
  for (const f of plan.files) installAtomically(f);
  process.stdout.write(`install-cni: installed ${plan.files.map((f) => f.to).join(", ")}\n`);
}
