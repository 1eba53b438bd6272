/**
 * Replays a pod trace on one simulated node: the pool planner (compat or demand) and the
 * pool-manager's real Executor over the simulated EC2, on a simulated clock. addr-broker is
 * modelled simply: an ADD takes a free, non-cooling, non-draining address of a ready ENI
 * (the most used ENI first, then the lowest device, as addr-broker packs pods); with none
 * free the pod waits (a miss) until the pool grows or an address cools down; a DEL puts the
 * address into a 30 s cooldown. The pool cycle runs every 5 s. With the project's settings
 * the app also watches the node's pods as the Kubernetes adapter does: a pod counts as
 * pending from its scheduling until kubelet posts its IP (1 s after the ADD got one), and
 * every change of that count, like every miss, starts a cycle at once (onKubeChange,
 * onUsage). Upstream's ipamd has neither: it runs its 5 s loop only.
 * A wait counts only when the node could have served the pod: when every address the
 * instance can hold (capped by max pods) is assigned or cooling, no pool policy could help,
 * and such waits are reported apart.
 */
import { Ec2Model } from "../../deploy/local/sim-ec2/index.ts";
import { Executor } from "../../services/pool-manager/src/app/executor.ts";
import { PoolModel } from "../../services/pool-manager/src/app/pool-model.ts";
import { planPool } from "../../services/pool-manager/src/core/pool-policy.ts";
import type { PoolLimits, PoolSettings } from "../../services/pool-manager/src/core/settings.ts";
import { ModelEc2, ModelImds, type SimClock } from "./model-ports.ts";
import { rng, type TracePod } from "./trace.ts";

export interface ReplayOptions {
  instanceType: string;
  settings: PoolSettings;
  /** Miss-triggered cycles and pending pods (the project's app); off for upstream. */
  projectApp: boolean;
  pods: TracePod[];
  endMs: number;
  maxPods: number;
  /** Addresses pods can hold on this node at most (all ENIs full, capped by max pods). */
  capacity: number;
  cooldownMs: number;
  /** The node's share of the account's EC2 token buckets. */
  bucketScale: number;
  /** Seeds the executor's jitter (the trace's seed): the same seed gives the same run. */
  seed: number;
  /** Diagnostics: called at each wait and each action the pool-manager runs. */
  trace?: (line: string) => void;
}

export interface ReplayResult {
  /** Time-weighted mean of addresses held on pod ENIs and not assigned to a pod. */
  meanIdle: number;
  /** Of meanIdle, addresses cooling after a DEL (no pool policy can use them). */
  meanCooling: number;
  /** Time-weighted mean of attached ENIs. */
  meanEnis: number;
  mutatingCalls: number;
  throttled: number;
  /** Pods whose ADD found no free address while the node had room for one more. */
  waitedPods: number;
  /** Pods whose ADD found every address the node can hold assigned or cooling. */
  waitedAtCapacity: number;
  /** Total seconds pods spent waiting for an address. */
  waitSeconds: number;
  pods: number;
  byAction: Record<string, number>;
}

const CYCLE_MS = 5_000;
/** ADD got an address → kubelet posts the pod's IP (the watch stops counting it as pending). */
const STATUS_LAG_MS = 1_000;
const LATENCY_MS: Record<string, number> = {
  default: 150,
  AssignPrivateIpAddresses: 400,
  UnassignPrivateIpAddresses: 300,
  CreateNetworkInterface: 600,
  AttachNetworkInterface: 500,
  DetachNetworkInterface: 400,
  DeleteNetworkInterface: 300,
  ModifyNetworkInterfaceAttribute: 200,
};

interface Addr {
  cidr: string;
  pod?: number;
  coolUntil: number;
}

