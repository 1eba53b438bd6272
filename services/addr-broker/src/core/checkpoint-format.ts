/**
 * The checkpoint file, in upstream's `vpc-cni-ipam/1` format so the Go daemon and this one
 * can read each other's file across an in-place upgrade (or a rollback). Fields of this
 * project's own (cooldowns, reservations, drained CIDRs, and per allocation hostVeth,
 * netns, routeTable) are extra keys, which Go's encoding/json ignores.
 *
 * Every address a live pod holds is an upstream allocation entry, also a reservation (a
 * pod known only from the kernel after a corrupt checkpoint): after a downgrade upstream's
 * ipamd restores those entries and never hands the address to another pod. A reservation's
 * entry has a key of its own (reservation-entries.ts) and no pod name, so upstream's
 * veth-existence check keeps it; read back here it is a reservation again. Cooling
 * addresses are no pod's: they stay in the project's own `cooling` list (an upstream entry
 * would hold them for ever, as no DEL will come for it).
 *
 * allocationTimestamp is nanoseconds (≈1.7e18), beyond a double's exact range: it is read
 * and written as digits, never through a Number.
 */
import { canonicalIp, isCidr } from "../../../../shared/ip.ts";
import { isReservationEntry, reservationEntry, reservationFromEntry } from "./reservation-entries.ts";
import { EMPTY_STATE, keyOf, type Allocation, type BrokerState, type Cooling, type Reserved } from "./state.ts";

export const CHECKPOINT_VERSION = "vpc-cni-ipam/1";
export const WRITER = "aws-vpc-cni-bun";

export class CorruptCheckpoint extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CorruptCheckpoint";
  }
}

export interface DecodedCheckpoint {
  state: BrokerState;
  /** Written by upstream's Go daemon (no fields of this project's own): adopted as is. */
  upstream: boolean;
}

const TS_MARK = "\u0000ts:";

export function encodeCheckpoint(state: BrokerState): string {
  const allocations = [...state.allocations.values()].map((a) => {
    const family = a.address.includes(":") ? "ipv6" : "ipv4";
    const metadata: Record<string, unknown> = {};
    if (a.podNamespace !== undefined) metadata.k8sPodNamespace = a.podNamespace;
    if (a.podName !== undefined) metadata.k8sPodName = a.podName;
    metadata.interfacesCount = a.interfacesCount ?? 1;
    const entry: Record<string, unknown> = {
      networkName: a.networkName,
      containerID: a.containerId,
      ifName: a.ifName,
      [family]: a.address,
      allocationTimestamp: TS_MARK + a.allocatedAtNs.toString(),
      metadata,
    };
    if (a.hostVeth !== undefined) entry.hostVeth = a.hostVeth;
    if (a.netns !== undefined) entry.netns = a.netns;
    if (a.routeTable !== undefined) entry.routeTable = a.routeTable;
    return entry;
  });
  for (const r of state.reserved.values()) allocations.push(reservationEntry(r, TS_MARK));
  const doc = {
    version: CHECKPOINT_VERSION,
    allocations,
    writer: WRITER,
    cooling: [...state.cooling.values()].map((c) => ({ ip: c.address, releasedAt: c.releasedAt, until: c.until })),
    reserved: [...state.reserved.values()],
    drained: [...state.drained].map(([cidr, at]) => ({ cidr, at })),
  };
  // The marker strings become bare integers again.
  return JSON.stringify(doc).replace(/"\\u0000ts:(\d+)"/g, "$1");
}

function fail(msg: string): never {
  throw new CorruptCheckpoint(msg);
}

function optString(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") fail(`${field}: must be a string`);
  return v;
}

