/**
 * Security groups for pods (ENABLE_POD_ENI): pods whose containers[0] asks for
 * `vpc.amazonaws.com/pod-eni` get the branch ENI the VPC resource controller annotated them
 * with, carried over the trunk ENI as a VLAN, instead of an address from the pool (upstream's
 * AddNetwork / DelNetwork and the plugin's branch path). Differences from upstream:
 * - an ADD whose pod is not annotated yet waits for the annotation (watching the pod, for as
 *   long as an ADD waits for a free address) instead of failing at once;
 * - addr-broker keeps its own record of branch pods (`<run dir>/branch-pods.json`, written
 *   before the ADD is answered): CHECK, DEL without prevResult, net-config's reconcile and a
 *   restart find them there, not in the pool's checkpoint, which never holds them.
 */
import type { BranchUnwiring, BranchWiring } from "../../../../shared/contracts/branch.ts";
import type { CapacitySnapshot } from "../../../../shared/contracts/capacity.ts";
import { CniCode, CniError } from "../core/cni-error.ts";
import type { CniRequest } from "../core/cni-request.ts";
import { buildAddResult, parsePrevResult, prevResultProblems, type CniResult } from "../core/cni-result.ts";
import type { Log } from "../core/ports.ts";
import {
  POD_ENI_ANNOTATION, branchAddress, branchGateway, dummyInterfaceName, parsePodEniAnnotation, requestsPodEni, vlanIdFromPrevResult, type PodView,
} from "../core/pod-eni.ts";
import type { PodReaderPort } from "../adapters/pod-reader.ts";
import type { CheckpointStore } from "../adapters/checkpoint-store.ts";
import { RecordBook } from "./record-book.ts";
import { peerError } from "./pod-add.ts";

export interface BranchNetPort {
  wire(w: BranchWiring): Promise<{ hostVeth: string; hostMac: string; podMac: string; podIfIndex: number }>;
  unwire(w: BranchUnwiring): Promise<{ removed: string[] }>;
  check(w: BranchWiring): Promise<{ ok: boolean; problems: string[] }>;
}

/** A wired branch pod: what its wiring was made from. */
export interface BranchPod extends BranchWiring {
  networkName: string;
  eniId: string;
  hostVeth?: string;
  podUid?: string;
}

export interface BranchState {
  pods: Map<string, BranchPod>;
}

const keyOf = (p: { networkName: string; containerId: string; ifName: string }) => `${p.networkName}/${p.containerId}/${p.ifName}`;

export class BranchBook extends RecordBook<BranchState> {
  constructor(store: CheckpointStore, log: Log) {
    super(store, log, {
      what: "branch-ENI pods",
      empty: { pods: new Map() },
      decode: (text) => {
        const o = JSON.parse(text) as { version?: unknown; pods?: BranchPod[] };
        if (o.version !== 1 || !Array.isArray(o.pods)) throw new Error("not a branch-pods/1 file");
        return { pods: new Map(o.pods.map((p) => [keyOf(p), p])) };
      },
      encode: (s) => JSON.stringify({ version: 1, pods: [...s.pods.values()] }),
    });
  }
}

export interface BranchDeps {
  book: BranchBook;
  pods: PodReaderPort;
  net: BranchNetPort;
  log: Log;
  family: "ipv4" | "ipv6";
  /** POD_SECURITY_GROUP_ENFORCING_MODE, used when the conflist names no podSGEnforcingMode. */
  enforcingMode: "strict" | "standard";
  /** How long an ADD waits for the pod's annotation (the address-miss wait). */
  waitMs: number;
  capacity: () => CapacitySnapshot | undefined;
  netConfigSocket: string;
}

type PodReq = Extract<CniRequest, { command: "ADD" | "DEL" | "CHECK" }> & { callerPid?: number | undefined };

function modeOf(d: BranchDeps, req: PodReq): "strict" | "standard" {
  const m = req.conf.plugin.podSgEnforcingMode;
  if (m === undefined || m === "") return d.enforcingMode;
  if (m !== "strict" && m !== "standard") throw new CniError(CniCode.INVALID_NETWORK_CONFIG, `podSGEnforcingMode: ${JSON.stringify(m)} must be strict or standard`);
  return m;
}

