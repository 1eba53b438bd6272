/**
 * addr-broker writes the plugin log line of each CNI call it serves, so the exec'd shim
 * does not have to: loading node:fs and appending costs the shim ~1 ms of every ADD
 * (bench/shim-startup, cni-add). Only for the file this node was configured with
 * (AWS_VPC_K8S_PLUGIN_LOG_FILE, the same value the conflist carries) — a request never
 * chooses where addr-broker writes. The DaemonSet mounts the host's log directory at the
 * same path in addr-broker's container, so the path means the same file on both sides.
 * Returns whether the call's logging is done (written, or not wanted at this level); on
 * false the shim writes the line itself. The file is rotated by size as the services' logs are
 * (shared/log-rotation.ts).
 */
import { mkdir, appendFile } from "node:fs/promises";
import { dirname } from "node:path";
import { LOG_ROTATION, RotationTracker, type RotationPolicy } from "../../../../shared/log-rotation.ts";
import { pluginLogConf, pluginLogLine, pluginLogWanted } from "../../../../shared/plugin-log.ts";

export interface PluginLogWriter {
  record(env: Record<string, string>, stdin: string, exitCode: number, stdout: string, ms: number): Promise<boolean>;
}

export function pluginLogWriter(configuredFile: string | undefined, now: () => Date = () => new Date(), rotation: RotationPolicy = LOG_ROTATION): PluginLogWriter {
  const madeDirs = new Set<string>();
  let tracker: RotationTracker | undefined;
  return {
    async record(env, stdin, exitCode, stdout, ms) {
      if (!configuredFile || !stdin.includes(configuredFile)) return false;
      let conf: unknown;
      try {
        conf = JSON.parse(stdin);
      } catch {
        return false;
      }
      if (!conf || typeof conf !== "object") return false;
      const log = pluginLogConf(conf as Record<string, unknown>);
      if (!log || log.file !== configuredFile) return false;
      if (!pluginLogWanted(log, exitCode)) return true;
      try {
        const dir = dirname(log.file);
        if (!madeDirs.has(dir)) {
          await mkdir(dir, { recursive: true });
          madeDirs.add(dir);
        }
        const line = pluginLogLine(env, exitCode, ms, stdout, now());
        tracker ??= new RotationTracker(log.file, rotation, now);
        await appendFile(log.file, line);
        if (tracker.wrote(Buffer.byteLength(line))) tracker.rotate();
        return true;
      } catch {
        madeDirs.clear();
        return false;
      }
    },
  };
}
