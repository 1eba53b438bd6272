/**
 * What the demo reads to show and check the pool: pool-manager's /debug on a node's run
 * dir (ENIs, their addresses, assigned/cooling per address, the warm settings) and the
 * simulated EC2's call counters on its control socket.
 */
import { join } from "node:path";
import { contains, parseCidr } from "../../../shared/ip.ts";

export interface EniView {
  id: string;
  deviceNumber: number;
  primary: boolean;
  addresses: string[];
  assigned: number;
  cooling: number;
}

export interface PoolView {
  enis: EniView[];
  total: number;
  assigned: number;
  cooling: number;
  /** total - assigned - cooling */
  free: number;
  warmIpTarget?: number;
  minimumIpTarget?: number;
  warmEniTarget?: number;
  policy?: string;
  lastDecision?: string;
}

export type CallCounts = Record<string, number>;

interface DebugEni {
  id: string;
  deviceNumber: number;
  primary: boolean;
  cidrs: Array<{ cidr: string; size: number }>;
  usage: Array<{ cidr: string; assigned: number; cooling: number }>;
}

export async function getJson(socket: string, path: string, timeoutMs = 3000): Promise<unknown> {
  const res = await fetch(`http://localhost${path}`, { unix: socket, signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${path} on ${socket}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  return res.json();
}

export function serviceSocket(runDir: string, service: string): string {
  return join(runDir, `${service}.sock`);
}

/** The node's pool as pool-manager sees it (its /debug). */
export async function readPool(runDir: string): Promise<PoolView> {
  const dbg = (await getJson(serviceSocket(runDir, "pool-manager"), "/debug")) as {
    pool?: { enis?: DebugEni[]; settings?: Record<string, unknown>; decisions?: Array<{ reason?: string; actions?: string[] }> };
  };
  const enis: EniView[] = (dbg.pool?.enis ?? []).map((e) => ({
    id: e.id,
    deviceNumber: e.deviceNumber,
    primary: e.primary,
    addresses: e.cidrs.map((c) => c.cidr.replace(/\/32$/, "")),
    assigned: e.usage.reduce((s, u) => s + u.assigned, 0),
    cooling: e.usage.reduce((s, u) => s + u.cooling, 0),
  }));
  const total = enis.reduce((s, e) => s + e.addresses.length, 0);
  const assigned = enis.reduce((s, e) => s + e.assigned, 0);
  const cooling = enis.reduce((s, e) => s + e.cooling, 0);
  const settings = dbg.pool?.settings ?? {};
  const num = (k: string) => (typeof settings[k] === "number" ? (settings[k] as number) : undefined);
  const last = dbg.pool?.decisions?.at(-1);
  return {
    enis,
    total,
    assigned,
    cooling,
    free: total - assigned - cooling,
    warmIpTarget: num("warmIpTarget"),
    minimumIpTarget: num("minimumIpTarget"),
    warmEniTarget: num("warmEniTarget"),
    policy: typeof settings.policy === "string" ? settings.policy : undefined,
    lastDecision: last ? (last.actions?.[0] ?? last.reason) : undefined,
  };
}

/** The ENI of the node's pool that holds `address`, as a secondary IP or inside one of its prefixes (/28, /80), if any. */
export function eniOf(pool: PoolView, address: string): EniView | undefined {
  const inPrefix = (cidr: string) => {
    const c = cidr.includes("/") ? parseCidr(cidr, false) : undefined;
    return c !== undefined && contains(c, address);
  };
  return pool.enis.find((e) => e.addresses.some((a) => a === address || inPrefix(a)));
}

/** One line per ENI: `eni-… (eth1): 4 addresses, 3 assigned, 0 cooling`. */
export function describePool(pool: PoolView): string[] {
  return pool.enis.map((e) => `${e.id} (eth${e.deviceNumber}${e.primary ? ", primary" : ""}): ${e.addresses.length} addresses, ${e.assigned} assigned, ${e.cooling} cooling`);
}

/** Successful EC2 calls per action, from the simulated EC2's control socket. */
export async function readCalls(controlSocket: string): Promise<CallCounts> {
  const calls = (await getJson(controlSocket, "/calls")) as Record<string, { ok: number }>;
  return Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, v.ok]));
}

/** Actions whose count grew between two readings, e.g. `CreateNetworkInterface ×1`. */
export function callDelta(before: CallCounts, after: CallCounts): string[] {
  return Object.entries(after)
    .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
    .filter(([k, d]) => d > 0 && !k.startsWith("Describe"))
    .map(([k, d]) => `${k} ×${d}`);
}

export async function poll<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number, everyMs = 500): Promise<{ value: T; met: boolean; ms: number }> {
  const t0 = Date.now();
  let value = await read();
  while (!done(value) && Date.now() - t0 < timeoutMs) {
    await Bun.sleep(everyMs);
    value = await read();
  }
  return { value, met: done(value), ms: Date.now() - t0 };
}