export async function replay(o: ReplayOptions): Promise<ReplayResult> {
  // ---- the world ----
  const ends: { at: number; pod: number }[] = []; // pending DELs, sorted by time
  const addrs = new Map<string, Addr>();
  const podAddr = new Map<number, string>();
  const queue: number[] = []; // pods waiting for an address (FIFO)
  const waitingSince = new Map<number, number>();
  let nextAdd = 0;
  let nextBind = 0;
  const pending = new Set<number>(); // scheduled, IP not yet posted by kubelet
  const statusAt: { at: number; pod: number }[] = []; // IP posts to come, in time order
  let misses = 0;
  let waitedPods = 0;
  let waitedAtCapacity = 0;
  let waitMs = 0;
  let changed = false; // a pending-count change or a miss: the project's app re-plans at once
  let idleArea = 0;
  let eniArea = 0;
  let coolArea = 0;
  let lastAreaAt = 0;
  const drained = new Set<string>();
  let busyWith: string | undefined;

  const time = { t: 0 };
  const model = new Ec2Model({ now: () => time.t, timing: { attachDelayMs: 1_500, imdsDelayMs: 1_000, deleteAfterDetachMs: 2_000, describeLagMs: 0 } });
  const vpc = model.createVpc({ cidr: "10.0.0.0/16" });
  const subnet = model.createSubnet({ vpcId: vpc.id, az: "us-west-2a", cidr: "10.0.0.0/18" });
  const sg = model.defaultSecurityGroup(vpc.id)!;
  const inst = model.launchInstance({ instanceType: o.instanceType, subnetId: subnet.id, securityGroupIds: [sg.id] });
  const pm = new PoolModel(o.settings);
  const poolMembers = () => [...pm.enis.values()].filter((m) => !m.removing && m.ready);

  const freeAddr = (now: number): Addr | undefined => {
    const enis = poolMembers()
      .map((m) => ({ m, used: m.pool.cidrs.filter((c) => addrs.get(c.cidr)?.pod !== undefined).length }))
      .sort((a, b) => b.used - a.used || a.m.pool.deviceNumber - b.m.pool.deviceNumber);
    for (const { m } of enis) {
      if (m.pool.trunk || (o.settings.customNetwork && m.pool.primary)) continue;
      for (const c of m.pool.cidrs) {
        if (c.draining || drained.has(c.cidr)) continue;
        let a = addrs.get(c.cidr);
        if (!a) addrs.set(c.cidr, (a = { cidr: c.cidr, coolUntil: 0 }));
        if (a.pod === undefined && a.coolUntil <= now) return a;
      }
    }
    return undefined;
  };
  const assigned = () => podAddr.size;
  const record = (now: number) => {
    // As the app: with the pod watch, arrivals are the pods seen scheduled (recorded at each
    // cycle's read of the pending count), not the ADDs' misses nor the pace of assignment.
    pm.conditions.usageReported(now, assigned(), misses, !o.projectApp);
  };
  const serveQueue = (now: number) => {
    while (queue.length > 0) {
      const a = freeAddr(now);
      if (!a) break;
      const pod = queue.shift()!;
      give(a, pod, now);
      waitMs += now - waitingSince.get(pod)!;
      waitingSince.delete(pod);
    }
  };
  const give = (a: Addr, pod: number, now: number) => {
    a.pod = pod;
    podAddr.set(pod, a.cidr);
    insertEnd(o.pods[pod]!.endAt, pod);
    statusAt.push({ at: now + STATUS_LAG_MS, pod });
  };
  const coolingNow = (now: number) => {
    let n = 0;
    for (const m of pm.enis.values()) for (const c of m.pool.cidrs) {
      const a = addrs.get(c.cidr);
      if (a && a.pod === undefined && a.coolUntil > now) n++;
    }
    return n;
  };
  const insertEnd = (at: number, pod: number) => {
    let i = ends.length;
    while (i > 0 && ends[i - 1]!.at > at) i--;
    ends.splice(i, 0, { at, pod });
  };
  const area = (now: number) => {
    const dt = now - lastAreaAt;
    if (dt <= 0) return;
    let held = 0;
    for (const m of pm.enis.values()) if (!m.removing) held += m.pool.cidrs.length;
    idleArea += dt * (held - assigned());
    coolArea += dt * coolingNow(lastAreaAt);
    eniArea += dt * pm.enis.size;
    lastAreaAt = now;
  };
  const coolTimes: number[] = [];
  const nextCool = (now: number) => coolTimes.find((x) => x > now) ?? Infinity;

  const clock: SimClock = {
    get t() {
      return time.t;
    },
    set t(v: number) {
      time.t = v;
    },
    /** With `stopOnChange`, returns at the first event the project's app reacts to. */
    async advance(ms: number, stopOnChange = false) {
      const target = clock.t + ms;
      for (;;) {
        const bind = nextBind < o.pods.length ? o.pods[nextBind]!.boundAt : Infinity;
        const add = nextAdd < o.pods.length ? o.pods[nextAdd]!.addAt : Infinity;
        const end = ends[0]?.at ?? Infinity;
        const status = statusAt[0]?.at ?? Infinity;
        const cool = queue.length > 0 ? nextCool(clock.t) : Infinity;
        const at = Math.min(bind, add, end, status, cool);
        if (at > target) break;
        area(at);
        clock.t = at;
        if (at === bind) {
          pending.add(nextBind++);
          changed = true;
        } else if (at === status) {
          const { pod } = statusAt.shift()!;
          if (pending.delete(pod)) changed = true;
        } else if (at === add) {
          const pod = nextAdd++;
          if (o.pods[pod]!.endAt <= at) continue;
          const a = freeAddr(at);
          if (a) give(a, pod, at);
          else {
            o.trace?.(`${(at / 1000).toFixed(1)} s: ${o.pods[pod]!.kind} pod ${pod} waits (bound ${((at - o.pods[pod]!.boundAt) / 1000).toFixed(1)} s ago; ${assigned()} assigned, ${coolingNow(at)} cooling; busy with ${busyWith ?? "nothing"})`);
            misses++;
            if (assigned() + coolingNow(at) >= o.capacity) waitedAtCapacity++;
            else waitedPods++;
            changed = true;
            queue.push(pod);
            waitingSince.set(pod, at);
          }
          record(at);
        } else if (at === end) {
          const { pod } = ends.shift()!;
          const cidr = podAddr.get(pod)!;
          podAddr.delete(pod);
          if (pending.delete(pod)) changed = true;
          const a = addrs.get(cidr);
          if (a) {
            a.pod = undefined;
            a.coolUntil = at + o.cooldownMs;
            coolTimes.push(a.coolUntil);
          }
          record(at);
          serveQueue(at);
        } else {
          coolTimes.splice(0, coolTimes.findIndex((x) => x > at));
          serveQueue(at);
          if (queue.length > 0 && nextCool(at) === Infinity) break;
        }
        if (stopOnChange && changed) {
          model.settle();
          return;
        }
      }
      area(target);
      clock.t = target;
      model.settle();
    },
  };

  // Capacity published → queued pods are served at once.
  const bump = pm.bump.bind(pm);
  pm.bump = () => {
    bump();
    serveQueue(clock.t);
  };

  const ec2 = new ModelEc2(model, clock, { latencyMs: LATENCY_MS, bucketScale: o.bucketScale });
  const imds = new ModelImds(model, clock, inst.id);
  const executor = new Executor({
    ec2,
    imds,
    net: { setupHost: async () => {}, setupEni: async () => {}, teardownEni: async () => {} },
    broker: {
      getUsage: async () => usageReport(),
      drain: async (cidrs) => {
        const granted = cidrs.filter((c) => {
          const a = addrs.get(c);
          return !a || (a.pod === undefined && a.coolUntil <= clock.t);
        });
        for (const c of granted) drained.add(c);
        return { granted, refused: cidrs.filter((c) => !granted.includes(c)).map((cidr) => ({ cidr, reason: "in use or cooling" })) };
      },
    },
    model: pm,
    settings: o.settings,
    facts: { instanceId: inst.id, vpcId: vpc.id, az: "us-west-2a", primarySubnetId: subnet.id, primarySecurityGroups: [sg.id] },
    opts: { additionalTags: {}, subnetDiscovery: false, now: () => clock.t, sleep: (ms) => clock.advance(ms), imdsWait: { firstMs: 200, maxMs: 5_000, tries: 12 }, random: rng(o.seed) }, // the IMDS waits' jitter, seeded: a run repeats exactly
    recentlyFreed: new Map(),
  });

  const usageReport = () => {
    const cidrs = [...pm.enis.values()].flatMap((m) =>
      m.pool.cidrs.map((c) => {
        const a = addrs.get(c.cidr);
        const cooling = a && a.pod === undefined && a.coolUntil > clock.t ? 1 : 0;
        return { cidr: c.cidr, assigned: a?.pod !== undefined ? 1 : 0, cooling };
      }),
    );
    return { capacityVersion: pm.version, assigned: assigned(), cooling: cidrs.reduce((n, c) => n + c.cooling, 0), cidrs, misses, waiting: queue.length };
  };

  // The primary ENI, as found at start-up.
  const primary = model.state.enis[inst.primaryEniId]!;
  pm.enis.set(primary.id, {
    pool: { id: primary.id, deviceNumber: 0, subnetId: subnet.id, primary: true, trunk: false, efa: false, excluded: false, createdAtMs: -3_600_000, cidrs: [] },
    mac: primary.mac,
    primaryIp: primary.primaryIp,
    subnetCidr: subnet.cidr,
    securityGroups: [sg.id],
    ready: true,
  });
  pm.ready = true;
  const it = model.limits(inst);
  const limits: PoolLimits = { instanceType: o.instanceType, maxEnis: it.maxEnis, ipv4PerEni: it.ipv4PerEni, ipv6PerEni: it.ipv6PerEni, trunking: it.trunking, maxPods: o.maxPods };

  const cycle = async () => {
    pm.usage = usageReport();
    const p = planPool(pm.poolState(), pm.poolUsage(true), o.settings, limits, clock.t);
    o.trace?.(`${(clock.t / 1000).toFixed(1)} s: plan: ${p.reason}`);
    for (const a of p.actions) {
      busyWith = `${a.kind} ${"count" in a ? a.count : "cidrs" in a ? a.cidrs.length : ""} since ${(clock.t / 1000).toFixed(1)} s`;
      o.trace?.(`${(clock.t / 1000).toFixed(1)} s: ${busyWith}: ${a.reason}`);
      try {
        await executor.run(a);
      } catch {
        // counted by the port; the next cycle plans again
      }
      // Drained CIDRs that were unassigned are gone; forget them.
      for (const c of [...drained]) if (![...pm.enis.values()].some((m) => m.pool.cidrs.some((x) => x.cidr === c))) {
        drained.delete(c);
        addrs.delete(c);
      }
    }
    busyWith = undefined;
    for (const m of pm.enis.values()) for (const c of m.pool.cidrs) if (!c.draining) drained.delete(c.cidr);
  };

  // ---- the pool-manager's loop ----
  let nextTick = 0;
  while (clock.t < o.endMs) {
    const wait = nextTick - clock.t;
    if (o.projectApp) {
      // Until the next tick or the first change the app reacts to (the watch, a miss), then a
      // cycle with the pending count the watch holds (changes during a cycle queue the next one).
      if (!changed && wait > 0) await clock.advance(wait, true);
      changed = false;
      pm.usage = usageReport(); // the watch's read stamps the assigned count it saw (as the app)
      pm.conditions.podsScheduled(clock.t, pending.size - pm.pendingPods);
      pm.pendingPods = pending.size;
      pm.podsWatched = true;
    } else if (wait > 0) await clock.advance(wait);
    await cycle();
    if (clock.t >= nextTick) while (nextTick <= clock.t) nextTick += CYCLE_MS;
  }
  const span = lastAreaAt || 1;
  return {
    meanIdle: idleArea / span,
    meanCooling: coolArea / span,
    meanEnis: eniArea / span,
    mutatingCalls: ec2.count.mutating,
    throttled: ec2.count.throttled,
    waitedPods,
    waitedAtCapacity,
    waitSeconds: waitMs / 1000,
    pods: o.pods.length,
    byAction: ec2.count.byAction,
  };
}
