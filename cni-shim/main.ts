/**
 * aws-cni (also installed as egress-cni: addr-broker tells the two apart by the config's
 * `type`): the binary the container runtime execs. It forwards the CNI_* environment and
 * stdin to addr-broker over its Unix socket and prints what comes back, with the exit
 * code that comes back. Everything CNI lives in addr-broker; this file only moves bytes,
 * and imports nothing heavy (start-up time is paid on every pod).
 *
 * Socket: the network config's `brokerSocket`, else `<runDir>/addr-broker.sock` with
 * `runDir` from the config, default /var/run/aws-node.
 * Broker unreachable: ADD, CHECK, GC → CNI error 11 naming the socket; DEL → the pod's
 * wiring torn down through net-config from prevResult and the DEL recorded for addr-broker
 * (del-fallback.ts), then success; STATUS → 50. VERSION is answered here.
 * A DEL also falls back so when addr-broker answers it with an error or gives no answer
 * within `delTimeoutSeconds` (the request is aborted), as upstream's plugin tears down from
 * prevResult whenever ipamd's DelNetwork fails; only an error about the request itself (a
 * version, config or environment error) is passed on, since tearing down could not fix it.
 */
import { LATEST_VERSION, SUPPORTED_VERSIONS, isSupportedVersion } from "../services/addr-broker/src/core/cni-version.ts";
import { parseDelTimeout, parseSocketKeys } from "../services/addr-broker/src/core/plugin-conf.ts";
import { pluginLogConf, pluginLogLine, pluginLogWanted, type PluginLogConf } from "../shared/plugin-log.ts";

const DEFAULT_RUN_DIR = "/var/run/aws-node";

const started = performance.now();
/** Wall-clock moments for addr-broker's /debug/cni-timings (comparable across processes). */
const wall = (t: number) => performance.timeOrigin + t;
let pluginLog: PluginLogConf | undefined;

/**
 * The plugin log line (upstream's plugin.log), written here only when addr-broker did not
 * write it (unreachable, refused, VERSION, a file it was not configured with). Never
 * stdout, which carries the CNI result; a log that cannot be written never fails the call.
 */
async function logInvocation(code: number, stdout: string): Promise<void> {
  if (!pluginLog || !pluginLogWanted(pluginLog, code)) return;
  try {
    // Loaded only when a line is written here: a node:fs import costs ~1 ms on every exec.
    const { appendFileSync, mkdirSync } = await import("node:fs");
    mkdirSync(pluginLog.file.slice(0, pluginLog.file.lastIndexOf("/")) || "/", { recursive: true });
    appendFileSync(pluginLog.file, pluginLogLine(process.env, code, performance.now() - started, stdout, new Date()));
  } catch {
    // logging is best effort
  }
}

async function emit(stdout: string, stderr: string, code: number): Promise<never> {
  await logInvocation(code, stdout);
  if (stdout) await Bun.write(Bun.stdout, stdout);
  if (stderr) await Bun.write(Bun.stderr, stderr);
  process.exit(code);
}

function cniError(version: string, code: number, msg: string, details?: string): string {
  return JSON.stringify(details ? { cniVersion: version, code, msg, details } : { cniVersion: version, code, msg });
}

const env: Record<string, string> = {};
for (const [k, v] of Object.entries(process.env)) if (v !== undefined && (k.startsWith("CNI_") || k === "PATH")) env[k] = v;
const command = env.CNI_COMMAND ?? "";
// The runtime's mount namespace is this process's: whether CNI_NETNS exists is known here, not
// necessarily in addr-broker's container. Bun.file needs no import (a stat, only for ADD); it
// runs while stdin is read.
const netns = env.CNI_NETNS;
const netnsCheck = command === "ADD" && netns ? Bun.file(netns).exists() : undefined;
const stdin = await Bun.stdin.text();

let conf: { cniVersion?: unknown; name?: unknown; prevResult?: unknown; brokerSocket?: unknown; runDir?: unknown; pluginLogFile?: unknown; pluginLogLevel?: unknown } = {};
let decodeError: string | undefined;
try {
  const parsed = JSON.parse(stdin);
  if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) conf = parsed;
  else decodeError = "stdin: network configuration must be a JSON object";
} catch (err) {
  decodeError = `stdin: network configuration is not valid JSON (${err instanceof Error ? err.message : String(err)})`;
}
const version = typeof conf.cniVersion === "string" && isSupportedVersion(conf.cniVersion) ? conf.cniVersion : LATEST_VERSION;
pluginLog = pluginLogConf(conf);

if (command === "VERSION") {
  await emit(JSON.stringify({ cniVersion: version, supportedVersions: SUPPORTED_VERSIONS }), "", 0);
}

