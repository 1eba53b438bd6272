/**
 * Upstream's plugin.log (the conflist's pluginLogFile / pluginLogLevel): one JSON line per
 * CNI call at DEBUG/INFO, only failures at WARN/ERROR. Pure, import-free: the compiled shim
 * loads it on every exec. The line is written by addr-broker when it served the call and
 * the conflist names the file it was configured with (AWS_VPC_K8S_PLUGIN_LOG_FILE); the
 * shim writes it itself otherwise (broker unreachable, VERSION, another file).
 */

export interface PluginLogConf {
  file: string;
  /** True at DEBUG/INFO: every call; false: failures only. */
  all: boolean;
}

/** The conflist's plugin log settings, or undefined when there is no usable file (absent, relative, "..", "stderr"). */
export function pluginLogConf(conf: { pluginLogFile?: unknown; pluginLogLevel?: unknown }): PluginLogConf | undefined {
  const file = conf.pluginLogFile;
  if (typeof file !== "string" || !file.startsWith("/") || file.split("/").includes("..")) return undefined;
  const level = typeof conf.pluginLogLevel === "string" ? conf.pluginLogLevel.toUpperCase() : "DEBUG";
  return { file, all: level === "DEBUG" || level === "INFO" };
}

export function pluginLogWanted(log: PluginLogConf, exitCode: number): boolean {
  return exitCode !== 0 || log.all;
}

/** The JSON line (with its newline) for one call; `stdout` is kept (cut at 2,000 characters) only for a failure. */
export function pluginLogLine(env: Record<string, string | undefined>, exitCode: number, ms: number, stdout: string, now: Date): string {
  const line = {
    level: exitCode === 0 ? "info" : "error",
    time: now.toISOString(),
    msg: `CNI ${env.CNI_COMMAND ?? "?"}`,
    containerId: env.CNI_CONTAINERID,
    netns: env.CNI_NETNS,
    ifName: env.CNI_IFNAME,
    args: env.CNI_ARGS,
    exitCode,
    ms: Math.round(ms * 100) / 100,
    ...(exitCode === 0 ? {} : { result: stdout.slice(0, 2000) }),
  };
  return JSON.stringify(line) + "\n";
}
