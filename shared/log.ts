// Loggers for services and the CNI shim side, honouring upstream's log settings:
// services: AWS_VPC_K8S_CNI_LOGLEVEL / AWS_VPC_K8S_CNI_LOG_FILE (stdout, stderr or a path);
// plugin:   AWS_VPC_K8S_PLUGIN_LOG_LEVEL / AWS_VPC_K8S_PLUGIN_LOG_FILE (stderr or a path).
// The settings arrive already validated in Config (shared/config); nothing here reads env.
import { mkdirSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { Config, LogDestination, LogLevel } from "./config/index.ts";
import { rotatingDestination } from "./log-rotation.ts";

/**
 * The services' logger: pino's line format (`{"level":"info","time":"<ISO>","service":…,"pid":…,
 * …bindings, …fields,"msg":…}`, an `err` Error as {type, message, stack}) written by the project's
 * own few lines instead of pino. pino and its destination cost each service about 2 MiB of
 * private memory (its modules, sonic-boom's stream machinery; bench/README.md, memory, 2026-12-04),
 * five times on a node. Lines are written synchronously (a write(2) to the page cache per line),
 * so nothing is buffered and nothing is lost at exit.
 */
export interface Logger {
  level: string;
  fatal: LogFn;
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  trace: LogFn;
  /** A logger whose every line also carries `bindings`. */
  child(bindings: Record<string, unknown>): Logger;
  isLevelEnabled(level: string): boolean;
  flush(cb?: (err?: Error) => void): void;
}

export interface LogFn {
  (obj: unknown, msg?: string): void;
  (msg: string): void;
}

const LEVEL_VALUES: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

interface Sink {
  write(line: string): void;
  flush?(cb?: (err?: Error) => void): void;
}

/** An Error as pino's standard serializer writes it: type, message, stack, its own fields, its cause. */
function serializeError(e: Error, seen = new Set<Error>()): Record<string, unknown> {
  seen.add(e);
  const out: Record<string, unknown> = { type: e.constructor?.name ?? "Error", message: e.message, stack: e.stack };
  for (const [k, v] of Object.entries(e)) if (!(k in out)) out[k] = v instanceof Error && !seen.has(v) ? serializeError(v, seen) : v;
  if (e.cause instanceof Error && !seen.has(e.cause)) out.cause = serializeError(e.cause, seen);
  return out;
}

function valueText(v: unknown): string | undefined {
  try {
    return JSON.stringify(v, (_, x) => (typeof x === "bigint" ? Number(x) : x instanceof Error ? serializeError(x) : x));
  } catch {
    return '"[unserializable]"'; // a circular structure: the line is still written
  }
}

function fieldsText(fields: Record<string, unknown>): string {
  let text = "";
  for (const k of Object.keys(fields)) {
    const v = fields[k];
    const s = k === "err" && v instanceof Error ? valueText(serializeError(v)) : valueText(v);
    if (s !== undefined) text += `,${JSON.stringify(k)}:${s}`;
  }
  return text;
}

class JsonLogger implements Logger {
  private threshold: number;
  private name: string;

  constructor(
    private readonly sink: Sink,
    level: string,
    /** The bindings, serialised once: `,"service":"…","pid":…`. */
    private readonly bound: string,
  ) {
    this.name = level;
    this.threshold = LEVEL_VALUES[level] ?? LEVEL_VALUES.info!;
  }

  get level(): string {
    return this.name;
  }

  set level(level: string) {
    if (!(level in LEVEL_VALUES)) throw new Error(`unknown log level ${JSON.stringify(level)}`);
    this.name = level;
    this.threshold = LEVEL_VALUES[level]!;
  }

  isLevelEnabled(level: string): boolean {
    return (LEVEL_VALUES[level] ?? Infinity) >= this.threshold;
  }

  private line(level: string, a: unknown, b?: string): void {
    if (LEVEL_VALUES[level]! < this.threshold) return;
    let fields = "";
    let msg: string | undefined;
    if (typeof a === "string") msg = a;
    else if (a instanceof Error) {
      fields = fieldsText({ err: a });
      msg = b ?? a.message;
    } else {
      if (a !== null && typeof a === "object") fields = fieldsText(a as Record<string, unknown>);
      msg = b;
    }
    this.sink.write(`{"level":"${level}","time":"${new Date().toISOString()}"${this.bound}${fields}${msg === undefined ? "" : `,"msg":${JSON.stringify(String(msg))}`}}\n`);
  }

  fatal: LogFn = (a: unknown, b?: string) => this.line("fatal", a, b);
  error: LogFn = (a: unknown, b?: string) => this.line("error", a, b);
  warn: LogFn = (a: unknown, b?: string) => this.line("warn", a, b);
  info: LogFn = (a: unknown, b?: string) => this.line("info", a, b);
  debug: LogFn = (a: unknown, b?: string) => this.line("debug", a, b);
  trace: LogFn = (a: unknown, b?: string) => this.line("trace", a, b);

  child(bindings: Record<string, unknown>): Logger {
    return new JsonLogger(this.sink, this.name, this.bound + fieldsText(bindings));
  }

  flush(cb?: (err?: Error) => void): void {
    if (this.sink.flush) this.sink.flush(cb);
    else cb?.();
  }
}

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

/** Writes each line to a descriptor at once; an error is reported on stderr once, and the line dropped. */
function fdSink(fd: number, file: string): Sink {
  let failed = false;
  return {
    write(line: string) {
      try {
        writeSync(fd, line);
      } catch (error) {
        if (!failed) process.stderr.write(`log file ${file} cannot be written: ${(error as Error).message}\n`);
        failed = true;
      }
    },
  };
}

function openDestination(file: LogDestination, kind: LoggerOptions["kind"]): Sink {
  if (file === "stdout") return fdSink(1, "stdout");
  if (file === "stderr") return fdSink(2, "stderr");
  let fd: number;
  try {
    mkdirSync(dirname(file), { recursive: true });
    fd = openSync(file, "a", 0o640);
  } catch (error) {
    process.stderr.write(`log file ${file} cannot be opened (${(error as Error).message}); logging to stderr\n`);
    return fdSink(2, "stderr");
  }
  // The shim lives for milliseconds and never rotates (addr-broker, which writes almost every
  // plugin.log line, rotates that file). Services rotate.
  if (kind === "service") return rotatingDestination(file, fd);
  return fdSink(fd, file);
}

/** A logger at the configured level writing JSON lines (pino's format) to the configured destination. */
export function createLogger(config: Pick<Config, "log">, options: LoggerOptions): Logger {
  const target = logTarget(config, options.kind);
  return new JsonLogger(openDestination(target.file, options.kind), target.level, fieldsText({ service: options.service, pid: process.pid }));
}

/** Flush a logger's buffered lines now (e.g. before process.exit in a signal handler). */
export function flushLogger(logger: Logger): void {
  try {
    logger.flush();
  } catch {
    // nothing to flush
  }
}
