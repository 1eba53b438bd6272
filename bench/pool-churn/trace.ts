/**
 * A seeded day of pod churn for one node, scaled to the node's capacity: diurnal load
 * (long-lived pods arriving as a Poisson stream whose rate follows the day), deployment
 * waves (a batch bound within seconds that leaves together later) and cron jobs (a few
 * short-lived pods every N minutes). Times in ms of simulated clock.
 *
 * As on a real node, a pod is scheduled (bound, visible to a watch on the node's pods at
 * once) 1–3 s before the runtime has its sandbox and calls CNI ADD. The scheduler admits a
 * pod only while the node runs fewer than `capacity` pods that need a VPC address (kubelet's
 * max pods less the host-network daemons, capped by the addresses the instance can hold):
 * pods the node could never hold are not part of its day.
 */

export interface TracePod {
  /** Bound to the node (visible in the Kubernetes API). */
  boundAt: number;
  /** CNI ADD: the sandbox is created a moment after binding. */
  addAt: number;
  /** CNI DEL. */
  endAt: number;
  kind: "service" | "wave" | "cron";
}

export interface TraceOptions {
  seed: number;
  /** Pods needing an address the node may run at once (secondary slots, capped by max pods). */
  capacity: number;
  /** Length of the simulated day. */
  dayMs: number;
}

export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const exp = (r: () => number, mean: number) => -Math.log(1 - r()) * mean;

export function podTrace(o: TraceOptions): TracePod[] {
  const r = rng(o.seed);
  const pods: TracePod[] = [];
  const sandbox = () => 1_000 + Math.floor(r() * 2_000); // bind → ADD: 1–3 s (sandbox creation)
  const push = (boundAt: number, life: number, kind: TracePod["kind"]) => {
    const addAt = boundAt + sandbox();
    pods.push({ boundAt, addAt, endAt: addAt + Math.max(5_000, Math.floor(life)), kind });
  };
  // Diurnal services: mean count = rate × mean life, from 15% (night) to 50% (afternoon) of capacity.
  const meanLife = o.dayMs / 24; // an hour of the day
  const level = (t: number) => o.capacity * (0.15 + 0.35 * (1 - Math.cos((2 * Math.PI * t) / o.dayMs)) / 2);
  for (let t = 0; t < o.dayMs; ) {
    const peakRate = (o.capacity * 0.5) / meanLife;
    t += exp(r, 1 / peakRate);
    if (r() < level(t) / (o.capacity * 0.5)) push(t, exp(r, meanLife), "service"); // thinning
  }
  // Deployment waves: about every 40–100 min of the day, 20% of capacity (at most 30) within 5 s, leaving together 10–60 min later.
  const waveSize = Math.max(2, Math.min(30, Math.round(o.capacity * 0.2)));
  for (let t = o.dayMs * (0.02 + r() * 0.03); t < o.dayMs; t += o.dayMs * ((40 + r() * 60) / 1440)) {
    const life = o.dayMs * ((10 + r() * 50) / 1440);
    for (let i = 0; i < waveSize; i++) push(t + r() * 5_000, life + r() * 3_000, "wave");
  }
  // Cron jobs: every 10 min of the day, 5% of capacity (at least 1, at most 8) for 20–90 s.
  const cronSize = Math.max(1, Math.min(8, Math.round(o.capacity * 0.05)));
  for (let t = o.dayMs / 144; t < o.dayMs; t += o.dayMs / 144) {
    for (let i = 0; i < cronSize; i++) push(t + r() * 2_000, 20_000 + r() * 70_000, "cron");
  }
  return admitted(pods.sort((a, b) => a.boundAt - b.boundAt), o.capacity);
}

/** The scheduler's view: a pod is bound only while fewer than `capacity` pods run (bound, not yet deleted). */
export function admitted(byBind: TracePod[], capacity: number): TracePod[] {
  const running: number[] = []; // end times of admitted pods, ascending
  const out: TracePod[] = [];
  for (const p of byBind) {
    while (running.length > 0 && running[0]! <= p.boundAt) running.shift();
    if (running.length >= capacity) continue;
    let i = running.length;
    while (i > 0 && running[i - 1]! > p.endAt) i--;
    running.splice(i, 0, p.endAt);
    out.push(p);
  }
  return out;
}
