/**
 * The demo's steps, each a check with a short reason: pods get VPC addresses, talk across
 * nodes (ICMP and TCP), reach the outside seen as their node's primary IP (SNAT), metrics
 * answer, the pool grows when pods outnumber the warm pool and shrinks after they go.
 * `npm start` prints them; tests/e2e runs the same functions as a test.
 */
import { contains, parseCidr } from "../../../shared/ip.ts";
import type { RunningDeployment } from "../deployment.ts";
import { askEcho, execIn, ping } from "../vpc/test-support.ts";
import { eniOf, readPool, type PoolView } from "./observe.ts";
import { PodRunner, type DemoPods, type Pod } from "./pods.ts";

export interface StepResult {
  ok: boolean;
  reason: string;
  /** Extra lines shown under the step (pool before/after, EC2 calls). */
  details?: string[];
}

export interface PodRecord {
  pod: string;
  node: number;
  address: string;
  eni: string;
  state: "running" | "deleted";
}

export interface DemoOptions {
  /** Pods started at once on node 0 to outnumber its warm pool (at least free + 1). */
  burst: number;
  /** Bound on waiting for the pool to grow back to its warm target. */
  growWaitMs: number;
  /** Bound on waiting for the pool to shrink after the burst pods go. */
  shrinkWaitMs: number;
  /** The aws-node variables the deployment was started with (steps honour e.g. DISABLE_METRICS). */
  env?: Record<string, string>;
}

export const DEFAULT_DEMO_OPTIONS: DemoOptions = { burst: 8, growWaitMs: 30_000, shrinkWaitMs: 90_000 };

/**
 * What the steps share: the deployment, the pods and what they saw. `pods` makes the pods:
 * a PodRunner unless given (processes mode; its CHECK and re-ADD are for the e2e test), a
 * KubePods in daemonset mode.
 */
export class DemoContext<P extends DemoPods = PodRunner> {
  readonly pods: P;
  a?: Pod;
  b?: Pod;
  burst: Array<Pod & { retries?: number }> = [];
  beforeBurst?: PoolView;
  peak?: PoolView;
  readonly records = new Map<string, PodRecord>();

  constructor(
    readonly deployment: RunningDeployment,
    readonly options: DemoOptions = DEFAULT_DEMO_OPTIONS,
    pods?: P,
  ) {
    // Without `pods`, P is its default, PodRunner.
    this.pods = pods ?? (new PodRunner(deployment) as DemoPods as P);
  }

  get stack() {
    return this.deployment.stack;
  }

  runDir(node: number): string {
    const r = this.stack.nodes[node]?.runDir;
    if (!r) throw new Error(`node ${node}: no runDir in stack.json`);
    return r;
  }

  async record(pods: Pod[]): Promise<void> {
    const pools = new Map<number, PoolView>();
    for (const p of pods) {
      if (!pools.has(p.nodeIndex)) pools.set(p.nodeIndex, await readPool(this.runDir(p.nodeIndex)));
      const eni = eniOf(pools.get(p.nodeIndex)!, p.address);
      this.records.set(p.netns, { pod: p.name, node: p.nodeIndex, address: p.address, eni: eni ? `${eni.id} (eth${eni.deviceNumber})` : "?", state: "running" });
    }
  }

  markDeleted(pods: Pod[]): void {
    for (const p of pods) {
      const r = this.records.get(p.netns);
      if (r) r.state = "deleted";
    }
  }

  need<T>(v: T | undefined, what: string): T {
    if (v === undefined) throw new Error(`${what} is missing (an earlier step failed)`);
    return v;
  }
}

export interface Step {
  name: string;
  run(ctx: DemoContext<DemoPods>): Promise<StepResult>;
}

const inVpc = (ctx: DemoContext<DemoPods>, address: string) => ctx.stack.vpc.cidrs.some((c) => {
  const cidr = parseCidr(c);
  return cidr !== undefined && contains(cidr, address);
});

async function podHasAddress(pod: Pod): Promise<boolean> {
  const r = await execIn(pod.netns, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]);
  return r.exitCode === 0 && r.stdout.includes(` ${pod.address}/`);
}

async function pingRetry(ns: string, target: string, tries = 3): Promise<boolean> {
  for (let i = 0; i < tries; i++) if (await ping(ns, target)) return true;
  return false;
}

export const podAddresses: Step = {
  name: "each pod gets a VPC address through the CNI chain",
  async run(ctx) {
    ctx.a = await ctx.pods.add(0, "demo-a");
    ctx.b = await ctx.pods.add(1, "demo-b");
    await ctx.record([ctx.a, ctx.b]);
    const problems: string[] = [];
    for (const p of [ctx.a, ctx.b]) {
      if (!inVpc(ctx, p.address)) problems.push(`${p.name}: ${p.address} is outside the VPC ${ctx.stack.vpc.cidrs.join(",")}`);
      if (!(await podHasAddress(p))) problems.push(`${p.name}: eth0 inside the pod does not carry ${p.address}`);
      if (ctx.records.get(p.netns)?.eni === "?") problems.push(`${p.name}: ${p.address} is on none of node ${p.nodeIndex}'s ENIs`);
    }
    if (ctx.a.address === ctx.b.address) problems.push(`both pods got ${ctx.a.address}`);
    if (problems.length) return { ok: false, reason: problems.join("; ") };
    return { ok: true, reason: `demo-a ${ctx.a.address} on node 0, demo-b ${ctx.b.address} on node 1 (on the nodes' ENIs, configured on eth0 in the pods)` };
  },
};