async function readPod(d: BranchDeps, ns: string, name: string): Promise<PodView> {
  let pod: PodView | undefined;
  try {
    pod = await d.pods.get(ns, name);
  } catch (err) {
    throw new CniError(CniCode.TRY_AGAIN_LATER, `security groups for pods: cannot read pod ${ns}/${name} from the Kubernetes API: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!pod) throw new CniError(CniCode.TRY_AGAIN_LATER, `security groups for pods: pod ${ns}/${name} is not in the Kubernetes API`);
  return pod;
}

const annotated = (p: PodView) => (p.annotations[POD_ENI_ANNOTATION] ?? "") !== "";

/** ADD: the branch pod's result, or undefined when the pod asks for no branch ENI (an ordinary ADD follows). */
/** A wired branch-ENI pod: the ADD's answer and what the policy agent is told of it. */
export interface BranchAdded {
  result: CniResult;
  hostVeth: string;
  address: string;
}

export async function addBranchPod(d: BranchDeps, req: Extract<PodReq, { command: "ADD" }>): Promise<BranchAdded | undefined> {
  const { podNamespace: ns, podName: name } = req.args;
  if (!ns || !name) return undefined;
  let pod = await readPod(d, ns, name);
  if (!requestsPodEni(pod)) return undefined;
  const mode = modeOf(d, req);
  if (!annotated(pod)) {
    d.log.info({ pod: `${ns}/${name}`, waitMs: d.waitMs }, `waiting for the VPC resource controller's ${POD_ENI_ANNOTATION} annotation`);
    pod = (await d.pods.waitFor(ns, name, annotated, d.waitMs).catch(() => undefined)) ?? pod;
    if (!annotated(pod)) throw new CniError(CniCode.TRY_AGAIN_LATER, `annotation ${POD_ENI_ANNOTATION}: pod ${ns}/${name} asks for a branch ENI but was not annotated within ${d.waitMs} ms`);
  }
  const eni = parsePodEniAnnotation(pod.annotations[POD_ENI_ANNOTATION]!, d.family);
  const trunk = d.capacity()?.enis.find((e) => e.trunk);
  if (!trunk) throw new CniError(CniCode.TRY_AGAIN_LATER, `security groups for pods: no trunk ENI is attached to this node yet (pod ${ns}/${name} needs one)`);
  const wiring: BranchWiring = {
    containerId: req.containerId, ifName: req.ifName, netns: req.netns, podNamespace: ns, podName: name,
    address: branchAddress(eni, d.family), vlanId: eni.vlanId, branchMac: eni.ifAddress, trunkMac: trunk.mac,
    subnetGateway: branchGateway(eni, d.family), enforcingMode: mode,
    ...(req.callerPid !== undefined ? { netnsPid: req.callerPid } : {}),
    ...(req.conf.plugin.mtu !== undefined ? { mtu: req.conf.plugin.mtu } : {}),
    ...(mode === "standard" && req.conf.plugin.vethPrefix !== undefined ? { vethPrefix: req.conf.plugin.vethPrefix } : {}),
  };
  const record: BranchPod = { ...wiring, networkName: req.conf.name, eniId: eni.eniId, ...(pod.uid ? { podUid: pod.uid } : {}) };
  delete record.netnsPid;
  const k = keyOf(record);
  // On disk before the kernel is touched: a crash in between leaves a record reconcile and DEL can act on.
  await d.book.change((s) => ({ next: { pods: new Map(s.pods).set(k, record) }, value: undefined })).catch((err) => {
    throw new CniError(CniCode.IO_FAILURE, `branch-ENI pods: cannot write ${d.book.store.location}: ${err instanceof Error ? err.message : String(err)}`);
  });
  let wired;
  try {
    wired = await d.net.wire(wiring);
  } catch (err) {
    await d.book.change((s) => ({ next: withoutPod(s, k), value: undefined })).catch(() => undefined);
    throw peerError("wire the branch-ENI pod", d.netConfigSocket, err);
  }
  await d.book.change((s) => ({ next: { pods: new Map(s.pods).set(k, { ...record, hostVeth: wired.hostVeth }) }, value: undefined })).catch(() => undefined);
  d.log.info({ pod: `${ns}/${name}`, eniId: eni.eniId, vlanId: eni.vlanId, address: wiring.address, mode }, "branch-ENI pod wired");
  const result = buildAddResult(req.conf.cniVersion, { address: wiring.address, hostVeth: wired.hostVeth, hostMac: wired.hostMac, ifName: req.ifName, podMac: wired.podMac, netns: req.netns }, req.conf.prevResult);
  // Upstream's marker: DEL reads the VLAN id back from it, without asking anyone.
  result.interfaces.push({ name: dummyInterfaceName({ namespace: ns, name, containerId: req.containerId, ifName: req.ifName }), mac: String(eni.vlanId) });
  return { result, hostVeth: wired.hostVeth, address: wiring.address };
}

function withoutPod(s: BranchState, k: string): BranchState {
  if (!s.pods.has(k)) return s;
  const pods = new Map(s.pods);
  pods.delete(k);
  return { pods };
}

/** The pod's address and VLAN id from a prevResult carrying the dummy interface; undefined for an ordinary pod's. */
function fromPrevResult(req: PodReq): { address: string; vlanId: number } | undefined {
  if (req.conf.prevResult === undefined) return undefined;
  const prev = parsePrevResult(req.conf.prevResult);
  const dummy = dummyInterfaceName({ namespace: req.args.podNamespace, name: req.args.podName, containerId: req.containerId, ifName: req.ifName });
  const vlanId = vlanIdFromPrevResult(prev.interfaces, dummy);
  if (vlanId === undefined) return undefined;
  const podIf = prev.interfaces.findIndex((i) => i.name === req.ifName);
  const ip = prev.ips.find((i) => i.interface === podIf) ?? prev.ips[0];
  if (!ip) throw new CniError(CniCode.DECODE_FAILURE, `prevResult.ips: no address for ${req.ifName} beside VLAN ${vlanId}`);
  return { address: ip.address.split("/")[0]!, vlanId };
}

/** DEL: true when it was a branch pod (torn down, record dropped); false for an ordinary pod. */
export async function delBranchPod(d: BranchDeps, req: Extract<PodReq, { command: "DEL" }>): Promise<boolean> {
  await d.book.load();
  const k = keyOf({ networkName: req.conf.name, containerId: req.containerId, ifName: req.ifName });
  const rec = d.book.state.pods.get(k);
  const prev = fromPrevResult(req);
  if (!rec && !prev) return false;
  const target: BranchUnwiring = {
    containerId: req.containerId, ifName: req.ifName, netns: req.netns,
    ...(req.args.podNamespace ? { podNamespace: req.args.podNamespace } : {}), ...(req.args.podName ? { podName: req.args.podName } : {}),
    ...(rec ? { address: rec.address, vlanId: rec.vlanId, enforcingMode: rec.enforcingMode, ...(rec.vethPrefix ? { vethPrefix: rec.vethPrefix } : {}) } : { address: prev!.address, vlanId: prev!.vlanId }),
    ...(req.callerPid !== undefined ? { netnsPid: req.callerPid } : {}),
  };
  if (prev && rec && (prev.vlanId !== rec.vlanId || prev.address !== rec.address)) d.log.warn({ key: k, prevResult: prev, record: { vlanId: rec.vlanId, address: rec.address } }, "branch pod: prevResult and record differ; the record is torn down");
  try {
    await d.net.unwire(target);
  } catch (err) {
    throw peerError("unwire the branch-ENI pod", d.netConfigSocket, err);
  }
  await d.book.change((s) => ({ next: withoutPod(s, k), value: undefined })).catch((err) => {
    throw new CniError(CniCode.IO_FAILURE, `branch-ENI pods: cannot write ${d.book.store.location}: ${err instanceof Error ? err.message : String(err)}`);
  });
  return true;
}

/** CHECK: true when it was a branch pod (checked: throws CHECK_FAILED naming what differs); false for an ordinary pod. */
export async function checkBranchPod(d: BranchDeps, req: Extract<PodReq, { command: "CHECK" }>): Promise<boolean> {
  await d.book.load();
  const rec = d.book.state.pods.get(keyOf({ networkName: req.conf.name, containerId: req.containerId, ifName: req.ifName }));
  if (!rec) return false;
  const problems: string[] = [];
  if (rec.netns !== req.netns) problems.push(`the branch ENI was wired for netns ${rec.netns}, not ${req.netns}`);
  if (req.conf.prevResult !== undefined) problems.push(...prevResultProblems(req.conf.prevResult, { address: rec.address, ifName: req.ifName, netns: req.netns }));
  const { networkName: _n, eniId: _e, hostVeth: _h, podUid: _u, ...wiring } = rec;
  try {
    problems.push(...(await d.net.check({ ...wiring, netns: req.netns, ...(req.callerPid !== undefined ? { netnsPid: req.callerPid } : {}) })).problems);
  } catch (err) {
    throw peerError("check the branch-ENI pod", d.netConfigSocket, err);
  }
  if (problems.length > 0) throw new CniError(CniCode.CHECK_FAILED, `CHECK failed for ${req.containerId}/${req.ifName} (branch ENI ${rec.eniId}, VLAN ${rec.vlanId}): ${problems.join("; ")}`);
  return true;
}

/** What net-config's reconcile must keep and repair (listAssignments' `branch`). */
export function branchWirings(d: BranchDeps): BranchWiring[] {
  return [...d.book.state.pods.values()].map(({ networkName: _n, eniId: _e, hostVeth: _h, podUid: _u, ...w }) => w);
}

/** GC: branch pods of the network that the runtime no longer lists are torn down and forgotten. */
export async function gcBranchPods(d: BranchDeps, networkName: string, valid: Array<{ containerId: string; ifName: string }>): Promise<string[]> {
  await d.book.load();
  const keep = new Set(valid.map((a) => keyOf({ networkName, ...a })));
  const errors: string[] = [];
  for (const [k, rec] of d.book.state.pods) {
    if (rec.networkName !== networkName || keep.has(k)) continue;
    const { networkName: _n, eniId: _e, hostVeth: _h, podUid: _u, ...wiring } = rec;
    try {
      await d.net.unwire({ ...wiring, netns: "" });
      await d.book.change((s) => ({ next: withoutPod(s, k), value: undefined }));
    } catch (err) {
      errors.push(`${k} (branch ENI ${rec.eniId}): ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return errors;
}
