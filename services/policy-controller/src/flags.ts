/**
 * The controller's command line (upstream's flags, same names and defaults):
 * --endpoint-chunk-size=200, --pod-update-batch-period-duration=1s,
 * --max-concurrent-reconciles=3, --enable-configmap-check=true, --metrics-bind-addr=:8080,
 * --health-probe-bind-addr=:8081 (port 0: any free port), --log-level=info. A bad value is an error naming the flag.
 */
import { parseArgs } from "node:util";

export interface Flags {
  chunkSize: number;
  batchPeriodMs: number;
  concurrency: number;
  configMapCheck: boolean;
  metricsBind: { host: string; port: number };
  healthBind: { host: string; port: number };
  logLevel: "debug" | "info" | "warn" | "error";
}

export class FlagError extends Error {
  readonly code = "POLICY_CONTROLLER_BAD_FLAG";
}

function integer(name: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new FlagError(`--${name}: must be an integer ${min}..${max}, got ${JSON.stringify(text)}`);
  return Number(text);
}

/** Go durations as the flag takes them: 500ms, 1s, 1.5s, 2m. */
export function durationMs(name: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text);
  if (!match) throw new FlagError(`--${name}: must be a duration like 500ms, 1s or 2m, got ${JSON.stringify(text)}`);
  const value = Number(match[1]) * (match[2] === "ms" ? 1 : match[2] === "s" ? 1000 : 60_000);
  if (value > 600_000) throw new FlagError(`--${name}: at most 10m, got ${JSON.stringify(text)}`);
  return value;
}

function bind(name: string, text: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:.]+\]|[0-9.]*|[A-Za-z0-9.-]*):(\d+)$/.exec(text);
  if (!match) throw new FlagError(`--${name}: must be [host]:port, got ${JSON.stringify(text)}`);
  return { host: (match[1] ?? "").replace(/^\[|\]$/g, "") || "0.0.0.0", port: integer(name, match[2]!, 0, 65535) };
}

export function parseFlags(argv: string[]): Flags {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        "endpoint-chunk-size": { type: "string", default: "200" },
        "pod-update-batch-period-duration": { type: "string", default: "1s" },
        "max-concurrent-reconciles": { type: "string", default: "3" },
        "enable-configmap-check": { type: "string", default: "true" },
        "metrics-bind-addr": { type: "string", default: ":8080" },
        "health-probe-bind-addr": { type: "string", default: ":8081" },
        "log-level": { type: "string", default: "info" },
      },
    }).values;
  } catch (error) {
    throw new FlagError((error as Error).message);
  }
  const check = values["enable-configmap-check"]!;
  if (check !== "true" && check !== "false") throw new FlagError(`--enable-configmap-check: must be true or false, got ${JSON.stringify(check)}`);
  const level = values["log-level"]!;
  if (!["debug", "info", "warn", "error"].includes(level)) throw new FlagError(`--log-level: must be debug, info, warn or error, got ${JSON.stringify(level)}`);
  return {
    chunkSize: integer("endpoint-chunk-size", values["endpoint-chunk-size"]!, 1, 100_000),
    batchPeriodMs: durationMs("pod-update-batch-period-duration", values["pod-update-batch-period-duration"]!),
    concurrency: integer("max-concurrent-reconciles", values["max-concurrent-reconciles"]!, 1, 64),
    configMapCheck: check === "true",
    metricsBind: bind("metrics-bind-addr", values["metrics-bind-addr"]!),
    healthBind: bind("health-probe-bind-addr", values["health-probe-bind-addr"]!),
    logLevel: level as Flags["logLevel"],
  };
}
