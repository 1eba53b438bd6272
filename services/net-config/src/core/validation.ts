/**
 * Every name that reaches a command line, a netlink attribute or a path is checked here
 * first. Pure: strings in, an error naming the field out.
 */
import { isValidIfName } from "../../../../shared/naming.ts";
import { parseCidr, parseIp } from "../../../../shared/ip.ts";
import { invalid } from "./errors.ts";

const NETNS_PATH = /^\/(proc\/[1-9]\d{0,9}\/(task\/[1-9]\d{0,9}\/)?ns\/net|(proc\/[1-9]\d{0,9}\/root\/)?(var\/)?run\/netns\/[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127})$/;

/** Network namespaces may be named only as /proc/<pid>/ns/net, /run/netns/<name> or /var/run/netns/<name>. */
export function checkNetnsPath(path: string, field = "netns"): string {
  if (!NETNS_PATH.test(path) || path.split("/").includes("..")) {
    throw invalid(field, `${JSON.stringify(path)} must be /proc/<pid>/ns/net, /run/netns/<name> or /var/run/netns/<name>`);
  }
  return path;
}

export function checkIfName(name: string, field = "ifName"): string {
  if (!isValidIfName(name)) throw invalid(field, `${JSON.stringify(name)} is not a valid interface name`);
  return name;
}

const RESERVED_PREFIXES = ["eth", "vlan", "lo"];
export function checkVethPrefix(prefix: string, field = "vethPrefix"): string {
  if (!/^[A-Za-z0-9]{1,4}$/.test(prefix) || RESERVED_PREFIXES.includes(prefix)) {
    throw invalid(field, `${JSON.stringify(prefix)} must be 1-4 letters or digits and not eth, vlan or lo`);
  }
  return prefix;
}

export function checkCidr(text: string, field: string): string {
  if (!parseCidr(text, false)) throw invalid(field, `${JSON.stringify(text)} is not a CIDR`);
  return text;
}

export function checkIp(text: string, field: string): string {
  if (!parseIp(text)) throw invalid(field, `${JSON.stringify(text)} is not an IP address`);
  return text;
}

export function checkMac(text: string, field = "mac"): string {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(text)) throw invalid(field, `${JSON.stringify(text)} is not a lower-case MAC`);
  return text;
}

export function checkMtu(n: number, field: string): number {
  if (!Number.isInteger(n) || n < 576 || n > 9001) throw invalid(field, `${n} must be an integer from 576 to 9001`);
  return n;
}

export function checkTable(n: number, field = "routeTable"): number {
  if (!Number.isInteger(n) || n < 1 || n > 0xfffffffe || n === 255) throw invalid(field, `${n} is not a usable route table`);
  return n;
}
