/**
 * Turns one CNI invocation (the CNI_* environment and stdin) into a typed request, or a
 * CniError naming the offending variable or field. Pure: no I/O, no clock.
 */
import { netnsPath } from "../../../../shared/contracts/fields.ts";
import { isValidContainerId, isValidIfName } from "../../../../shared/naming.ts";
import { parseCniArgs, type PodArgs } from "./cni-args.ts";
import { CniCode, CniError } from "./cni-error.ts";
import { parsePluginConf, type PluginConf } from "./plugin-conf.ts";
import { COMMANDS, LATEST_VERSION, isSupportedVersion, requireVersion, type CniCommand, type CniVersion } from "./cni-version.ts";

export interface NetConf {
  cniVersion: CniVersion;
  name: string;
  type: string;
  /** The whole config object as received (plugin-specific keys, prevResult, ...). */
  raw: Record<string, unknown>;
  /** The plugin's own keys, type-checked (plugin-conf.ts). */
  plugin: PluginConf;
  prevResult?: unknown;
}

export interface Attachment {
  containerId: string;
  ifName: string;
}

interface PodTarget {
  conf: NetConf;
  containerId: string;
  ifName: string;
  args: PodArgs;
}

export type CniRequest =
  | { command: "VERSION"; cniVersion: string }
  | (PodTarget & { command: "ADD"; netns: string })
  | (PodTarget & { command: "CHECK"; netns: string })
  | (PodTarget & { command: "DEL"; netns: string })
  | { command: "STATUS"; conf: NetConf }
  /** validAttachments undefined: the runtime sent no list, so nothing may be collected. */
  | { command: "GC"; conf: NetConf; validAttachments: Attachment[] | undefined };

const REQUIRED: Record<CniCommand, string[]> = {
  ADD: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"],
  CHECK: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"],
  DEL: ["CNI_CONTAINERID", "CNI_IFNAME"],
  GC: [],
  STATUS: [],
  VERSION: [],
};

const NETWORK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.\-]*$/;

/** Best-effort cniVersion of stdin, for the error body when the request is refused early. */
export function versionForErrors(stdin: string): string {
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    if (typeof v === "string" && isSupportedVersion(v)) return v;
  } catch {
    // not JSON: fall through
  }
  return LATEST_VERSION;
}

export function parseCniRequest(env: Record<string, string>, stdin: string): CniRequest {
  const command = env.CNI_COMMAND;
  if (!command) throw new CniError(CniCode.INVALID_ENV, "CNI_COMMAND: required variable is missing");
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new CniError(CniCode.INVALID_ENV, `CNI_COMMAND: "${command}" is not one of ${COMMANDS.join(", ")}`);
  }
  const cmd = command as CniCommand;
  if (cmd === "VERSION") return { command: "VERSION", cniVersion: versionForErrors(stdin) };

  const missing = REQUIRED[cmd].filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new CniError(CniCode.INVALID_ENV, `${missing.join(", ")}: required variable${missing.length > 1 ? "s are" : " is"} missing for ${cmd}`);
  }
  const conf = parseNetConf(cmd, stdin);
  if (cmd === "STATUS") return { command: "STATUS", conf };
  if (cmd === "GC") return { command: "GC", conf, validAttachments: parseAttachments(conf.raw) };

  const containerId = env.CNI_CONTAINERID ?? "";
  if (!isValidContainerId(containerId)) {
    throw new CniError(CniCode.INVALID_ENV, `CNI_CONTAINERID: "${containerId}" must start with a letter or digit, then only [A-Za-z0-9_.-]`);
  }
  const ifName = env.CNI_IFNAME ?? "";
  if (!isValidIfName(ifName)) {
    throw new CniError(CniCode.INVALID_ENV, `CNI_IFNAME: "${ifName}" must be 1-15 characters, no '/', ':' or whitespace, not '.' or '..'`);
  }
  const netns = env.CNI_NETNS ?? "";
  if (netns !== "" && !netnsPath.safeParse(netns).success) {
    throw new CniError(CniCode.INVALID_ENV, `CNI_NETNS: "${netns}" must be /proc/<pid>/ns/net or a file under /run/netns or /var/run/netns`);
  }
  const args = parseCniArgs(env.CNI_ARGS);
  if (cmd === "DEL") return { command: "DEL", conf, containerId, ifName, netns, args };
  return { command: cmd === "ADD" ? "ADD" : "CHECK", conf, containerId, ifName, netns, args };
}

export function parseNetConf(command: CniCommand, stdin: string): NetConf {
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (err) {
    throw new CniError(CniCode.DECODE_FAILURE, "stdin: network configuration is not valid JSON", err instanceof Error ? err.message : String(err));
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new CniError(CniCode.DECODE_FAILURE, "stdin: network configuration must be a JSON object");
  }
  const obj = raw as Record<string, unknown>;
  const cniVersion = requireVersion(command, obj.cniVersion);
  const name = obj.name;
  if (typeof name !== "string" || name === "") throw new CniError(CniCode.INVALID_NETWORK_CONFIG, "name: the network name is missing");
  if (!NETWORK_NAME.test(name) || name.length > 128) {
    throw new CniError(CniCode.INVALID_NETWORK_CONFIG, `name: "${name}" must start with a letter or digit, then only [A-Za-z0-9_.-] (at most 128)`);
  }
  const type = obj.type;
  if (type !== undefined && typeof type !== "string") throw new CniError(CniCode.INVALID_NETWORK_CONFIG, "type: must be a string");
  const plugin = parsePluginConf(obj);
  const conf: NetConf = { cniVersion, name, type: (type as string | undefined) ?? "aws-cni", raw: obj, plugin };
  if (obj.prevResult !== undefined && obj.prevResult !== null) conf.prevResult = obj.prevResult;
  return conf;
}

function parseAttachments(raw: Record<string, unknown>): Attachment[] | undefined {
  const key = raw["cni.dev/valid-attachments"] !== undefined ? "cni.dev/valid-attachments" : "cni.dev/attachments";
  const list = raw[key];
  if (list === undefined) return undefined;
  if (!Array.isArray(list)) throw new CniError(CniCode.INVALID_NETWORK_CONFIG, `${key}: must be an array of {containerID, ifname}`);
  return list.map((item, i) => {
    const a = item as { containerID?: unknown; ifname?: unknown };
    if (typeof a !== "object" || a === null || typeof a.containerID !== "string" || typeof a.ifname !== "string") {
      throw new CniError(CniCode.INVALID_NETWORK_CONFIG, `${key}.${i}: must be {containerID, ifname} strings`);
    }
    return { containerId: a.containerID, ifName: a.ifname };
  });
}
