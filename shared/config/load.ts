// loadConfig: environment record → typed Config, or a ConfigError naming every offending
// variable. loadConfigOrExit: the same for a service's main.ts; this is the only place
// in the project that reads process.env.
import { buildConfig } from "./build.ts";
import { crossFieldIssues } from "./rules.ts";
import type { Variable } from "./declaration.ts";
import { ENV_NAMES, type EnvName, type ParsedEnv } from "./schema.ts";
import type { Config } from "./types.ts";
import { VARIABLES } from "./variables/index.ts";

export type Env = Record<string, string | undefined>;

export interface ConfigProblem {
  /** The environment variable. */
  name: EnvName;
  /** The value given (undefined when the variable is unset). */
  value: string | undefined;
  /** What is accepted. */
  accepted: string;
}

export class ConfigError extends Error {
  readonly code = "INVALID_CONFIG" as const;
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join("\n"));
    this.name = "ConfigError";
  }
}

/** A value as printed in a problem line: control characters escaped, unset shown as such. */
function showValue(value: string | undefined): string {
  if (value === undefined) return "(unset)";
  return /[\u0000-\u001f\u007f"]/.test(value) || value !== value.trim() || value === "" ? JSON.stringify(value) : value;
}

/** `invalid configuration: NAME=value: <what is accepted>` */
export function formatProblem(p: ConfigProblem): string {
  return `invalid configuration: ${p.name}=${showValue(p.value)}: ${p.accepted}`;
}

export interface LoadedConfig {
  config: Config;
  warnings: string[];
}

export function loadConfig(env: Env): LoadedConfig {
  const parsed: Partial<Record<EnvName, unknown>> = {};
  const problems: ConfigProblem[] = [];
  for (const name of ENV_NAMES) {
    const result = (VARIABLES[name] as Variable<unknown>).field.read(env[name]);
    if (result.ok) parsed[name] = result.value;
    else problems.push({ name, value: env[name], accepted: result.message });
  }
  const partial = parsed as Partial<ParsedEnv>;
  for (const issue of crossFieldIssues(partial)) {
    problems.push({ name: issue.name, value: env[issue.name], accepted: issue.accepted });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return buildConfig(partial as ParsedEnv, env);
}

export interface ConfigWarningSink {
  warn(message: string): void;
}

const stderrWarnings: ConfigWarningSink = {
  warn: (message) => void process.stderr.write(`configuration warning: ${message}\n`),
};

/**
 * For a service's main.ts: load the configuration; on any problem print one line per
 * problem to stderr and exit with code 1 before the service does anything. Warnings go to
 * `log` (stderr by default) and are returned too.
 */
export function loadConfigOrExit(env: Env = process.env, log: ConfigWarningSink = stderrWarnings): LoadedConfig {
  let loaded: LoadedConfig;
  try {
    loaded = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(error.problems.map((p) => `${formatProblem(p)}\n`).join(""));
      process.exit(1);
    }
    throw error;
  }
  for (const warning of loaded.warnings) log.warn(warning);
  return loaded;
}
