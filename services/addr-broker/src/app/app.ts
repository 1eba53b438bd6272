/**
 * addr-broker as a service: the frame (/healthz, /metrics, /debug) plus its routes, the
 * start-up (checkpoint, capacity loop, sweep), and the stop. No sockets here except the
 * peers' clients: the caller serves `service.frame.app` (tests use app.request).
 */
import { existsSync } from "node:fs";
import { listAssignments } from "../../../../shared/contracts/assignments.ts";
import { runCni } from "../../../../shared/contracts/cni.ts";
import { drain, getUsage } from "../../../../shared/contracts/usage.ts";
import { handle } from "../../../../shared/ipc/server.ts";
import { createFrame, type ServiceFrame } from "../../../../shared/service.ts";
import type { CheckpointStore } from "../adapters/checkpoint-store.ts";
import type { ConflistPort } from "../adapters/conflist-installer.ts";
import type { KernelScan } from "../adapters/kernel-scan.ts";
import type { PodAnnotatorPort } from "../adapters/pod-annotator.ts";
import { pluginLogWriter } from "../adapters/plugin-log.ts";
import { Broker, routeTableOf } from "./broker.ts";
import { startCapacityLoop, type CapacityLoop } from "./capacity-loop.ts";
import { runCniCommand } from "./cni-service.ts";
import type { EgressBook, EgressNetPort } from "./egress-cni.ts";
import { branchWirings, type BranchBook, type BranchNetPort } from "./branch-pods.ts";
import type { PodReaderPort } from "../adapters/pod-reader.ts";
import { CniTimings, MARKS, Trace } from "./cni-timings.ts";
import { decideDrain } from "../core/usage.ts";
import { createBrokerMetrics } from "./metrics.ts";
import { wiringFor, type PodDeps } from "./pod-add.ts";
import { CardCheckpoints, cardsOnDisk } from "../adapters/card-checkpoints.ts";
import { CardLedger } from "./card-ledger.ts";
import { cardWiring } from "./pod-cards.ts";
import { podCards } from "../core/multi-nic.ts";
import type { Allocation } from "../core/state.ts";
import type { PodWiring } from "../../../../shared/contracts/netconfig.ts";
import { sweepGonePods } from "./pod-release.ts";
import { releasePendingDels } from "./pending-dels.ts";
import { silentLog, type Log, type NetConfigPort, type PolicyAgentPort, type PoolManagerPort } from "../core/ports.ts";
import type { BrokerSettings } from "./settings-from-config.ts";

export interface BrokerDeps {
  store: CheckpointStore;
  kernel: KernelScan;
  netConfig: NetConfigPort;
  /** Absent: capacity only through `giveCapacity` (tests). */
  pool?: PoolManagerPort;
  log?: Log;
  now?: () => number;
  netnsExists?: (path: string) => boolean;
  /** Delay between start-up sweep attempts while the node's veths cannot be listed. */
  sweepRetryMs?: number;
  /** ANNOTATE_POD_IP=true: the Kubernetes annotator (adapters/pod-annotator.ts). */
  podAnnotator?: PodAnnotatorPort;
  /**
   * The node's CNI configuration (adapters/conflist-installer.ts): installed once the first
   * ready capacity has arrived, i.e. when an ADD can be served; until then addr-broker is not
   * ready. Absent: nothing is installed and readiness is the checkpoint's (tests, benches).
   */
  conflist?: ConflistPort;
  /** Delay between conflist install attempts after a failure. */
  conflistRetryMs?: number;
  /** egress-cni's bookkeeping and net-config's egress routes (app/egress-cni.ts); absent: egress-cni calls are refused. */
  egress?: { book: EgressBook; net: EgressNetPort };
  /** ENABLE_POD_ENI: the branch-ENI pods' record, the pod reader and net-config's branch routes (app/branch-pods.ts). */
  branch?: { book: BranchBook; pods: PodReaderPort; net: BranchNetPort };
  /**
   * The run directory whose `pending-del/` holds DELs the shim took over: while this process
   * was unreachable (read at start), or when it answered a DEL with an error or too late
   * (read again every `pendingDelIntervalMs`, default 10 s, while it runs).
   */
  pendingDelRunDir?: string;
  pendingDelIntervalMs?: number;
  /** ENABLE_MULTI_NIC: the cards' checkpoints (default: ipam-nic-N.json files beside settings.checkpointPath, those found adopted). */
  cardCheckpoints?: CardCheckpoints;
  /** The policy agent's client; called only when settings.networkPolicyMode is standard or strict. */
  policyAgent?: PolicyAgentPort;
}

export interface AddrBroker {
  frame: ServiceFrame;
  broker: Broker;
  deps: PodDeps;
  /** Loads the checkpoint, starts the capacity loop and the start-up sweep. CNI requests wait for the load. */
  start(): Promise<void>;
  stop(): void;
}

