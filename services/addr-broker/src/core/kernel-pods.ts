/**
 * Pods as the kernel shows them, for rebuilding reservations when the checkpoint is
 * corrupt: every `to <ip> lookup main` rule at priority 512, every host route
 * `<ip> dev <prefix>…`, and every host veth with the prefix. A link named as a pod's host
 * veth with another prefix (`<1-4 letters or digits><11 hex>`: a conflist's own vethPrefix)
 * counts too, so a pod wired with it is neither lost nor thought gone. Pure: parses `ip -j`
 * output.
 */
import { canonicalIp } from "../../../../shared/ip.ts";
import { vethPrefixOf } from "../../../../shared/naming.ts";

export const RULE_TO_POD = 512;
export const RULE_FROM_POD = 1536;

export interface KernelPod {
  address: string;
  hostVeth?: string;
  routeTable?: number;
}

export interface KernelDump {
  rules: unknown;
  routes: unknown;
  links: unknown;
}

function asArray(x: unknown): Array<Record<string, unknown>> {
  return Array.isArray(x) ? x.filter((e): e is Record<string, unknown> => typeof e === "object" && e !== null) : [];
}

function hostAddress(dst: unknown, len: unknown): string | undefined {
  if (typeof dst !== "string") return undefined;
  const [ip, slash] = dst.split("/");
  const prefix = slash !== undefined ? Number(slash) : typeof len === "number" ? len : undefined;
  const canon = ip ? canonicalIp(ip) : undefined;
  if (!canon) return undefined;
  const full = canon.includes(":") ? 128 : 32;
  return prefix === undefined || prefix === full ? canon : undefined;
}

function tableNumber(t: unknown): number | undefined {
  if (t === "main") return 254;
  const n = typeof t === "number" ? t : typeof t === "string" ? Number(t) : NaN;
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

export function podsFromKernel(dump: KernelDump, vethPrefix: string): { pods: KernelPod[]; hostVeths: string[] } {
  const isPodVeth = (name: unknown): name is string => typeof name === "string" && (name.startsWith(vethPrefix) || vethPrefixOf(name) !== undefined);
  const pods = new Map<string, KernelPod>();
  const get = (address: string) => {
    let p = pods.get(address);
    if (!p) pods.set(address, (p = { address }));
    return p;
  };
  for (const r of asArray(dump.rules)) {
    if (r.priority === RULE_TO_POD && tableNumber(r.table) === 254) {
      const ip = hostAddress(r.dst, r.dstlen);
      if (ip) get(ip);
    } else if (r.priority === RULE_FROM_POD) {
      const ip = hostAddress(r.src, r.srclen);
      const table = tableNumber(r.table);
      if (ip && table) get(ip).routeTable = table;
    }
  }
  for (const r of asArray(dump.routes)) {
    if (!isPodVeth(r.dev)) continue;
    const ip = hostAddress(r.dst, undefined);
    if (ip) get(ip).hostVeth = r.dev;
  }
  const hostVeths = asArray(dump.links)
    .map((l) => l.ifname)
    .filter(isPodVeth);
  return { pods: [...pods.values()], hostVeths };
}
