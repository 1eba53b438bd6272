/**
 * One place for the aws-node pod's settings. In the DaemonSet every variable is written once, on
 * the container named `aws-node` (so upstream's `kubectl set env daemonset aws-node -c aws-node
 * KEY=VALUE` reaches every service): that container publishes its environment into a file in
 * the pod's own emptyDir (AWS_VPC_CNI_PUBLISH_SETTINGS), and every other service container
 * starts from that file (AWS_VPC_CNI_SETTINGS_FROM), with its own environment on top for the
 * few container-specific variables (its log file, the host's /proc). The file is written before
 * the configuration is validated, so a bad value stops every service with the same message.
 * Outside the DaemonSet (the local deployment's processes, tests) neither variable is set and
 * the environment is used as it is.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";

export const PUBLISH_VAR = "AWS_VPC_CNI_PUBLISH_SETTINGS";
export const FROM_VAR = "AWS_VPC_CNI_SETTINGS_FROM";

/** Variables that describe one container or process, never shared with the pod's other containers. */
const PROCESS_LOCAL = new Set(["PATH", "HOME", "HOSTNAME", "PWD", "OLDPWD", "SHLVL", "TERM", "_", "container", PUBLISH_VAR, FROM_VAR]);

export interface PodSettingsOptions {
  /** How long a consumer waits for the aws-node container to publish (ms). */
  waitMs?: number;
  pollMs?: number;
  sleep?: (ms: number) => void;
}

export class PodSettingsError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = "PodSettingsError";
  }
}

function checkPath(variable: string, path: string): string {
  if (!path.startsWith("/") || path.split("/").includes("..")) throw new PodSettingsError(variable, `${JSON.stringify(path)} must be an absolute path`);
  return path;
}

/** The shareable part of an environment. */
export function shareable(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !PROCESS_LOCAL.has(k)) out[k] = v;
  return out;
}

/** Writes the settings file atomically (temp, fsync, rename), readable by the pod's containers only through their mount. */
export function publishSettings(path: string, env: Record<string, string | undefined>): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.settings.tmp-${process.pid}`);
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, JSON.stringify({ version: 1, env: shareable(env) }) + "\n");
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

function readSettings(path: string): Record<string, string> | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new PodSettingsError(FROM_VAR, `${path} is not valid JSON (${(err as Error).message})`);
  }
  const env = (parsed as { env?: unknown } | null)?.env;
  if (typeof env !== "object" || env === null || Object.values(env).some((v) => typeof v !== "string")) {
    throw new PodSettingsError(FROM_VAR, `${path} has no "env" object of strings`);
  }
  return env as Record<string, string>;
}

/**
 * The environment a service configures itself from: publishes it (the aws-node container), or
 * waits for the published file and puts the process's own environment on top (the others),
 * or returns it unchanged.
 */
export function podSettingsEnv(env: Record<string, string | undefined>, o: PodSettingsOptions = {}): Record<string, string | undefined> {
  const publish = env[PUBLISH_VAR];
  const from = env[FROM_VAR];
  if (publish && from) throw new PodSettingsError(FROM_VAR, `set together with ${PUBLISH_VAR}: a container either publishes the pod's settings or reads them`);
  if (publish) {
    publishSettings(checkPath(PUBLISH_VAR, publish), env);
    return env;
  }
  if (!from) return env;
  checkPath(FROM_VAR, from);
  const waitMs = o.waitMs ?? 120_000;
  const pollMs = o.pollMs ?? 100;
  const sleep = o.sleep ?? ((ms: number) => Bun.sleepSync(ms));
  for (let waited = 0; ; waited += pollMs) {
    const published = readSettings(from);
    if (published) return { ...published, ...shareableOwn(env) };
    if (waited >= waitMs) {
      throw new PodSettingsError(FROM_VAR, `${from} did not appear within ${Math.round(waitMs / 1000)} s: the pod's aws-node container publishes it when it starts (is it running? see its log)`);
    }
    sleep(pollMs);
  }
}

/** A consumer's own variables, minus the two that only say where settings come from. */
function shareableOwn(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const own: Record<string, string | undefined> = { ...env };
  delete own[FROM_VAR];
  return own;
}
