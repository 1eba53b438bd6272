/**
 * The `egress-cni` plugin of the chain (shared/egress.ts), served by addr-broker: the shim
 * installed under that name forwards it here like any CNI call. addr-broker keeps who holds
 * which egress address (its own file beside the checkpoint, written before an ADD is
 * answered) and asks net-config for the interface and SNAT. ADD passes the previous
 * result through with the egress pair's two interfaces added; DEL undoes all of it.
 */
import type { CniOutcome } from "../../../../shared/contracts/cni.ts";
import type { EgressWiring } from "../../../../shared/contracts/egress.ts";
import type { CheckpointStore } from "../adapters/checkpoint-store.ts";
import { CniCode, CniError } from "../core/cni-error.ts";
import type { CniRequest } from "../core/cni-request.ts";
import {
  EMPTY_EGRESS, decodeEgress, egressCapacity, egressKey, encodeEgress, nextEgressAddress, parseEgressConf, withEgress, withoutEgress,
  type EgressAllocation, type EgressState,
} from "../core/egress-pool.ts";
import type { Log } from "../core/ports.ts";
import { egressRange } from "../../../../shared/egress.ts";
import { peerError } from "./pod-add.ts";
import { RecordBook } from "./record-book.ts";

export interface EgressNetPort {
  wire(w: EgressWiring): Promise<{ hostVeth: string; hostMac: string; podIf: string; podMac: string }>;
  unwire(w: Pick<EgressWiring, "network" | "containerId" | "ifName" | "address"> & { netns: string; netnsPid?: number; hostVeth?: string }): Promise<{ removed: string[] }>;
  check(w: EgressWiring & { hostVeth: string }): Promise<{ ok: boolean; problems: string[] }>;
}

/** The egress allocations and their file (app/record-book.ts). */
export class EgressBook extends RecordBook<EgressState> {
  constructor(store: CheckpointStore, log: Log) {
    super(store, log, { what: "egress allocations", empty: EMPTY_EGRESS, decode: decodeEgress, encode: encodeEgress });
  }
}

export interface EgressDeps {
  book: EgressBook;
  net: EgressNetPort;
  netConfigSocket: string;
  log: Log;
}

type PodReq = Extract<CniRequest, { command: "ADD" | "DEL" | "CHECK" }> & { callerPid?: number | undefined };
type GcReq = Extract<CniRequest, { command: "GC" }>;

const ok = (stdout = ""): CniOutcome => ({ exitCode: 0, stdout, stderr: "" });

function ioError(book: EgressBook, err: unknown): CniError {
  return new CniError(CniCode.IO_FAILURE, `egress allocations: cannot write ${book.store.location}: ${err instanceof Error ? err.message : String(err)}`);
}

async function add(d: EgressDeps, req: PodReq): Promise<CniOutcome> {
  const conf = parseEgressConf(req.conf.raw);
  const prev = req.conf.prevResult;
  if (prev === undefined || typeof prev !== "object" || prev === null) throw new CniError(CniCode.INVALID_NETWORK_CONFIG, "prevResult: must be called as a chained plugin");
  if (!conf.enabled) return ok(JSON.stringify(prev));
  const k = { network: req.conf.name, containerId: req.containerId, ifName: req.ifName };
  const alloc = await d.book
    .change((s) => {
      const had = s.allocations.get(egressKey(k));
      if (had) return { value: had };
      const address = nextEgressAddress(s, conf.family);
      if (!address) {
        throw new CniError(CniCode.TRY_AGAIN_LATER, `no egress address left in ${egressRange(conf.family).subnet}: all ${egressCapacity(conf.family)} are held by pods`);
      }
      const a: EgressAllocation = { ...k, address, netns: req.netns };
      return { next: withEgress(s, a), value: a };
    })
    .catch((err) => {
      throw err instanceof CniError ? err : ioError(d.book, err);
    });
  const wiring: EgressWiring = { ...k, netns: req.netns, address: alloc.address, nodeIp: conf.nodeIp, mtu: conf.mtu, randomizeSnat: conf.randomizeSnat };
  if (req.callerPid !== undefined) wiring.netnsPid = req.callerPid;
  let wired;
  try {
    wired = await d.net.wire(wiring);
  } catch (err) {
    // Release the address to avoid a leak, as upstream's plugin does on a failed ADD.
    await d.book.change((s) => ({ next: withoutEgress(s, egressKey(k)), value: undefined })).catch(() => undefined);
    throw peerError("wire the egress interface", d.netConfigSocket, err);
  }
  await d.book.change((s) => ({ next: withEgress(s, { ...alloc, hostVeth: wired.hostVeth, netns: req.netns }), value: undefined })).catch((err) => d.log.warn({ err: String(err) }, "egress: host veth not recorded"));
  const result = { ...(prev as Record<string, unknown>) };
  const interfaces = Array.isArray(result.interfaces) ? [...(result.interfaces as unknown[])] : [];
  interfaces.push({ name: wired.hostVeth, mac: wired.hostMac }, { name: wired.podIf, mac: wired.podMac, sandbox: req.netns });
  result.interfaces = interfaces;
  result.cniVersion = req.conf.cniVersion;
  return ok(JSON.stringify(result));
}

