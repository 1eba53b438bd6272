// A downgrade to upstream: the file this project writes, read by a reader that follows
// upstream's ipamd (pkg/ipamd/datastore: ReadBackingStore, normalizeCheckpointDataByPodVethExistence,
// writeBackingStoreUnsafe), must list every address a live pod holds.
import { createHash } from "node:crypto";
import { describe, expect, test } from "bun:test";
import { hostVethName } from "../../../../shared/naming.ts";
import { contains, parseCidr } from "../../../../shared/ip.ts";
import { decodeCheckpoint, encodeCheckpoint } from "./checkpoint-format.ts";
import { EMPTY_STATE, release, withAllocation, type BrokerState } from "./state.ts";

interface GoEntry {
  networkName: string;
  containerID: string;
  ifName: string;
  ipv4: string;
  ipv6: string;
  allocationTimestamp: number;
  metadata: { k8sPodNamespace: string; k8sPodName: string; interfacesCount: number };
}

/** Go's encoding/json into upstream's CheckpointEntry: a field of the wrong type fails the whole restore. */
function goEntry(x: unknown): GoEntry {
  if (typeof x !== "object" || x === null || Array.isArray(x)) throw new Error("entry: not an object");
  const e = x as Record<string, unknown>;
  const s = (k: string) => {
    const v = e[k];
    if (v !== undefined && v !== null && typeof v !== "string") throw new Error(`${k}: cannot unmarshal into string`);
    return (v as string | undefined) ?? "";
  };
  const ts = e.allocationTimestamp;
  if (ts !== undefined && (typeof ts !== "number" || !Number.isInteger(ts))) throw new Error("allocationTimestamp: cannot unmarshal into int64");
  const m = (e.metadata ?? {}) as Record<string, unknown>;
  if (typeof m !== "object" || Array.isArray(m)) throw new Error("metadata: cannot unmarshal into IPAMMetadata");
  for (const k of ["k8sPodNamespace", "k8sPodName"]) if (m[k] !== undefined && typeof m[k] !== "string") throw new Error(`metadata.${k}: not a string`);
  if (m.interfacesCount !== undefined && !Number.isInteger(m.interfacesCount)) throw new Error("metadata.interfacesCount: not an int");
  return {
    networkName: s("networkName"),
    containerID: s("containerID"),
    ifName: s("ifName"),
    ipv4: s("ipv4"),
    ipv6: s("ipv6"),
    allocationTimestamp: (ts as number | undefined) ?? 0,
    metadata: { k8sPodNamespace: (m.k8sPodNamespace as string) ?? "", k8sPodName: (m.k8sPodName as string) ?? "", interfacesCount: (m.interfacesCount as number) ?? 0 },
  };
}

/** What upstream's ipamd restores: the entries it keeps, by address (IPv4 mode). */
function upstreamRestore(text: string, hostLinks: string[], eniCidrs: string[]): GoEntry[] {
  const doc = JSON.parse(text) as { version?: unknown; allocations?: unknown };
  if (doc.version !== "vpc-cni-ipam/1") throw new Error(`unexpected checkpointVersion ${String(doc.version)}`);
  const entries = ((doc.allocations as unknown[] | null) ?? []).map(goEntry);
  // normalizeCheckpointDataByPodVethExistence: an entry naming a pod needs a link ending in its hash.
  const kept = entries.filter((e) => {
    if (e.metadata.k8sPodNamespace === "" || e.metadata.k8sPodName === "") return true;
    const suffix = createHash("sha1").update(`${e.metadata.k8sPodNamespace}.${e.metadata.k8sPodName}`).digest("hex").slice(0, 11);
    return hostLinks.some((l) => l.endsWith(suffix));
  });
  const seen = new Set<string>();
  const restored: GoEntry[] = [];
  for (const e of kept) {
    if (!eniCidrs.some((c) => contains(parseCidr(c)!, e.ipv4))) continue; // "unknown IP Address - presuming stale/dead"
    if (seen.has(e.ipv4)) throw new Error("datastore: IP already in data store");
    seen.add(e.ipv4);
    restored.push(e);
  }
  return restored;
}

