// Loggers for services and the CNI shim side, honouring upstream's log settings:
// services: AWS_VPC_K8S_CNI_LOGLEVEL / AWS_VPC_K8S_CNI_LOG_FILE (stdout, stderr or a path);
// plugin:   AWS_VPC_K8S_PLUGIN_LOG_LEVEL / AWS_VPC_K8S_PLUGIN_LOG_FILE (stderr or a path).
// The settings arrive already validated in Config (shared/config); nothing here reads env.
import { mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import pino from "pino";
import type { Config, LogDestination, LogLevel } from "./config/index.ts";
import { rotatingDestination } from "./log-rotation.ts";

export type Logger = pino.Logger;

export interface LoggerOptions {
  /** Name of the process, e.g. "pool-manager" or "cni-shim"; every line carries it. */
  service: string;
  /** "service" uses the ipamd settings, "plugin" the plugin ones. */
  kind: "service" | "plugin";
}

/** The level and destination a logger of this kind uses. */
export function logTarget(config: Pick<Config, "log">, kind: LoggerOptions["kind"]): { level: LogLevel; file: LogDestination } {
  return kind === "plugin"
    ? { level: config.log.pluginLevel, file: config.log.pluginFile }
    : { level: config.log.level, file: config.log.file };
}

type Destination = pino.DestinationStream;

function openDestination(file: LogDestination, kind: LoggerOptions["kind"]): Destination {
  if (file === "stdout") return pino.destination({ dest: 1, sync: true });
  if (file === "stderr") return pino.destination({ dest: 2, sync: true });
  // Open the file here, synchronously: an async open leaves a window in which an early exit
  // loses every buffered line (and pino's exit hook throws "sonic boom is not ready yet").
  let fd: number;
  try {
    mkdirSync(dirname(file), { recursive: true });
    fd = openSync(file, "a", 0o640);
  } catch (error) {
    process.stderr.write(`log file ${file} cannot be opened (${(error as Error).message}); logging to stderr\n`);
    return pino.destination({ dest: 2, sync: true });
  }
  // The shim lives for milliseconds: it writes synchronously and never rotates (addr-broker,
  // which writes almost every plugin.log line, rotates that file). Services buffer and rotate.
  if (kind === "service") return rotatingDestination(file, fd);
  const destination = pino.destination({ dest: fd, sync: true });
  destination.on("error", (error: Error) => {
    process.stderr.write(`log file ${file} cannot be written: ${error.message}\n`);
  });
  return destination;
}

/** A pino logger at the configured level writing JSON lines to the configured destination. */
export function createLogger(config: Pick<Config, "log">, options: LoggerOptions): Logger {
  const target = logTarget(config, options.kind);
  return pino(
    {
      level: target.level,
      base: { service: options.service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    openDestination(target.file, options.kind),
  );
}

/** Flush a logger's buffered lines now (e.g. before process.exit in a signal handler). */
export function flushLogger(logger: Logger): void {
  try {
    logger.flush();
  } catch {
    // destination not ready: nothing to flush
  }
}
