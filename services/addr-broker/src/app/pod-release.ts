/**
 * Releasing addresses: CNI DEL (idempotent, best effort), CNI GC (everything of the
 * network not in the runtime's valid attachments), and the start-up sweep (assignments
 * restored from the checkpoint whose pod's host veth is gone). Kernel leftovers are
 * removed through net-config; a net-config failure never blocks the release, because
 * net-config reconciles the kernel against listAssignments anyway. With network policy on,
 * DEL tells the policy agent to forget the pod beside the unwire (app/pod-policy.ts).
 */
import { hostVethName } from "../../../../shared/naming.ts";
import { CniCode, CniError } from "../core/cni-error.ts";
import type { CniRequest } from "../core/cni-request.ts";
import { findAllocation, keyOf, release, releaseReserved, type Allocation, type BrokerState, type PodKey } from "../core/state.ts";
import { checkpointError, vethPrefixFor, wiringFor, type PodDeps } from "./pod-add.ts";
import type { Trace } from "./cni-timings.ts";
import { cardHostVeth, delCardInterfaces, releaseGoneCardPods } from "./pod-cards.ts";
import { forgetDeletedPod } from "./pod-policy.ts";

type DelRequest = Extract<CniRequest, { command: "DEL" }> & { callerPid?: number | undefined; trace?: Trace | undefined };
type GcRequest = Extract<CniRequest, { command: "GC" }>;

async function unwireQuietly(d: PodDeps, a: Allocation, netns: string, why: string, netnsPid?: number): Promise<string | undefined> {
  try {
    await d.netConfig.unwire(wiringFor(d.broker, a, netns, netnsPid));
    return undefined;
  } catch (err) {
    const msg = `${keyOf(a)} (${a.address}): ${err instanceof Error ? err.message : String(err)}`;
    d.broker.log.warn({ err: msg, why }, "net-config could not unwire; released anyway (net-config reconciles from the assignments)");
    return msg;
  }
}

export async function delPod(d: PodDeps, req: DelRequest): Promise<void> {
  const { broker } = d;
  const k: PodKey = { networkName: req.conf.name, containerId: req.containerId, ifName: req.ifName };
  // Upstream counts every DEL request the plugin sends, with reason "PodDeleted".
  d.metrics?.delRequests.inc({ reason: "PodDeleted" });
  const found = findAllocation(broker.state, k);
  // A multi-homed pod's interfaces on other network cards (also when card 0's address is already gone).
  if (d.cards) {
    const base = wiringFor(broker, found ?? { ...k, address: "0.0.0.0", allocatedAtNs: 0n }, req.netns, req.callerPid);
    if (found === undefined || found.podName === undefined) {
      if (req.args.podNamespace) base.podNamespace = req.args.podNamespace;
      if (req.args.podName) base.podName = req.args.podName;
    }
    await delCardInterfaces(d, k, base).catch((err) => {
      throw checkpointError(broker, err);
    });
  }
  if (!found) {
    // An address rebuilt from the kernel has no known owner; the pod's veth name identifies it.
    const veth = hostVethName(vethPrefixFor(broker, req.conf), { namespace: req.args.podNamespace, name: req.args.podName, containerId: req.containerId, ifName: req.ifName });
    const reserved = [...broker.state.reserved.values()].find((r) => r.hostVeth === veth);
    if (!reserved) return; // Already gone: DEL succeeds.
    await unwireQuietly(d, { ...k, address: reserved.address, allocatedAtNs: 0n, routeTable: reserved.routeTable, hostVeth: veth }, req.netns, "del", req.callerPid);
    await broker.serial(() => broker.commit(releaseReserved(broker.state, reserved.address, broker.now(), broker.cooldownMs))).catch((err) => {
      throw checkpointError(broker, err);
    });
    broker.decide("released reserved", { key: keyOf(k), address: reserved.address });
    clearAnnotation(d, req, reserved.address);
    return;
  }
  const pod = { ...found };
  if (req.args.podNamespace) pod.podNamespace = req.args.podNamespace;
  if (req.args.podName) pod.podName = req.args.podName;
  const unwired = unwireQuietly(d, pod, req.netns, "del", req.callerPid).then(() => req.trace?.mark("unwired"));
  // The agent forgets the pod beside the unwire (its rules name the veth; the pod's containers are already stopped).
  const forgotten = forgetDeletedPod(d, { namespace: pod.podNamespace, name: pod.podName }).then(() => req.trace?.mark("policy"));
  // The address may go to another pod only once this unwire has settled (done, failed or timed
  // out): its rule and route deletions must not meet the next pod's. So the release is written
  // while net-config unwires with the address cooling for at least the call's timeout (the
  // default cooldown, 30 s, is longer already); once the unwire has settled, a shorter
  // configured cooldown takes over in memory (the next write carries it; a crash before
  // leaves the longer one on disk, which only keeps the address out longer).
  const hold = Math.max(broker.cooldownMs, d.netConfig.callTimeoutMs);
  const { released, durable, releasedAt } = await broker.serial(() => {
    const now = broker.now();
    const r = release(broker.state, k, now, hold);
    return { released: r.released, releasedAt: now, durable: r.released ? broker.apply(r.state) : broker.whenDurable() };
  });
  const written = durable.then(() => req.trace?.mark("durable"));
  await unwired;
  await written.catch(async (err) => {
    await forgotten;
    throw checkpointError(broker, err);
  });
  if (released && hold > broker.cooldownMs) broker.settleCooling(released.address, releasedAt, broker.cooldownMs);
  if (released) {
    broker.decide("released", { key: keyOf(k), address: released.address, cooldownSeconds: broker.settings.cooldownSeconds });
    clearAnnotation(d, req, released.address);
  }
  await forgotten;
}