/** What upstream writes back after its restore: its own fields only. */
function upstreamRewrite(restored: GoEntry[]): string {
  const allocations = restored.map((e) => ({ networkName: e.networkName, containerID: e.containerID, ifName: e.ifName, ipv4: e.ipv4, allocationTimestamp: e.allocationTimestamp, metadata: e.metadata }));
  return JSON.stringify({ version: "vpc-cni-ipam/1", allocations });
}

const ENI_CIDRS = ["10.0.1.0/24"];
const pod = (name: string) => ({ networkName: "aws-cni", containerId: `c-${name}`, ifName: "eth0", podNamespace: "default", podName: name });
const veth = (name: string) => hostVethName("eni", { namespace: "default", name, containerId: `c-${name}`, ifName: "eth0" });

/** Two assigned pods, one cooling address, two reservations (one with its veth known, one by address only). */
function nodeState(): BrokerState {
  let s = withAllocation(EMPTY_STATE, { ...pod("web"), address: "10.0.1.5", allocatedAtNs: 1718000000123456789n, hostVeth: veth("web") });
  s = withAllocation(s, { ...pod("db"), address: "10.0.1.6", allocatedAtNs: 1718000000223456789n, hostVeth: veth("db") });
  s = withAllocation(s, { ...pod("gone"), address: "10.0.1.7", allocatedAtNs: 1718000000323456789n });
  s = release(s, pod("gone"), 1_700_000_000_000, 30_000).state;
  const reserved = new Map([
    ["10.0.1.8", { address: "10.0.1.8", hostVeth: "eni0123456789a", routeTable: 2, why: "rebuilt from the kernel" }],
    ["10.0.1.9", { address: "10.0.1.9", why: "rebuilt from the kernel" }],
  ]);
  return { ...s, reserved };
}

describe("the checkpoint after a downgrade to upstream", () => {
  const links = [veth("web"), veth("db"), "eni0123456789a", "eth0", "lo"];

  test("upstream's reader lists every live pod's address: assigned and reserved; not the cooling one", () => {
    const restored = upstreamRestore(encodeCheckpoint(nodeState()), links, ENI_CIDRS);
    expect(restored.map((e) => e.ipv4).sort()).toEqual(["10.0.1.5", "10.0.1.6", "10.0.1.8", "10.0.1.9"]);
    // Every entry has a key upstream can hold it under, and exact timestamps for real pods.
    for (const e of restored) expect(e.containerID !== "" && e.ifName !== "" && e.networkName !== "").toBe(true);
  });

  test("before this change the reservations were invisible to upstream (the file without them lists only the assigned pods)", () => {
    // The same state with the reservations dropped: what upstream saw of it before.
    const withoutReservations = { ...nodeState(), reserved: new Map() };
    expect(upstreamRestore(encodeCheckpoint(withoutReservations), links, ENI_CIDRS).map((e) => e.ipv4).sort()).toEqual(["10.0.1.5", "10.0.1.6"]);
  });

  test("read back here, a reservation's entry is a reservation again, not an assignment", () => {
    const back = decodeCheckpoint(encodeCheckpoint(nodeState())).state;
    expect([...back.allocations.values()].map((a) => a.address).sort()).toEqual(["10.0.1.5", "10.0.1.6"]);
    expect([...back.reserved.values()]).toEqual([...nodeState().reserved.values()]);
    expect([...back.cooling.keys()]).toEqual(["10.0.1.7"]);
  });

  test("and after upstream rewrote the file (a downgrade, then an upgrade again), with the veth it was known by", () => {
    const rewritten = upstreamRewrite(upstreamRestore(encodeCheckpoint(nodeState()), links, ENI_CIDRS));
    const d = decodeCheckpoint(rewritten);
    expect(d.upstream).toBe(true);
    expect([...d.state.allocations.values()].map((a) => a.address).sort()).toEqual(["10.0.1.5", "10.0.1.6"]);
    expect([...d.state.reserved.values()].map((r) => [r.address, r.hostVeth])).toEqual([
      ["10.0.1.8", "eni0123456789a"],
      ["10.0.1.9", undefined],
    ]);
  });
});