async function release(d: EgressDeps, a: EgressAllocation, netns: string, callerPid?: number): Promise<void> {
  const w: Parameters<EgressNetPort["unwire"]>[0] = { network: a.network, containerId: a.containerId, ifName: a.ifName, address: a.address, netns };
  if (a.hostVeth) w.hostVeth = a.hostVeth;
  if (callerPid !== undefined && netns !== "") w.netnsPid = callerPid;
  try {
    await d.net.unwire(w);
  } catch (err) {
    // Kept: the runtime retries DEL, and the SNAT chain must not outlive the address.
    throw peerError("remove the egress interface", d.netConfigSocket, err);
  }
  await d.book.change((s) => ({ next: withoutEgress(s, egressKey(a)), value: undefined })).catch((err) => {
    throw ioError(d.book, err);
  });
}

async function del(d: EgressDeps, req: PodReq): Promise<CniOutcome> {
  if (!parseEgressConf(req.conf.raw).enabled) return ok();
  await d.book.load();
  const a = d.book.state.allocations.get(egressKey({ network: req.conf.name, containerId: req.containerId, ifName: req.ifName }));
  if (a) await release(d, a, req.netns, req.callerPid);
  return ok();
}

async function check(d: EgressDeps, req: PodReq): Promise<CniOutcome> {
  const conf = parseEgressConf(req.conf.raw);
  if (!conf.enabled) return ok();
  await d.book.load();
  const a = d.book.state.allocations.get(egressKey({ network: req.conf.name, containerId: req.containerId, ifName: req.ifName }));
  if (!a) throw new CniError(CniCode.UNKNOWN_CONTAINER, `CNI_CONTAINERID: ${req.containerId} has no egress address on network ${req.conf.name}`);
  if (!a.hostVeth) throw new CniError(CniCode.CHECK_FAILED, `CHECK failed for ${req.containerId}: its egress interface was never wired`);
  const w: EgressWiring & { hostVeth: string } = { network: a.network, containerId: a.containerId, ifName: a.ifName, netns: req.netns, address: a.address, nodeIp: conf.nodeIp, mtu: conf.mtu, randomizeSnat: conf.randomizeSnat, hostVeth: a.hostVeth };
  if (req.callerPid !== undefined) w.netnsPid = req.callerPid;
  let r;
  try {
    r = await d.net.check(w);
  } catch (err) {
    throw peerError("check the egress interface", d.netConfigSocket, err);
  }
  if (!r.ok) throw new CniError(CniCode.CHECK_FAILED, `CHECK failed for ${req.containerId} (egress): ${r.problems.join("; ")}`);
  return ok();
}

/** GC: every egress allocation of the network that is not a valid attachment any more goes. */
async function gc(d: EgressDeps, req: GcReq): Promise<CniOutcome> {
  if (req.validAttachments === undefined) return ok();
  await d.book.load();
  const valid = new Set(req.validAttachments.map((x) => egressKey({ network: req.conf.name, containerId: x.containerId, ifName: x.ifName })));
  const errors: string[] = [];
  for (const a of d.book.state.allocations.values()) {
    if (a.network !== req.conf.name || valid.has(egressKey(a))) continue;
    try {
      await release(d, a, "");
    } catch (err) {
      errors.push(`${a.containerId}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { exitCode: 0, stdout: "", stderr: errors.length ? `GC (egress): ${errors.join("; ")}\n` : "" };
}

export async function runEgressCommand(d: EgressDeps, req: CniRequest & { callerPid?: number | undefined }): Promise<CniOutcome> {
  switch (req.command) {
    case "ADD":
      return add(d, req);
    case "DEL":
      return del(d, req);
    case "CHECK":
      return check(d, req);
    case "GC":
      return gc(d, req);
    case "STATUS":
    case "VERSION":
      return ok();
  }
}