/** ANNOTATE_POD_IP: the pod's vpc.amazonaws.com/pod-ips is set to "" once its address is released (queued, off the DEL's path). */
function clearAnnotation(d: PodDeps, req: DelRequest, address: string): void {
  if (d.podAnnotator && req.args.podNamespace && req.args.podName) d.podAnnotator.clear(req.args.podNamespace, req.args.podName, address);
}

/** Releases `stale` (still present and not in flight) in one write; net-config removes their leftovers first. */
export async function releaseMany(d: PodDeps, stale: Allocation[], reason: string, stillStale: (a: Allocation, s: BrokerState) => boolean): Promise<{ released: number; errors: string[] }> {
  const { broker } = d;
  const errors: string[] = [];
  for (const a of stale) {
    const e = await unwireQuietly(d, a, "", reason);
    if (e) errors.push(e);
  }
  const released = await broker.serial(async () => {
    let s = broker.state;
    let n = 0;
    for (const a of stale) {
      if (broker.isInFlight(keyOf(a)) || !stillStale(a, s)) continue;
      const r = release(s, a, broker.now(), broker.cooldownMs);
      if (r.released) n++;
      s = r.state;
    }
    if (n > 0) await broker.commit(s);
    return n;
  });
  for (let i = 0; i < released; i++) d.metrics?.delRequests.inc({ reason });
  return { released, errors };
}

export async function gcPods(d: PodDeps, req: GcRequest): Promise<{ released: number; errors: string[] }> {
  const { broker } = d;
  if (!req.validAttachments) {
    broker.decide("gc skipped", { why: "no cni.dev/valid-attachments in the request" });
    return { released: 0, errors: [] };
  }
  const valid = new Set(req.validAttachments.map((a) => keyOf({ networkName: req.conf.name, ...a })));
  const stale = broker.allocations().filter((a) => a.networkName === req.conf.name && !valid.has(keyOf(a)) && !broker.isInFlight(keyOf(a)));
  const r = await releaseMany(d, stale, "gc", (a, s) => s.allocations.get(keyOf(a))?.address === a.address).catch((err) => {
    throw new CniError(CniCode.IO_FAILURE, checkpointError(broker, err).message);
  });
  await releaseGoneCardPods(d, (c) => c.alloc.networkName === req.conf.name && !valid.has(keyOf(c.alloc))).catch((err) => {
    throw new CniError(CniCode.IO_FAILURE, `network card checkpoint: ${err instanceof Error ? err.message : String(err)}`);
  });
  broker.decide("gc", { valid: valid.size, released: r.released, errors: r.errors.length });
  return r;
}

/**
 * Start-up sweep: assignments restored from the checkpoint (not touched by this run) and
 * kernel-rebuilt reservations whose host veth is gone are released into cooldown.
 * Returns undefined when the node's veths cannot be listed right now (try again later).
 */
export async function sweepGonePods(d: PodDeps): Promise<{ released: number } | undefined> {
  const { broker } = d;
  const restored = broker.allocations().filter((a) => a.restored);
  const reserved = [...broker.state.reserved.values()];
  const restoredCards = (d.cards?.all() ?? []).filter((c) => c.alloc.restored);
  if (restored.length === 0 && reserved.length === 0 && restoredCards.length === 0) return { released: 0 };
  const veths = await d.netConfig.hostVeths();
  if (!veths) return undefined;
  const prefix = broker.settings.vethPrefix;
  // A multi-homed pod's card addresses go with their interface's veth.
  const cardsReleased = await releaseGoneCardPods(d, (c) => c.alloc.restored === true && !veths.has(cardHostVeth(prefix, c)));
  const vethOf = (a: Allocation) => a.hostVeth ?? hostVethName(prefix, { namespace: a.podNamespace, name: a.podName, containerId: a.containerId, ifName: a.ifName });
  const gone = restored.filter((a) => !veths.has(vethOf(a)));
  const r = await releaseMany(d, gone, "sweep", (a, s) => s.allocations.get(keyOf(a))?.restored === true);
  // A reservation without a veth has no pod behind it: release it too.
  const goneReserved = reserved.filter((x) => !x.hostVeth || !veths.has(x.hostVeth));
  if (goneReserved.length > 0) {
    await broker.serial(async () => {
      let s = broker.state;
      for (const x of goneReserved) s = releaseReserved(s, x.address, broker.now(), broker.cooldownMs);
      await broker.commit(s);
    });
  }
  const released = r.released + goneReserved.length + cardsReleased;
  broker.decide("start-up sweep", { restored: restored.length, reserved: reserved.length, released, errors: r.errors });
  broker.log.info({ released, checked: restored.length + reserved.length }, "start-up sweep done");
  return { released };
}