export function createAddrBroker(settings: BrokerSettings, d: BrokerDeps): AddrBroker {
  const log = d.log ?? silentLog;
  const broker = new Broker(settings, d.store, d.kernel, d.pool, log, d.now);
  const cards = settings.multiNic
    ? new CardLedger(d.cardCheckpoints ?? new CardCheckpoints(settings.checkpointPath, cardsOnDisk(settings.checkpointPath)), log)
    : undefined;
  if (cards) broker.cardStates = () => cards.allStates();
  let loaded = false;
  let stopped = false;
  const conflist: { path?: string; installed: boolean; lastError?: string } = { installed: false, ...(d.conflist ? { path: d.conflist.path } : {}) };
  let sweep: { done: boolean; released?: number; attempts: number } = { done: false, attempts: 0 };
  let loop: CapacityLoop | undefined;
  let sweepTimer: ReturnType<typeof setTimeout> | undefined;
  let resolveStarted!: () => void;
  const started = new Promise<void>((r) => (resolveStarted = r));

  const frame = createFrame({
    name: "addr-broker",
    healthy: () => {
      if (!loaded) return { ok: false, reason: "loading the checkpoint" };
      if (d.conflist && !conflist.installed) {
        return { ok: false, reason: conflist.lastError ? `cannot install ${conflist.path}: ${conflist.lastError}` : "waiting for pool-manager's first ready capacity before installing the CNI configuration" };
      }
      return { ok: true };
    },
    debug: () => ({
      settings,
      checkpoint: { location: d.store.location, ...broker.checkpoint },
      startupSweep: sweep,
      conflist,
      ...(d.egress ? { egress: { location: d.egress.book.store.location, assignments: [...d.egress.book.state.allocations.values()] } } : {}),
      ...(d.branch ? { branchPods: { location: d.branch.book.store.location, pods: [...d.branch.book.state.pods.values()] } } : {}),
      capacity: broker.capacity
        ? { version: broker.capacity.version, epoch: broker.capacity.epoch, ready: broker.capacity.ready, shortage: broker.capacity.shortage, enis: broker.capacity.enis.length }
        : null,
      usage: broker.usage(),
      assignments: broker.allocations().map((a) => ({ ...a, allocatedAtNs: a.allocatedAtNs.toString() })),
      cooling: [...broker.state.cooling.values()].map((c) => ({ ...c, until: new Date(c.until).toISOString() })),
      reserved: [...broker.state.reserved.values()],
      drained: [...broker.state.drained.keys()],
      inFlight: broker.inFlightKeys(),
      recentDecisions: broker.recentDecisions(),
      podIpAnnotations: d.podAnnotator ? d.podAnnotator.status() : "off (ANNOTATE_POD_IP=false)",
      // ENABLE_MULTI_NIC: multi-homed pods' addresses by network card above 0.
      networkCards: cards ? { managed: podCards(broker.capacity), ...cards.debug() } : "off (ENABLE_MULTI_NIC=false)",
    }),
  });
  const metrics = createBrokerMetrics(frame.registry, broker);
  const deps: PodDeps = { broker, netConfig: d.netConfig, netnsExists: d.netnsExists ?? existsSync, metrics, ...(d.podAnnotator ? { podAnnotator: d.podAnnotator } : {}), ...(d.egress ? { egress: { ...d.egress, netConfigSocket: settings.netConfigSocket, log } } : {}), ...(cards ? { cards } : {}) };
  if (d.policyAgent && settings.networkPolicyMode !== "none") deps.policy = { agent: d.policyAgent, mode: settings.networkPolicyMode };
  if (d.branch) {
    deps.branch = {
      ...d.branch, log, family: settings.family, enforcingMode: settings.podSgEnforcingMode, waitMs: settings.missWaitMs,
      capacity: () => broker.capacity, netConfigSocket: settings.netConfigSocket,
    };
  }

  const pluginLog = pluginLogWriter(settings.pluginLogFile);
  const timings = new CniTimings();
  frame.app.get("/debug/cni-timings", (c) => c.json({ service: "addr-broker", marks: MARKS, recent: timings.list() }));
  handle(frame.app, runCni, async (body) => {
    const t0 = performance.now();
    const trace = new Trace(body.timing);
    await started;
    const outcome = await runCniCommand(deps, body.env, body.stdin, { pid: body.callerPid, netnsExists: body.netnsExists, trace });
    const pluginLogged = await pluginLog.record(body.env, body.stdin, outcome.exitCode, outcome.stdout, performance.now() - t0);
    timings.record(body.env, outcome.exitCode, trace);
    return { ...outcome, pluginLogged };
  });
  handle(frame.app, getUsage, () => broker.usage());
  handle(frame.app, drain, async (body) => {
    await started;
    return broker.serial(async () => {
      const decision = decideDrain(broker.state, body.cidrs, broker.now(), body.releaseCooling);
      if (decision.state !== broker.state) await broker.commit(decision.state);
      broker.decide("drain", { granted: decision.granted, refused: decision.refused });
      return { granted: decision.granted, refused: decision.refused };
    });
  });
  const assignmentOf = (a: Allocation, w: PodWiring) => ({ ...w, networkName: a.networkName, ...(a.allocatedAtNs > 0n ? { assignedAtMs: Number(a.allocatedAtNs / 1_000_000n) } : {}) });
  handle(frame.app, listAssignments, () => ({
    assignments: [
      ...broker.allocations().map((a) => assignmentOf(a, wiringFor(broker, a, a.netns ?? ""))),
      // A multi-homed pod's interfaces on other network cards, each with its number.
      ...(cards?.all() ?? []).map((c) => assignmentOf(c.alloc, cardWiring(deps, wiringFor(broker, c.alloc, c.alloc.netns ?? ""), c))),
    ],
    // Live pods known only from the kernel: net-config must not prune their wiring, and
    // re-creates a missing route or rule of theirs. A pod with no from-pod rule left in the
    // kernel gets its route table from the capacity (the ENI holding its address), as an allocation does.
    reserved: [...broker.state.reserved.values()].map(({ address, hostVeth, routeTable }) => {
      const table = routeTable ?? (broker.capacity ? routeTableOf(broker.capacity, address) : undefined);
      return { address, ...(hostVeth ? { hostVeth } : {}), ...(table ? { routeTable: table } : {}) };
    }),
    // Branch-ENI pods: their wiring is kept and repaired, never removed.
    ...(deps.branch ? { branch: branchWirings(deps.branch) } : {}),
    // True once the checkpoint is loaded, the sweep has run and every allocation's route table is known.
    restored:
      loaded &&
      sweep.done &&
      broker.allocations().every((a) => a.routeTable !== undefined) &&
      // A card entry adopted from upstream's file has no table until the capacity shows its ENI: until then net-config must not judge its rules.
      (cards?.all() ?? []).every((c) => c.alloc.routeTable !== undefined || (broker.capacity !== undefined && routeTableOf(broker.capacity, c.alloc.address) !== undefined)),
  }));

  let pendingDelTimer: ReturnType<typeof setInterval> | undefined;
  let pickingUp = false;
  const pickUpPendingDels = async (runDir: string): Promise<void> => {
    if (pickingUp || stopped) return;
    pickingUp = true;
    try {
      await releasePendingDels(deps, runDir);
    } catch (err) {
      log.warn({ err: String(err) }, "pending DELs not released; trying again later");
    } finally {
      pickingUp = false;
    }
  };

  const runSweep = async (): Promise<void> => {
    sweep.attempts++;
    try {
      if (d.pendingDelRunDir !== undefined) await releasePendingDels(deps, d.pendingDelRunDir);
      const r = await sweepGonePods(deps);
      if (r) {
        sweep = { done: true, released: r.released, attempts: sweep.attempts };
        return;
      }
    } catch (err) {
      log.warn({ err: String(err) }, "start-up sweep failed; retrying");
    }
    sweepTimer = setTimeout(runSweep, d.sweepRetryMs ?? 5_000);
  };

  // The node becomes network-ready for its runtime only when an ADD can be served: a ready
  // capacity from pool-manager, the checkpoint loaded and the start-up sweep done.
  const installConflistWhenReady = async (port: ConflistPort): Promise<void> => {
    while (!stopped) {
      if (broker.capacity?.ready) {
        try {
          const changed = port.install(broker.capacity);
          conflist.installed = true;
          delete conflist.lastError;
          log.info({ path: port.path, changed }, "CNI configuration installed: the node can serve pod ADDs");
          return;
        } catch (err) {
          conflist.lastError = (err as Error).message;
          log.error({ path: port.path, err: conflist.lastError }, "cannot install the CNI configuration; retrying");
          await Bun.sleep(d.conflistRetryMs ?? 2_000);
          continue;
        }
      }
      await broker.nextCapacity(5_000);
    }
  };

  return {
    frame,
    broker,
    deps,
    async start() {
      await broker.load();
      await cards?.load(broker.now());
      // Branch-ENI pods are listed to net-config's reconcile from the first answer on.
      if (deps.branch) await deps.branch.book.load();
      loaded = true;
      if (d.pool) loop = startCapacityLoop(broker, d.pool, settings.capacityWaitMs);
      // The sweep runs before CNI requests are served, so no ADD of this run can be mistaken for a gone pod.
      await runSweep();
      resolveStarted();
      if (d.conflist) void installConflistWhenReady(d.conflist);
      if (d.pendingDelRunDir !== undefined) pendingDelTimer = setInterval(() => void pickUpPendingDels(d.pendingDelRunDir!), d.pendingDelIntervalMs ?? 10_000);
    },
    stop() {
      stopped = true;
      loop?.stop();
      if (sweepTimer) clearTimeout(sweepTimer);
      if (pendingDelTimer) clearInterval(pendingDelTimer);
      broker.stop();
    },
  };
}
