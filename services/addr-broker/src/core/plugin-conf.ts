/**
 * The typed network configuration of the aws-cni plugin: every key upstream's plugin
 * decodes (its NetConf: CNI's PluginConf plus vethPrefix, mtu, podSGEnforcingMode,
 * pluginLogFile, pluginLogLevel, runtimeConfig) and this project's own (runDir,
 * brokerSocket, delTimeoutSeconds) is checked for the JSON type upstream decodes it into, so a wrong type is
 * CNI error 7 naming the key instead of being ignored. Unknown keys are accepted, as CNI
 * allows.
 *
 * Decoding follows Go's encoding/json, which upstream uses: a key matches a field
 * case-insensitively (the last matching key wins), and `null` leaves the default. Values
 * that would silently change the wiring are checked too: vethPrefix (1–4 letters or
 * digits, not eth/vlan/lo, as the AWS_VPC_K8S_CNI_VETHPREFIX variable) and mtu (a decimal
 * string, 576–9001: upstream falls back to 9001 for anything else).
 *
 * Pure and import-light: the shim loads it to refuse a bad runDir or brokerSocket itself.
 */
import { CniCode, CniError } from "./cni-error.ts";

export interface PluginConf {
  /** Host veth name prefix for this network; undefined: the node's AWS_VPC_K8S_CNI_VETHPREFIX. */
  vethPrefix?: string;
  /** Pod MTU from the conflist (upstream's plugin reads it as a string). */
  mtu?: number;
  podSgEnforcingMode?: string;
  pluginLogFile?: string;
  pluginLogLevel?: string;
  runDir?: string;
  brokerSocket?: string;
  podAnnotations?: Record<string, string>;
}

const MIN_MTU = 576;
const MAX_MTU = 9001;
const RESERVED_VETH_PREFIXES = ["eth", "vlan", "lo"];

type Json = unknown;

function kind(v: Json): string {
  if (Array.isArray(v)) return "an array";
  if (v === null) return "null";
  if (typeof v === "object") return "an object";
  if (typeof v === "number") return `the number ${v}`;
  if (typeof v === "boolean") return `the boolean ${v}`;
  return `the string ${JSON.stringify(v)}`;
}

function refuse(key: string, want: string, got: Json): never {
  throw new CniError(CniCode.INVALID_NETWORK_CONFIG, `${key}: must be ${want}, got ${kind(got)}`, `network configuration key "${key}"`);
}

/** Go's field match: the exact key or any case-insensitive spelling; the last one in the object wins. `null` counts as absent. */
function lookup(obj: Record<string, Json>, field: string): { key: string; value: Json } | undefined {
  const folded = field.toLowerCase();
  let found: { key: string; value: Json } | undefined;
  for (const [key, value] of Object.entries(obj)) if (key === field || key.toLowerCase() === folded) found = { key, value };
  return found && found.value !== null ? found : undefined;
}

function str(obj: Record<string, Json>, field: string, path = ""): { key: string; value: string } | undefined {
  const f = lookup(obj, field);
  if (!f) return undefined;
  if (typeof f.value !== "string") refuse(path + f.key, "a string", f.value);
  return { key: path + f.key, value: f.value };
}

function object(obj: Record<string, Json>, field: string, path = ""): { key: string; value: Record<string, Json> } | undefined {
  const f = lookup(obj, field);
  if (!f) return undefined;
  if (typeof f.value !== "object" || Array.isArray(f.value)) refuse(path + f.key, "an object", f.value);
  return { key: path + f.key, value: f.value as Record<string, Json> };
}

/** An object whose every value has one type (Go's map[string]T); null values are Go's zero value. */
function mapOf(obj: Record<string, Json>, field: string, type: "string" | "boolean", path = ""): { key: string; value: Record<string, Json> } | undefined {
  const m = object(obj, field, path);
  if (!m) return undefined;
  for (const [k, v] of Object.entries(m.value)) if (v !== null && typeof v !== type) refuse(`${m.key}.${k}`, `a ${type}`, v);
  return m;
}

function stringList(obj: Record<string, Json>, field: string, path: string): void {
  const f = lookup(obj, field);
  if (!f) return;
  if (!Array.isArray(f.value)) refuse(path + f.key, "an array of strings", f.value);
  f.value.forEach((v, i) => {
    if (v !== null && typeof v !== "string") refuse(`${path}${f.key}.${i}`, "a string", v);
  });
}

