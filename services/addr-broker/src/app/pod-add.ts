/**
 * CNI ADD: assign (serialised), then wire through net-config while the checkpoint write
 * carrying the assignment is in flight (concurrently with other pods) and, with network
 * policy on, while the policy agent is told of the pod (app/pod-policy.ts: its rules match
 * the host veth by name, so they may be in the kernel before the veth is); answer once all
 * have settled: no address reaches the runtime before it is on disk. A retried ADD for
 * the same (network, container, ifname) gets the same address. If wiring fails the
 * address is released before the error is returned; if the write fails the wiring is
 * undone; either way (and when strict's agent refuses) the agent forgets a pod it was told
 * of. A crash between the steps leaves at most a veth the checkpoint does not know:
 * net-config's reconcile removes veths, routes and rules no assignment names, the agent's
 * reconcile forgets pods no assignment names, and the runtime, which got no answer,
 * retries or DELs.
 */
import { hostVethName, vethPrefixOf } from "../../../../shared/naming.ts";
import type { PodWiring } from "../../../../shared/contracts/netconfig.ts";
import type { Broker } from "./broker.ts";
import { isMiss, pickAddress, type Miss } from "../core/assign.ts";
import { CniCode, CniError } from "../core/cni-error.ts";
import type { CniRequest } from "../core/cni-request.ts";
import { buildAddResult, parsePrevResult, type CniResult } from "../core/cni-result.ts";
import { findAllocation, keyOf, release, withAllocation, type Allocation, type PodKey } from "../core/state.ts";
import type { BrokerMetrics } from "./metrics.ts";
import { isUnreachable, type NetConfigPort } from "../core/ports.ts";
import type { Trace } from "./cni-timings.ts";
import type { EgressDeps } from "./egress-cni.ts";
import type { CardLedger } from "./card-ledger.ts";
import { addCardInterfaces, delCardInterfaces, multiNicWanted } from "./pod-cards.ts";
import { enforceBranchPod, enforceNewPod, withdrawNewPod, type PodPolicyDeps } from "./pod-policy.ts";
import { addBranchPod, type BranchDeps } from "./branch-pods.ts";

export interface PodDeps {
  broker: Broker;
  netConfig: NetConfigPort;
  netnsExists: (path: string) => boolean;
  metrics?: BrokerMetrics;
  /** ANNOTATE_POD_IP: told of each successful ADD after the answer is built (queues, never blocks or throws). */
  podAnnotator?: { annotate(namespace: string, name: string, ip: string): void; clear(namespace: string, name: string, releasedIp: string): void };
  /** egress-cni (app/egress-cni.ts): absent when the node does not serve it. */
  egress?: EgressDeps;
  /** ENABLE_MULTI_NIC: multi-homed pods' addresses on cards above 0 (card-ledger.ts); absent when the option is off. */
  cards?: CardLedger;
  /** NETWORK_POLICY_ENFORCING_MODE standard or strict (app/pod-policy.ts); absent: none. */
  policy?: PodPolicyDeps;
  /** ENABLE_POD_ENI (app/branch-pods.ts): absent when security groups for pods are off. */
  branch?: BranchDeps;
}

type AddRequest = Extract<CniRequest, { command: "ADD" }> & { callerPid?: number | undefined; netnsSeenByCaller?: boolean | undefined; trace?: Trace | undefined };

export function checkpointError(broker: Broker, err: unknown): CniError {
  return new CniError(CniCode.IO_FAILURE, `checkpoint: cannot write ${broker.store.location}: ${err instanceof Error ? err.message : String(err)}; nothing was changed`);
}

export function wiringFor(broker: Broker, a: Allocation, netns: string, netnsPid?: number): PodWiring {
  const w: PodWiring = { containerId: a.containerId, ifName: a.ifName, netns, address: a.address, routeTable: broker.routeTableFor(a) };
  if (netnsPid !== undefined) w.netnsPid = netnsPid;
  if (a.podNamespace) w.podNamespace = a.podNamespace;
  if (a.podName) w.podName = a.podName;
  // The veth keeps the prefix it was named with (a conflist's vethPrefix may differ from the node's).
  const prefix = a.hostVeth !== undefined ? vethPrefixOf(a.hostVeth) : undefined;
  if (prefix !== undefined && prefix !== broker.settings.vethPrefix) w.vethPrefix = prefix;
  return w;
}