export const crossNodePing: Step = {
  name: "pod-to-pod ping across nodes",
  async run(ctx) {
    const a = ctx.need(ctx.a, "demo-a");
    const b = ctx.need(ctx.b, "demo-b");
    const ab = await pingRetry(a.netns, b.address);
    const ba = await pingRetry(b.netns, a.address);
    if (ab && ba) return { ok: true, reason: `${a.address} ⇄ ${b.address} answered both ways` };
    return { ok: false, reason: `${ab ? "" : `demo-a → ${b.address} unanswered; `}${ba ? "" : `demo-b → ${a.address} unanswered`}`.replace(/; $/, "") };
  },
};

const TCP_PORT = 8080;

export const crossNodeTcp: Step = {
  name: "pod-to-pod TCP across nodes",
  async run(ctx) {
    const a = ctx.need(ctx.a, "demo-a");
    const b = ctx.need(ctx.b, "demo-b");
    const server = ctx.pods.spawnIn(b.netns, [
      process.execPath,
      "-e",
      `Bun.listen({hostname:${JSON.stringify(b.address)},port:${TCP_PORT},socket:{data(s,d){s.end("demo-b got "+String(d).trim()+" from "+s.remoteAddress+"\\n");}}});console.log("listening");`,
    ]);
    try {
      const reader = server.stdout.getReader();
      const first = await Promise.race([reader.read(), Bun.sleep(10_000).then(() => ({ value: undefined, done: true }))]);
      reader.releaseLock();
      if (!first.value || !new TextDecoder().decode(first.value).includes("listening")) return { ok: false, reason: `the TCP server in demo-b did not start: ${await new Response(server.stderr).text()}` };
      const client = `const s=await Bun.connect({hostname:${JSON.stringify(b.address)},port:${TCP_PORT},socket:{open(s){s.write("hello")},data(_s,d){process.stdout.write(d)},close(){process.exit(0)}}});setTimeout(()=>process.exit(2),3000);`;
      const r = await execIn(a.netns, [process.execPath, "-e", client]);
      const answer = r.stdout.trim();
      if (answer === `demo-b got hello from ${a.address}`) return { ok: true, reason: `demo-b answered "${answer}" (no NAT inside the VPC)` };
      return { ok: false, reason: `expected "demo-b got hello from ${a.address}", got ${JSON.stringify(answer)} (exit ${r.exitCode}) ${r.stderr.trim().slice(0, 200)}` };
    } finally {
      await ctx.pods.stopProcess(server);
    }
  },
};

/** One probe of an outside echo server: `pod` asks over `proto` and must be seen from `source`. */
export interface EchoCheck {
  pod: Pod;
  proto: "tcp" | "udp";
  source: string;
  label: string;
}

/**
 * Runs each check against the echo server at `echo`; the step fails naming every check whose
 * answer came from another source, and every problem found before probing (`problems`).
 */
export async function echoSeenAs(echo: string, checks: readonly EchoCheck[], problems: string[] = []): Promise<StepResult> {
  const seen: string[] = [];
  for (const c of checks) {
    const answer = (await askEcho(c.pod.netns, echo, c.proto)).trim();
    if (answer.startsWith(`from ${c.source}:`)) seen.push(`${c.label} seen ${answer}`);
    else problems.push(`${c.label}: expected "from ${c.source}:…", got ${JSON.stringify(answer)}`);
  }
  if (problems.length) return { ok: false, reason: problems.join("; ") };
  return { ok: true, reason: `${echo}: ${seen.join("; ")}` };
}

export const snatToOutside: Step = {
  name: "pods reach the outside echo, seen as their node's primary IP (SNAT)",
  run: (ctx) =>
    echoSeenAs(
      ctx.stack.outside.echo,
      [ctx.need(ctx.a, "demo-a"), ctx.need(ctx.b, "demo-b")].map((p) => ({ pod: p, proto: "tcp", source: p.node.primaryIp, label: `${p.name} (${p.address})` })),
    ),
};

export const metricsAnswer: Step = {
  name: "metrics answer inside each node namespace",
  async run(ctx) {
    if (ctx.options.env?.DISABLE_METRICS === "true") return { ok: true, reason: "DISABLE_METRICS=true: not checked" };
    const problems: string[] = [];
    let count = 0;
    for (const node of ctx.stack.nodes) {
      const url = node.metrics ?? "http://127.0.0.1:61678/metrics";
      const r = await execIn(node.netns, ["curl", "-s", "-m", "5", url]);
      const lines = r.stdout.split("\n").filter((l) => l.startsWith("awscni_"));
      if (r.exitCode !== 0 || lines.length === 0) problems.push(`${node.netns}: ${url} gave exit ${r.exitCode}, ${lines.length} awscni_ samples`);
      count += lines.length;
    }
    if (problems.length) return { ok: false, reason: problems.join("; ") };
    return { ok: true, reason: `${count} awscni_* samples across ${ctx.stack.nodes.length} nodes` };
  },
};
