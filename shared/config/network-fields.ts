// Field schemas for addresses, CIDR lists, bind addresses, tags and names that reach the kernel.
import { envField, INVALID, isAbsolutePath, parseDecimal, type VariableSource } from "./fields.ts";

type Extra = { source?: VariableSource; differs?: string };

// ---------- IPv4 ----------

/** Parse dotted-quad IPv4 (no leading zeros, which some parsers read as octal). */
export function parseIpv4(v: string): number | undefined {
  const parts = v.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    n = n * 256 + octet;
  }
  return n;
}

function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** Parse an IPv4 CIDR and normalise it to its network address (as Go's net.ParseCIDR). */
export function parseIpv4Cidr(v: string): string | undefined {
  const slash = v.indexOf("/");
  if (slash === -1) return undefined;
  const ip = parseIpv4(v.slice(0, slash));
  const lenText = v.slice(slash + 1);
  if (ip === undefined || !/^(0|[1-9]\d?)$/.test(lenText)) return undefined;
  const len = Number(lenText);
  if (len > 32) return undefined;
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return `${formatIpv4((ip & mask) >>> 0)}/${len}`;
}

export interface CidrList {
  cidrs: string[];
  /** Entries that were not valid IPv4 CIDRs: skipped with a warning, as upstream does. */
  skipped: string[];
}

/** Comma-separated IPv4 CIDRs; invalid entries are skipped (never an error). */
export function cidrListField(extra: Extra = {}) {
  return envField<CidrList>({
    accepted: "comma-separated IPv4 CIDRs (entries that are not are skipped with a warning)",
    default: { cidrs: [], skipped: [] },
    defaultText: "",
    differs: "blanks around entries are ignored; duplicates are removed",
    ...extra,
    parse: (v) => {
      const cidrs: string[] = [];
      const skipped: string[] = [];
      for (const entry of v.split(",").map((e) => e.trim())) {
        if (entry === "") continue;
        const cidr = parseIpv4Cidr(entry);
        if (cidr === undefined) skipped.push(entry);
        else if (!cidrs.includes(cidr)) cidrs.push(cidr);
      }
      return { cidrs, skipped };
    },
  });
}

// ---------- bind addresses ----------

export type BindAddress =
  | { kind: "tcp"; /** "" = every interface (Go's ":port") */ host: string; port: number }
  | { kind: "unix"; path: string };

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$/;
const IPV6ISH = /^[0-9A-Fa-f:.]+$/;

export function parseBindAddress(v: string): BindAddress | undefined {
  if (v.startsWith("unix:")) {
    const path = v.slice("unix:".length);
    return isAbsolutePath(path) ? { kind: "unix", path } : undefined;
  }
  const colon = v.lastIndexOf(":");
  if (colon === -1) return undefined;
  let host = v.slice(0, colon);
  const port = parseDecimal(v.slice(colon + 1));
  if (port === INVALID || port < 1 || port > 65535 || !/^\d+$/.test(v.slice(colon + 1))) return undefined;
  if (host.startsWith("[") && host.endsWith("]")) {
    host = host.slice(1, -1);
    if (!IPV6ISH.test(host) || !host.includes(":")) return undefined;
  } else if (host !== "" && !(parseIpv4(host) !== undefined || HOSTNAME.test(host))) {
    return undefined;
  }
  return { kind: "tcp", host, port };
}

export function formatBindAddress(b: BindAddress): string {
  if (b.kind === "unix") return `unix:${b.path}`;
  return `${b.host.includes(":") ? `[${b.host}]` : b.host}:${b.port}`;
}

export function bindAddressField(defaultValue: string, extra: Extra = {}) {
  const parsedDefault = parseBindAddress(defaultValue);
  if (!parsedDefault) throw new Error(`bad default bind address ${defaultValue}`);
  return envField<BindAddress>({
    accepted: "host:port, [ipv6]:port, :port (every interface) or unix:/absolute/path",
    default: parsedDefault,
    defaultText: defaultValue,
    ...extra,
    parse: (v) => parseBindAddress(v) ?? INVALID,
  });
}

// ---------- ADDITIONAL_ENI_TAGS ----------

export interface EniTags {
  tags: Record<string, string>;
  /** Keys containing k8s.amazonaws.com: reserved, dropped with a warning (upstream). */
  dropped: string[];
}

export const RESERVED_TAG_FRAGMENT = "k8s.amazonaws.com";

export function eniTagsField() {
  return envField<EniTags>({
    accepted:
      'a JSON object of string keys (1-128 characters, not starting with "aws:") to string values (at most 256 characters), e.g. {"team":"net"}',
    default: { tags: {}, dropped: [] },
    defaultText: "{}",
    differs:
      "invalid JSON or tags EC2 would refuse stop the start (upstream logs and ignores them, so ENIs silently lack the tags)",
    parse: (v) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(v);
      } catch {
        return { invalid: "not valid JSON" };
      }
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        return { invalid: "not a JSON object" };
      }
      const tags: Record<string, string> = {};
      const dropped: string[] = [];
      for (const [key, value] of Object.entries(parsed)) {
        if (typeof value !== "string") return { invalid: `value of tag ${JSON.stringify(key)} is not a string` };
        if (key.length < 1 || key.length > 128 || key.toLowerCase().startsWith("aws:")) {
          return { invalid: `tag key ${JSON.stringify(key)} is not accepted by EC2` };
        }
        if (value.length > 256) return { invalid: `value of tag ${JSON.stringify(key)} is longer than 256 characters` };
        if (key.includes(RESERVED_TAG_FRAGMENT)) dropped.push(key);
        else tags[key] = value;
      }
      return { tags, dropped };
    },
  });
}

// ---------- veth prefix, connmark, socket group ----------

export const RESERVED_VETH_PREFIXES = ["eth", "vlan", "lo"] as const;

export function vethPrefixField() {
  return envField<string>({
    accepted: "1 to 4 letters or digits ([A-Za-z0-9]), not eth, vlan or lo",
    default: "eni",
    defaultText: "eni",
    differs: "only letters and digits are accepted: the prefix becomes part of host link names",
    parse: (v) =>
      /^[A-Za-z0-9]{1,4}$/.test(v) && !(RESERVED_VETH_PREFIXES as readonly string[]).includes(v) ? v : INVALID,
  });
}

export function connmarkField() {
  return envField<number>({
    accepted: "a mark from 1 to 4294967295, decimal or 0x-hex (e.g. 0x80)",
    default: 0x80,
    defaultText: "0x80",
    source: "upstream-code",
    differs: "an invalid mark is rejected (upstream logs it and uses 0x80); octal/binary forms are not accepted",
    parse: (v) => {
      const n = /^0x[0-9a-f]{1,8}$/i.test(v) ? Number.parseInt(v.slice(2), 16) : /^\d{1,10}$/.test(v) ? Number(v) : NaN;
      return Number.isInteger(n) && n >= 1 && n <= 0xffffffff ? n : INVALID;
    },
  });
}

export function socketGroupField() {
  return envField<number | string | undefined>({
    accepted: "a numeric gid (0-4294967294) or a group name ([A-Za-z_][A-Za-z0-9_-]*, at most 32 characters)",
    default: undefined,
    defaultText: "",
    source: "project",
    parse: (v) => {
      if (/^\d+$/.test(v)) {
        const gid = Number(v);
        return Number.isSafeInteger(gid) && gid <= 4294967294 ? gid : INVALID;
      }
      return /^[A-Za-z_][A-Za-z0-9_-]{0,30}\$?$/.test(v) ? v : INVALID;
    },
  });
}