// Without a readable config the socket cannot be known: answer the decode error here (VERSION needs no config).
if (decodeError !== undefined && command !== "") await emit(cniError(version, 6, decodeError), "", 1);

// A runDir or brokerSocket of the wrong type or form cannot say where addr-broker is: CNI error 7 naming the key, here.
let where: { runDir?: string; brokerSocket?: string } = {};
let delTimeoutMs = 0;
try {
  where = parseSocketKeys(conf as Record<string, unknown>);
  if (command === "DEL") delTimeoutMs = parseDelTimeout(conf as Record<string, unknown>) * 1000;
} catch (err) {
  const e = err as { code?: number; message?: string; details?: string };
  await emit(cniError(version, e.code ?? 7, e.message ?? String(err), e.details), "", 1);
}
// The run directory holds every service's socket (and pending DELs); a brokerSocket names it by its directory.
const runDir = where.runDir ? where.runDir.replace(/\/+$/, "") || "/" : where.brokerSocket ? where.brokerSocket.slice(0, where.brokerSocket.lastIndexOf("/")) || "/" : DEFAULT_RUN_DIR;
const socket = where.brokerSocket ?? `${runDir}/addr-broker.sock`;

const netnsExists = netnsCheck ? await netnsCheck.catch(() => false) : undefined;

/** DEL without addr-broker's help: torn down from prevResult through net-config and recorded; always success. */
async function delFallback(why: string): Promise<never> {
  const { delWithoutBroker } = await import("./del-fallback.ts");
  const done = await delWithoutBroker(env, conf, runDir);
  return emit("", `aws-cni: ${why}; DEL succeeds: ${done}\n`, 0);
}

// CNI errors about the request itself (incompatible version, unsupported field, bad
// environment, undecodable or invalid config): a DEL that addr-broker refused for these is
// refused here too.
const REQUEST_ERRORS = new Set([1, 2, 4, 6, 7]);

let res: Response;
try {
  res = await fetch("http://localhost/v1/cni", {
    method: "POST",
    unix: socket,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ env, stdin, callerPid: process.pid, netnsExists, timing: { startedAt: wall(started), sentAt: wall(performance.now()) } }),
    ...(delTimeoutMs > 0 ? { signal: AbortSignal.timeout(delTimeoutMs) } : {}),
  });
} catch (err) {
  const why = err instanceof Error ? err.message : String(err);
  if (command === "DEL") {
    const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
    await delFallback(timedOut ? `addr-broker at ${socket} gave no answer within ${delTimeoutMs / 1000} s (request aborted)` : `addr-broker unreachable at ${socket} (${why})`);
  }
  if (command === "STATUS") await emit(cniError(version, 50, `addr-broker is not reachable at ${socket}`, why), "", 1);
  await emit(cniError(version, 11, `addr-broker is not reachable at ${socket}; try again later`, why), "", 1);
  throw err; // unreachable: emit exits
}

let text: string;
try {
  text = await res.text();
} catch (err) {
  // The body did not come in time (the DEL's timeout covers it too) or the connection broke.
  if (command === "DEL") await delFallback(`addr-broker at ${socket} did not finish its answer (${err instanceof Error ? err.message : String(err)})`);
  await emit(cniError(version, 11, `addr-broker at ${socket} did not finish its answer; try again later`, String(err)), "", 1);
  throw err;
}
let out: { exitCode?: unknown; stdout?: unknown; stderr?: unknown; pluginLogged?: unknown } | undefined;
try {
  out = JSON.parse(text);
} catch {
  out = undefined;
}
if (!res.ok || !out || typeof out.exitCode !== "number" || typeof out.stdout !== "string") {
  if (command === "DEL") await delFallback(`addr-broker at ${socket} refused the DEL (HTTP ${res.status}: ${text.slice(0, 200)})`);
  await emit(cniError(version, 100, `addr-broker at ${socket} refused the request (HTTP ${res.status})`, text.slice(0, 2000)), "", 1);
} else {
  if (out.pluginLogged === true) pluginLog = undefined; // addr-broker wrote the line (one per call)
  if (command === "DEL" && out.exitCode !== 0) {
    const code = cniErrorCode(out.stdout as string);
    if (!REQUEST_ERRORS.has(code)) await delFallback(`addr-broker answered the DEL with CNI error ${code} (${(out.stdout as string).slice(0, 300)})`);
  }
  await emit(out.stdout as string, typeof out.stderr === "string" ? out.stderr : "", out.exitCode as number);
}

/** The `code` of a CNI error result; 0 when there is none to read. */
function cniErrorCode(stdout: string): number {
  try {
    const code = (JSON.parse(stdout) as { code?: unknown }).code;
    return typeof code === "number" ? code : 0;
  } catch {
    return 0;
  }
}