/** The host veth prefix for a request: the conflist's `vethPrefix`, else the node's setting. */
export function vethPrefixFor(broker: Broker, conf: { plugin: { vethPrefix?: string } }): string {
  return conf.plugin.vethPrefix ?? broker.settings.vethPrefix;
}

export function peerError(what: string, socket: string, err: unknown): CniError {
  const why = err instanceof Error ? err.message : String(err);
  if (isUnreachable(err)) return new CniError(CniCode.TRY_AGAIN_LATER, `net-config is not reachable at ${socket}: ${why}`);
  return new CniError(CniCode.WIRING_FAILED, `net-config could not ${what}: ${why}`);
}

/**
 * A live pod whose address was rebuilt from the kernel (corrupt checkpoint) holds only a
 * reservation keyed by its host veth. Its next CHECK or retried ADD names it again (the
 * veth derives from CNI_ARGS): the reservation becomes its allocation, same address.
 * Call under broker.serial; undefined when there is no such reservation.
 */
export function adoptReservation(
  broker: Broker,
  k: PodKey,
  req: { netns: string; conf: { plugin: { vethPrefix?: string } }; args: { podNamespace?: string; podName?: string } },
): { alloc: Allocation; durable: Promise<void> } | undefined {
  const veth = hostVethName(vethPrefixFor(broker, req.conf), { namespace: req.args.podNamespace, name: req.args.podName, containerId: k.containerId, ifName: k.ifName });
  const reserved = [...broker.state.reserved.values()].find((r) => r.hostVeth === veth);
  if (!reserved) return undefined;
  const alloc: Allocation = { ...k, address: reserved.address, allocatedAtNs: BigInt(broker.now()) * 1_000_000n, interfacesCount: 1, netns: req.netns, hostVeth: veth };
  if (reserved.routeTable !== undefined) alloc.routeTable = reserved.routeTable;
  if (req.args.podNamespace) alloc.podNamespace = req.args.podNamespace;
  if (req.args.podName) alloc.podName = req.args.podName;
  broker.decide("reservation adopted", { key: keyOf(k), address: alloc.address, why: reserved.why });
  return { alloc, durable: broker.apply(withAllocation(broker.state, alloc)) };
}

/**
 * Takes (or finds) the pod's address under the lock; throws CniError 11 on a miss. `durable`
 * resolves once the assignment is on disk (rejects when that write failed: the assignment
 * is then undone in memory too).
 */