/** The keys of CNI's own PluginConf that the CNI library decodes for upstream's plugin (name, type, cniVersion are checked by the caller). */
function checkCniKeys(obj: Record<string, Json>): void {
  for (const key of ["cniVersion", "name", "type"]) str(obj, key);
  mapOf(obj, "capabilities", "boolean");
  const ipam = object(obj, "ipam");
  if (ipam) str(ipam.value, "type", `${ipam.key}.`);
  const dns = object(obj, "dns");
  if (dns) {
    for (const list of ["nameservers", "search", "options"]) stringList(dns.value, list, `${dns.key}.`);
    str(dns.value, "domain", `${dns.key}.`);
  }
  object(obj, "prevResult");
  const att = lookup(obj, "cni.dev/valid-attachments");
  if (att) {
    if (!Array.isArray(att.value)) refuse(att.key, "an array of {containerID, ifname}", att.value);
    att.value.forEach((a, i) => {
      if (a === null) return;
      if (typeof a !== "object" || Array.isArray(a)) refuse(`${att.key}.${i}`, "an object", a);
      str(a as Record<string, Json>, "containerID", `${att.key}.${i}.`);
      str(a as Record<string, Json>, "ifname", `${att.key}.${i}.`);
    });
  }
}

export function isValidVethPrefix(p: string): boolean {
  return /^[A-Za-z0-9]{1,4}$/.test(p) && !RESERVED_VETH_PREFIXES.includes(p);
}

/** An absolute path with no ".." component (runDir, brokerSocket, pluginLogFile reach the file system). */
function isSafeAbsolute(p: string): boolean {
  return p.startsWith("/") && !p.split("/").includes("..") && !p.includes("\0");
}

/**
 * The project's own keys telling the shim where addr-broker listens. Exact spelling only
 * (they are not upstream's). Throws CniError 7 naming the key; the shim calls this before
 * it knows where to send the request.
 */
export function parseSocketKeys(obj: Record<string, Json>): Pick<PluginConf, "runDir" | "brokerSocket"> {
  const out: Pick<PluginConf, "runDir" | "brokerSocket"> = {};
  for (const key of ["runDir", "brokerSocket"] as const) {
    const v = obj[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== "string") refuse(key, "a string (an absolute path)", v);
    if (!isSafeAbsolute(v)) refuse(key, "an absolute path without '..'", v);
    out[key] = v;
  }
  return out;
}

/** How long the shim waits for addr-broker's answer to a DEL before tearing down itself (seconds). */
export const DEFAULT_DEL_TIMEOUT_SECONDS = 30;

/** `delTimeoutSeconds`: an integer from 1 to 3600, default 30; throws CniError 7 naming the key. */
export function parseDelTimeout(obj: Record<string, Json>): number {
  const v = obj.delTimeoutSeconds;
  if (v === undefined || v === null) return DEFAULT_DEL_TIMEOUT_SECONDS;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 3600) refuse("delTimeoutSeconds", "an integer number of seconds from 1 to 3600", v);
  return v;
}

/** Checks every key the plugin knows and returns the plugin's settings; throws CniError 7 naming the first bad key. */
export function parsePluginConf(obj: Record<string, Json>): PluginConf {
  checkCniKeys(obj);
  const conf: PluginConf = parseSocketKeys(obj);
  parseDelTimeout(obj);
  const veth = str(obj, "vethPrefix");
  if (veth) {
    if (!isValidVethPrefix(veth.value)) refuse(veth.key, "1 to 4 letters or digits, not eth, vlan or lo", veth.value);
    conf.vethPrefix = veth.value;
  }
  const mtu = str(obj, "mtu");
  if (mtu) {
    const n = /^[0-9]{1,5}$/.test(mtu.value) ? Number(mtu.value) : NaN;
    if (!(n >= MIN_MTU && n <= MAX_MTU)) refuse(mtu.key, `a decimal string from ${MIN_MTU} to ${MAX_MTU} (e.g. "9001")`, mtu.value);
    conf.mtu = n;
  }
  const sg = str(obj, "podSGEnforcingMode");
  if (sg) conf.podSgEnforcingMode = sg.value;
  const logFile = str(obj, "pluginLogFile");
  if (logFile) conf.pluginLogFile = logFile.value;
  const logLevel = str(obj, "pluginLogLevel");
  if (logLevel) conf.pluginLogLevel = logLevel.value;
  const runtime = object(obj, "runtimeConfig");
  if (runtime) {
    const ann = mapOf(runtime.value, "io.kubernetes.cri.pod-annotations", "string", `${runtime.key}.`);
    if (ann) conf.podAnnotations = Object.fromEntries(Object.entries(ann.value).map(([k, v]) => [k, typeof v === "string" ? v : ""]));
  }
  return conf;
}
