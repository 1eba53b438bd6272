// Loggers for services and the CNI shim side, honouring upstream's log settings:
// services: AWS_VPC_K8S_CNI_LOGLEVEL / AWS_VPC_K8S_CNI_LOG_FILE (stdout, stderr or a path);
// plugin:   AWS_VPC_K8S_PLUGIN_LOG_LEVEL / AWS_VPC_K8S_PLUGIN_LOG_FILE (stderr or a path).
// The settings arrive already validated in Config (shared/config); nothing here reads env.
import { mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import pino from "pino";
import type { Config, LogDestination, LogLevel } from "./config/index.ts";
import { lineWriter, rotatingDestination } from "./log-rotation.ts";

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

/**
 * pino's destination: each line written to the descriptor at once with one write(2), so nothing
 * is buffered and nothing is lost at exit; a write to a log file or a container's log pipe costs
 * microseconds, a few lines per pod. (Not pino.destination, sonic-boom: measured, it made no
 * difference to the services' memory; docs/DESIGN-NOTES.md, "Logging".)
 */
function fdDestination(fd: number, file: string): Destination {
  const writeLine = lineWriter(file);
  return { write: (line: string) => void writeLine(fd, line) };
}

function openDestination(file: LogDestination, kind: LoggerOptions["kind"]): Destination {
  if (file === "stdout") return fdDestination(1, "stdout");
  if (file === "stderr") return fdDestination(2, "stderr");
  let fd: number;
  try {
    mkdirSync(dirname(file), { recursive: true });
    fd = openSync(file, "a", 0o640);
  } catch (error) {
    process.stderr.write(`log file ${file} cannot be opened (${(error as Error).message}); logging to stderr\n`);
    return fdDestination(2, "stderr");
  }
  // The shim lives for milliseconds and never rotates (addr-broker, which writes almost every
  // plugin.log line, rotates that file). Services rotate.
  if (kind === "service") return rotatingDestination(file, fd);
  return fdDestination(fd, file);
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