async function assign(d: PodDeps, k: PodKey, req: AddRequest): Promise<{ alloc: Allocation; fresh: boolean; durable: Promise<void> }> {
  const { broker } = d;
  /** Set at the first miss: until then the ADD waits for capacity, trying again at every change of it. */
  let waitUntil: number | undefined;
  for (;;) {
    // Decided under the lock, written after it: concurrent ADDs share one checkpoint write.
    const got = await broker.serial((): { alloc: Allocation; fresh: boolean; durable: Promise<void>; cidr?: string } | Miss => {
      const existing = findAllocation(broker.state, k);
      if (existing) {
        // A retried ADD: same address; the netns is refreshed in memory (written with the next change).
        const refreshed = broker.updateAllocation(k, { netns: req.netns });
        return { alloc: refreshed ?? existing, fresh: false, durable: broker.whenDurable() };
      }
      const adopted = adoptReservation(broker, k, req);
      if (adopted) return { ...adopted, fresh: false };
      for (const other of broker.state.allocations.values()) {
        if (other.netns === req.netns && other.ifName === req.ifName) {
          throw new CniError(CniCode.INTERFACE_EXISTS, `CNI_IFNAME: ${req.ifName} already exists in ${req.netns} (container ${other.containerId}, network ${other.networkName})`);
        }
      }
      const now = broker.now();
      const pick = pickAddress(broker.state, broker.capacity, now, broker.settings.cooldownSeconds);
      if (isMiss(pick)) return pick;
      const alloc: Allocation = {
        ...k,
        address: pick.address,
        allocatedAtNs: BigInt(now) * 1_000_000n,
        interfacesCount: 1,
        netns: req.netns,
        routeTable: pick.routeTable,
        hostVeth: hostVethName(vethPrefixFor(broker, req.conf), { namespace: req.args.podNamespace, name: req.args.podName, containerId: k.containerId, ifName: k.ifName }),
      };
      if (req.args.podNamespace) alloc.podNamespace = req.args.podNamespace;
      if (req.args.podName) alloc.podName = req.args.podName;
      return { alloc, fresh: true, durable: broker.apply(withAllocation(broker.state, alloc)), cidr: pick.cidr };
    });
    if (!("kind" in got)) {
      if (got.fresh) broker.decide("assigned", { key: keyOf(k), address: got.alloc.address, cidr: got.cidr });
      return { alloc: got.alloc, fresh: got.fresh, durable: got.durable };
    }
    const first = waitUntil === undefined;
    waitUntil ??= performance.now() + broker.settings.missWaitMs;
    const left = waitUntil - performance.now();
    // A miss counts (and is pushed to pool-manager) when the ADD meets it and when it gives up, not at every capacity change between.
    if (first || left <= 0) {
      broker.recordMiss(keyOf(k), got);
      d.metrics?.noAvailableIp.inc();
    }
    if (left <= 0) throw new CniError(CniCode.TRY_AGAIN_LATER, got.message);
    await broker.waitForCapacity(left, first);
  }
}

/** After a failed wiring: net-config undoes its part; the address was never used by the pod, so it is free at once. */
async function undoAssignment(d: PodDeps, k: PodKey, alloc: Allocation, wiring: PodWiring): Promise<void> {
  const { broker } = d;
  let cooldownMs = 0;
  try {
    await d.netConfig.unwire(wiring);
  } catch {
    // The kernel may still route the address to a half-made veth: let it cool down before reuse.
    cooldownMs = broker.cooldownMs;
  }
  await broker
    .serial(async () => {
      const r = release(broker.state, k, broker.now(), cooldownMs);
      if (r.released?.address === alloc.address) await broker.commit(r.state);
    })
    .then(() => {
      d.metrics?.delRequests.inc({ reason: "SetupNSFailed" }); // upstream's reason for the same undo
      broker.decide("released after failed wiring", { key: keyOf(k), address: alloc.address, cooldownMs });
    })
    .catch((err) => broker.log.error({ err: String(err), key: keyOf(k) }, "could not release the address after a failed ADD; the runtime's DEL will"));
}

