/**
 * ADD results, written in exactly the version the config asked for, merged into the
 * prevResult of an earlier plugin in the chain when there is one.
 */
import { hostCidr, parseIp } from "../../../../shared/ip.ts";
import { CniCode, CniError } from "./cni-error.ts";
import { hasIpVersionField, type CniVersion } from "./cni-version.ts";

export const GATEWAY_V4 = "169.254.1.1";
export const GATEWAY_V6 = "fe80::1";

/** What the pod got: its address and both ends of its veth. */
export interface PodNetwork {
  address: string;
  hostVeth: string;
  hostMac: string;
  ifName: string;
  podMac: string;
  netns: string;
}

export interface ResultInterface {
  name: string;
  mac?: string;
  sandbox?: string;
  [k: string]: unknown;
}
export interface ResultIp {
  version?: "4" | "6";
  address: string;
  gateway?: string;
  interface?: number;
}
export interface ResultRoute {
  dst: string;
  gw?: string;
  [k: string]: unknown;
}
export interface CniResult {
  cniVersion: CniVersion;
  interfaces: ResultInterface[];
  ips: ResultIp[];
  routes: ResultRoute[];
  dns: Record<string, unknown>;
}

export function familyOf(address: string): 4 | 6 {
  return parseIp(address)?.family ?? 4;
}

function withVersionField(version: CniVersion, ip: ResultIp): ResultIp {
  const { version: _drop, ...rest } = ip;
  if (!hasIpVersionField(version)) return rest;
  const bare = ip.address.split("/")[0] ?? "";
  return { version: ip.version ?? (familyOf(bare) === 6 ? "6" : "4"), ...rest };
}

/** A prevResult as sent by the runtime, checked for the fields a merge relies on. */
export function parsePrevResult(prev: unknown): Omit<CniResult, "cniVersion"> {
  const fail = (field: string, what: string): never => {
    throw new CniError(CniCode.DECODE_FAILURE, `prevResult.${field}: ${what}`);
  };
  if (typeof prev !== "object" || prev === null || Array.isArray(prev)) return fail("(root)", "must be an object");
  const p = prev as Record<string, unknown>;
  const arr = <T>(key: string, check: (x: Record<string, unknown>) => boolean): T[] => {
    const v = p[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) return fail(key, "must be an array");
    v.forEach((x, i) => {
      if (typeof x !== "object" || x === null || !check(x as Record<string, unknown>)) fail(`${key}.${i}`, "has missing or mistyped fields");
    });
    return v as T[];
  };
  const interfaces = arr<ResultInterface>("interfaces", (x) => typeof x.name === "string");
  const ips = arr<ResultIp>("ips", (x) => typeof x.address === "string" && (x.interface === undefined || typeof x.interface === "number"));
  const routes = arr<ResultRoute>("routes", (x) => typeof x.dst === "string");
  const dns = typeof p.dns === "object" && p.dns !== null ? (p.dns as Record<string, unknown>) : {};
  return { interfaces, ips, routes, dns };
}

/** A multi-homed pod's interface on another network card (ENABLE_MULTI_NIC): its number n ≥ 1 picks its gateway, 169.254.1.<n+1>. */
export interface ExtraPodNetwork extends PodNetwork {
  index: number;
}

/** The gateway of a multi-homed pod's interface `index` (upstream's 169.254.1.<index+1>, fe80::<index+1>). */
export function gatewayOf(address: string, index: number): string {
  return familyOf(address) === 6 ? `fe80::${(index + 1).toString(16)}` : `169.254.1.${index + 1}`;
}

/**
 * The ADD result: host veth, sandbox interface, the pod's /32 (/128), default route via the
 * link-local gateway. A multi-homed pod's other interfaces follow in order, each pair (host
 * veth, sandbox interface) with its address and gateway (their default routes are in the
 * pod's per-interface tables, so the result's routes stay the first interface's).
 */
export function buildAddResult(version: CniVersion, pod: PodNetwork, prevResult?: unknown, extras: readonly ExtraPodNetwork[] = []): CniResult {
  const prev = prevResult === undefined ? { interfaces: [], ips: [], routes: [], dns: {} } : parsePrevResult(prevResult);
  const v6 = familyOf(pod.address) === 6;
  const gateway = v6 ? GATEWAY_V6 : GATEWAY_V4;
  const base = prev.interfaces.length;
  const interfaces: ResultInterface[] = [
    ...prev.interfaces,
    { name: pod.hostVeth, mac: pod.hostMac },
    { name: pod.ifName, mac: pod.podMac, sandbox: pod.netns },
  ];
  const extraIps: ResultIp[] = [];
  for (const x of extras) {
    interfaces.push({ name: x.hostVeth, mac: x.hostMac }, { name: x.ifName, mac: x.podMac, sandbox: x.netns });
    extraIps.push({ address: hostCidr(x.address), gateway: gatewayOf(x.address, x.index), interface: interfaces.length - 1 });
  }
  const ips: ResultIp[] = [...prev.ips, { address: hostCidr(pod.address), gateway, interface: base + 1 }, ...extraIps].map((ip) => withVersionField(version, ip));
  const routes: ResultRoute[] = [...prev.routes, { dst: v6 ? "::/0" : "0.0.0.0/0", gw: gateway }];
  return { cniVersion: version, interfaces, ips, routes, dns: prev.dns };
}

/** CHECK against a prevResult: our address and sandbox interface must still be in it. Later plugins may add more. */
export function prevResultProblems(prevResult: unknown, pod: { address: string; ifName: string; netns: string }): string[] {
  const prev = parsePrevResult(prevResult);
  const problems: string[] = [];
  const want = hostCidr(pod.address);
  const ip = prev.ips.find((i) => i.address === want);
  if (!ip) problems.push(`prevResult has no ip ${want}`);
  const sandbox = prev.interfaces.findIndex((i) => i.name === pod.ifName && (i.sandbox === undefined || i.sandbox === pod.netns));
  if (sandbox < 0) problems.push(`prevResult has no interface ${pod.ifName} in ${pod.netns}`);
  else if (ip && ip.interface !== undefined && ip.interface !== sandbox) problems.push(`prevResult ip ${want} points at interface ${ip.interface}, not ${sandbox}`);
  return problems;
}
