/**
 * The controller's command line (upstream's flags, same names and defaults, read as Go's flag
 * package reads them: shared/go-flags.ts): --endpoint-chunk-size=200,
 * --pod-update-batch-period-duration=1s, --max-concurrent-reconciles=3,
 * --enable-configmap-check=true, --metrics-bind-addr=:8080, --health-probe-bind-addr=:8081
 * (port 0: any free port), --log-level=info. A bad value is an error naming the flag.
 */
import { GoFlagError, goBind, goBool, goDurationMs, goInt, parseGoFlags } from "../../../shared/go-flags.ts";

export interface Flags {
  chunkSize: number;
  batchPeriodMs: number;
  concurrency: number;
  configMapCheck: boolean;
  metricsBind: { host: string; port: number };
  healthBind: { host: string; port: number };
  logLevel: "debug" | "info" | "warn" | "error";
}

export { GoFlagError as FlagError };

/** Go durations as the flag takes them: 500ms, 1s, 1.5s, 2m (at most 10m). */
export const durationMs = (name: string, text: string): number => goDurationMs(name, text);

const KNOWN = {
  "endpoint-chunk-size": "int",
  "pod-update-batch-period-duration": "string",
  "max-concurrent-reconciles": "int",
  "enable-configmap-check": "bool",
  "metrics-bind-addr": "string",
  "health-probe-bind-addr": "string",
  "log-level": "string",
} as const;

const LEVELS = ["debug", "info", "warn", "error"] as const;

export function parseFlags(argv: string[]): Flags {
  const { values } = parseGoFlags(argv, KNOWN, "--endpoint-chunk-size=200");
  const level = values["log-level"] ?? "info";
  if (!(LEVELS as readonly string[]).includes(level)) throw new GoFlagError(`--log-level: must be debug, info, warn or error, got ${JSON.stringify(level)}`);
  return {
    chunkSize: goInt("endpoint-chunk-size", values["endpoint-chunk-size"] ?? "200", 1, 100_000),
    batchPeriodMs: durationMs("pod-update-batch-period-duration", values["pod-update-batch-period-duration"] ?? "1s"),
    concurrency: goInt("max-concurrent-reconciles", values["max-concurrent-reconciles"] ?? "3", 1, 64),
    configMapCheck: goBool("enable-configmap-check", values["enable-configmap-check"] ?? "true"),
    metricsBind: goBind("metrics-bind-addr", values["metrics-bind-addr"] ?? ":8080"),
    healthBind: goBind("health-probe-bind-addr", values["health-probe-bind-addr"] ?? ":8081"),
    logLevel: level as Flags["logLevel"],
  };
}