export async function addPod(d: PodDeps, req: AddRequest): Promise<CniResult> {
  const { broker } = d;
  // Everything that can be refused is refused before an address is taken.
  if (req.conf.prevResult !== undefined) parsePrevResult(req.conf.prevResult);
  const multiHomed = multiNicWanted(d, req);
  // The runtime's view of the path decides: the shim reports it (addr-broker's own container may
  // see neither the runtime's netns files nor its processes). A caller that did not report it
  // (tests, tools speaking to the socket directly) is checked here, also through its pid's root.
  const visible =
    req.netnsSeenByCaller ??
    (d.netnsExists(req.netns) || (req.callerPid !== undefined && req.netns.startsWith("/") && d.netnsExists(`/proc/${req.callerPid}/root${req.netns}`)));
  if (!visible) throw new CniError(CniCode.INVALID_ENV, `CNI_NETNS: ${req.netns} does not exist`);
  // Security groups for pods: a pod asking for a branch ENI takes no address from the pool.
  if (d.branch) {
    const branched = await addBranchPod(d.branch, req);
    if (branched) return await enforceBranchPod(d, d.branch, req, branched);
  }
  const k: PodKey = { networkName: req.conf.name, containerId: req.containerId, ifName: req.ifName };
  const key = keyOf(k);
  d.metrics?.addRequests.inc();
  const endAdd = broker.beginAdd(key);
  try {
    const { alloc, fresh, durable } = await assign(d, k, req);
    const trace = req.trace;
    trace?.mark("assigned");
    const wiring = wiringFor(broker, alloc, req.netns, req.callerPid);
    if (req.conf.plugin.mtu !== undefined) wiring.mtu = req.conf.plugin.mtu;
    const wiringDone = d.netConfig.wire(wiring);
    // The agent is told beside the wiring and the write (its rules name the veth, which need not exist yet); the wiring, longest, leaves first.
    const pod = { namespace: req.args.podNamespace, name: req.args.podName };
    const toldVeth = alloc.hostVeth ?? hostVethName(broker.settings.vethPrefix, { namespace: alloc.podNamespace, name: alloc.podName, containerId: k.containerId, ifName: k.ifName });
    let policy = d.policy ? enforceNewPod(d, { ...pod, hostVeth: toldVeth, address: alloc.address }) : undefined;
    if (policy && trace) void trace.markWhenSettled(policy, "policy");
    /**
     * A failed ADD: once the agent's call has settled, the agent forgets a fresh pod (a retried
     * ADD's pod keeps what it had). Done before the address is released, so a pod that takes
     * the address next is never displaced by this one's late call; awaited before the answer.
     */
    const withdraw = () => (fresh ? withdrawNewPod(d, policy, pod) : policy?.then(() => undefined));
    const [written, wired] = await Promise.allSettled(trace ? [trace.markWhenSettled(durable, "durable"), trace.markWhenSettled(wiringDone, "wired")] : [durable, wiringDone]);
    if (written.status === "rejected") {
      // The assignment is already undone in memory; the kernel must not keep routing the address here.
      if (fresh && wired.status === "fulfilled") await d.netConfig.unwire(wiring).catch(() => undefined);
      await withdraw();
      throw checkpointError(broker, written.reason);
    }
    if (wired.status === "rejected") {
      await withdraw();
      if (fresh) await undoAssignment(d, k, alloc, wiring);
      throw peerError("wire the pod", broker.settings.netConfigSocket, wired.reason);
    }
    const answer = wired.value;
    if (answer.hostVeth !== alloc.hostVeth) broker.updateAllocation(k, { hostVeth: answer.hostVeth });
    if (policy && answer.hostVeth !== toldVeth) {
      // net-config named the veth otherwise than expected: the agent is told again, of the veth that exists.
      const first = policy;
      policy = first.then(() => enforceNewPod(d, { ...pod, hostVeth: answer.hostVeth, address: alloc.address }));
      if (trace) void trace.markWhenSettled(policy, "policy");
    }
    let others: Awaited<ReturnType<typeof addCardInterfaces>> = [];
    if (multiHomed) {
      try {
        others = await addCardInterfaces(d, k, wiring);
      } catch (err) {
        await withdraw();
        if (fresh) await undoAssignment(d, k, alloc, wiring);
        throw err;
      }
    }
    const refused = policy && (await policy).refused;
    if (refused) {
      // Strict: nothing of the pod stays (a retried ADD of a pod already answered keeps its address and wiring).
      await withdraw();
      if (fresh) {
        if (multiHomed) await delCardInterfaces(d, k, wiring);
        await undoAssignment(d, k, alloc, wiring);
      }
      throw refused;
    }
    // upstream annotates the pod with its first address only.
    if (d.podAnnotator && req.args.podNamespace && req.args.podName) d.podAnnotator.annotate(req.args.podNamespace, req.args.podName, alloc.address);
    return buildAddResult(
      req.conf.cniVersion,
      { address: alloc.address, hostVeth: answer.hostVeth, hostMac: answer.hostMac, ifName: req.ifName, podMac: answer.podMac, netns: req.netns },
      req.conf.prevResult,
      others.map(({ c, wiring: w, answer: a }) => ({ index: c.index, address: c.alloc.address, hostVeth: a.hostVeth, hostMac: a.hostMac, ifName: w.ifName, podMac: a.podMac, netns: req.netns })),
    );
  } finally {
    endAdd();
  }
}