function decodeAllocation(x: unknown, i: number): Allocation {
  const at = `allocations.${i}`;
  if (typeof x !== "object" || x === null) fail(`${at}: must be an object`);
  const e = x as Record<string, unknown>;
  const networkName = optString(e.networkName, `${at}.networkName`);
  const containerId = optString(e.containerID, `${at}.containerID`);
  const ifName = optString(e.ifName, `${at}.ifName`);
  if (!networkName || !containerId || !ifName) fail(`${at}: networkName, containerID and ifName are required`);
  const raw = optString(e.ipv4, `${at}.ipv4`) ?? optString(e.ipv6, `${at}.ipv6`);
  const address = raw ? canonicalIp(raw) : undefined;
  if (!address) fail(`${at}: ipv4 or ipv6 must be an address`);
  const ts = e.allocationTimestamp;
  if (typeof ts !== "string" || !/^\d+$/.test(ts)) fail(`${at}.allocationTimestamp: must be an integer`);
  const meta = (typeof e.metadata === "object" && e.metadata !== null ? e.metadata : {}) as Record<string, unknown>;
  const a: Allocation = { networkName, containerId, ifName, address, allocatedAtNs: BigInt(ts), restored: true };
  const ns = optString(meta.k8sPodNamespace, `${at}.metadata.k8sPodNamespace`);
  const name = optString(meta.k8sPodName, `${at}.metadata.k8sPodName`);
  if (ns !== undefined) a.podNamespace = ns;
  if (name !== undefined) a.podName = name;
  if (typeof meta.interfacesCount === "number") a.interfacesCount = meta.interfacesCount;
  const veth = optString(e.hostVeth, `${at}.hostVeth`);
  const netns = optString(e.netns, `${at}.netns`);
  if (veth !== undefined) a.hostVeth = veth;
  if (netns !== undefined) a.netns = netns;
  if (typeof e.routeTable === "number") a.routeTable = e.routeTable;
  return a;
}

function list(doc: Record<string, unknown>, key: string): unknown[] {
  const v = doc[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail(`${key}: must be an array`);
  return v;
}

export function decodeCheckpoint(text: string): DecodedCheckpoint {
  if (text.trim() === "") fail("the file is empty");
  let doc: unknown;
  try {
    // Timestamps become strings before parsing so no digit is lost.
    doc = JSON.parse(text.replace(/("allocationTimestamp"\s*:\s*)(\d+)/g, '$1"$2"'));
  } catch (err) {
    fail(`not valid JSON (truncated?): ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) fail("must be a JSON object");
  const d = doc as Record<string, unknown>;
  if (d.version !== CHECKPOINT_VERSION) fail(`version: ${JSON.stringify(d.version)} is not ${CHECKPOINT_VERSION}`);
  const allocations = new Map<string, Allocation>();
  const owners = new Map<string, string>();
  const carried = new Map<string, Reserved>();
  list(d, "allocations").forEach((x, i) => {
    const a = decodeAllocation(x, i);
    if (isReservationEntry(a)) {
      // A reservation carried in an upstream entry (also after upstream rewrote the file).
      carried.set(a.address, reservationFromEntry(a));
      return;
    }
    const other = owners.get(a.address);
    if (other !== undefined && other !== keyOf(a)) fail(`allocations.${i}: ${a.address} is also held by ${other}`);
    owners.set(a.address, keyOf(a));
    allocations.set(keyOf(a), a);
  });
  const cooling = new Map<string, Cooling>();
  list(d, "cooling").forEach((x, i) => {
    const c = x as { ip?: unknown; releasedAt?: unknown; until?: unknown };
    const ip = typeof c.ip === "string" ? canonicalIp(c.ip) : undefined;
    if (!ip || typeof c.until !== "number" || typeof c.releasedAt !== "number") fail(`cooling.${i}: must be {ip, releasedAt, until}`);
    cooling.set(ip, { address: ip, releasedAt: c.releasedAt, until: c.until });
  });
  // The project's own list says more (why, route table) when it is there.
  const reserved = new Map<string, Reserved>(carried);
  list(d, "reserved").forEach((x, i) => {
    const r = x as Partial<Reserved>;
    const ip = typeof r.address === "string" ? canonicalIp(r.address) : undefined;
    if (!ip || typeof r.why !== "string") fail(`reserved.${i}: must be {address, why}`);
    reserved.set(ip, { ...r, address: ip, why: r.why });
  });
  const drained = new Map<string, number>();
  list(d, "drained").forEach((x, i) => {
    const r = x as { cidr?: unknown; at?: unknown };
    if (typeof r.cidr !== "string" || !isCidr(r.cidr) || typeof r.at !== "number") fail(`drained.${i}: must be {cidr, at}`);
    drained.set(r.cidr, r.at);
  });
  const state: BrokerState = allocations.size + cooling.size + reserved.size + drained.size === 0 ? EMPTY_STATE : { allocations, cooling, reserved, drained };
  return { state, upstream: d.writer !== WRITER };
}
