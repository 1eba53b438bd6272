/**
 * The demo's steps for an IPv6 deployment (`up --ipv6`, `npm start -- --ipv6`): pods get
 * addresses out of their node's /80 prefixes (as EC2 shows them on the node's ENIs), talk
 * across nodes (ICMPv6 and TCP, the same steps as IPv4), reach the IPv6 outside with their
 * own address (IPv6 pods are not SNAT'ed, as upstream), reach the IPv4 outside through
 * egress-cni's v4if0 seen as their node's IPv4 address (ENABLE_V4_EGRESS, on by default in
 * IPv6 mode), metrics answer, and every service's
 * /debug describes IPv6 state without NaN or IPv4-only leftovers. The pool steps of IPv4 do not
 * apply: upstream's IPv6 mode gives the primary ENI one /80 and never grows or shrinks it.
 */
import { contains, parseCidr } from "../../../shared/ip.ts";
import { execIn } from "../vpc/test-support.ts";
import { getJson, serviceSocket } from "./observe.ts";
import type { DemoPods, Pod } from "./pods.ts";
import { SERVICE_ORDER } from "../node-services.ts";
import { echoSeenAs, type DemoContext, type EchoCheck, type Step } from "./steps.ts";

type Ctx = DemoContext<DemoPods>;

export const PROTOS = ["tcp", "udp"] as const;

const within = (cidrs: readonly string[], address: string) => cidrs.some((c) => {
  const p = parseCidr(c);
  return p !== undefined && contains(p, address);
});

/** The /80 prefixes EC2 holds on a node's ENIs (the simulated EC2's state, as DescribeNetworkInterfaces renders it). */
export function nodePrefixes(ctx: Ctx, nodeIndex: number): string[] {
  const node = ctx.stack.nodes[nodeIndex];
  const model = ctx.deployment.cloud.model;
  return Object.values(model.state.enis).filter((e) => e.attachment?.instanceId === node?.instanceId).flatMap((e) => e.ipv6Prefixes);
}

async function podIpv6(pod: Pod): Promise<boolean> {
  const r = await execIn(pod.netns, ["ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "global"]);
  return r.exitCode === 0 && r.stdout.includes(` ${pod.address}/128`);
}

export const podAddressesIpv6: Step = {
  name: "each pod gets an IPv6 address out of its node's /80 prefix",
  async run(ctx) {
    ctx.a = await ctx.pods.add(0, "demo-a");
    ctx.b = await ctx.pods.add(1, "demo-b");
    await ctx.record([ctx.a, ctx.b]);
    const problems: string[] = [];
    const seen: string[] = [];
    for (const p of [ctx.a, ctx.b]) {
      const prefixes = nodePrefixes(ctx, p.nodeIndex);
      if (!within(ctx.stack.vpc.ipv6Cidrs ?? [], p.address)) problems.push(`${p.name}: ${p.address} is outside the VPC's IPv6 ${ctx.stack.vpc.ipv6Cidrs?.join(",")}`);
      if (!within(prefixes, p.address)) problems.push(`${p.name}: ${p.address} is in none of node ${p.nodeIndex}'s prefixes (${prefixes.join(", ") || "none"})`);
      if (!(await podIpv6(p))) problems.push(`${p.name}: eth0 inside the pod does not carry ${p.address}/128`);
      seen.push(`${p.name} ${p.address} in ${prefixes.find((c) => within([c], p.address)) ?? "?"} (node ${p.nodeIndex})`);
    }
    if (ctx.a.address === ctx.b.address) problems.push(`both pods got ${ctx.a.address}`);
    if (problems.length) return { ok: false, reason: problems.join("; ") };
    return { ok: true, reason: seen.join("; ") };
  },
};

export const outsideIpv6: Step = {
  name: "pods reach the IPv6 outside with their own address (no SNAT for IPv6)",
  async run(ctx) {
    const echo6 = ctx.stack.outside.echo6;
    if (!echo6) return { ok: false, reason: "stack.json has no outside.echo6 (not an IPv6 deployment?)" };
    const pods = [ctx.need(ctx.a, "demo-a"), ctx.need(ctx.b, "demo-b")];
    return echoSeenAs(echo6, pods.flatMap((p) => PROTOS.map((proto) => ({ pod: p, proto, source: p.address, label: `${p.name} ${proto}` }))));
  },
};

export const v4EgressIpv6: Step = {
  name: "IPv6 pods reach the IPv4 outside through egress-cni, seen as their node's IPv4 address (SNAT)",
  async run(ctx) {
    if (ctx.options.env?.ENABLE_V4_EGRESS === "false") return { ok: true, reason: "ENABLE_V4_EGRESS=false: not checked" };
    const checks: EchoCheck[] = [];
    const problems: string[] = [];
    for (const p of [ctx.need(ctx.a, "demo-a"), ctx.need(ctx.b, "demo-b")]) {
      const v4if = await execIn(p.netns, ["ip", "-4", "-o", "addr", "show", "dev", "v4if0"]);
      const egress = /inet (169\.254\.17[2-5]\.\d+)\//.exec(v4if.stdout)?.[1];
      if (egress) checks.push({ pod: p, proto: "tcp", source: p.node.primaryIp, label: `${p.name} (v4if0 ${egress})` });
      else problems.push(`${p.name}: no 169.254.172.0/22 address on v4if0 (${v4if.stderr.trim() || v4if.stdout.trim() || "no v4if0"})`);
    }
    return echoSeenAs(ctx.stack.outside.echo, checks, problems);
  },
};

/** What is wrong with one service's /debug in IPv6 mode (empty: nothing). */
export function ipv6DebugProblems(service: string, text: string, podAddresses: readonly string[]): string[] {
  const problems: string[] = [];
  if (/\bNaN\b/.test(text)) problems.push(`${service}: NaN in /debug`);
  if (/"null"|"undefined"/.test(text)) problems.push(`${service}: "null"/"undefined" strings in /debug`);
  const dbg = JSON.parse(text) as Record<string, unknown>;
  if (service === "pool-manager") {
    const pool = dbg.pool as { settings?: { family?: string }; enis?: Array<{ cidrs: Array<{ cidr: string }> }> } | undefined;
    if (pool?.settings?.family !== "ipv6") problems.push(`pool-manager: settings.family is ${JSON.stringify(pool?.settings?.family)}, not "ipv6"`);
    if (!pool?.enis?.some((e) => e.cidrs.some((c) => c.cidr.endsWith("/80")))) problems.push("pool-manager: no ENI with a /80 prefix");
  }
  if (service === "net-config") {
    const host = dbg.lastHostSetup as { vpcCidrs?: string[]; primaryIp?: string } | undefined;
    if (!host?.primaryIp?.includes(":")) problems.push(`net-config: the host set-up names ${JSON.stringify(host?.primaryIp)}, not the node's primary IPv6`);
    if (!host?.vpcCidrs?.length || host.vpcCidrs.some((c) => !c.includes(":"))) problems.push(`net-config: the host set-up's VPC CIDRs ${JSON.stringify(host?.vpcCidrs)} are not the VPC's IPv6 CIDRs`);
  }
  for (const a of service === "addr-broker" ? podAddresses : []) if (!text.includes(a)) problems.push(`addr-broker: pod address ${a} not in /debug`);
  return problems;
}

export const debugIpv6: Step = {
  name: "every service's /debug describes IPv6 state (no NaN, the /80, the pods)",
  async run(ctx) {
    const problems: string[] = [];
    let read = 0;
    for (const [i, node] of ctx.stack.nodes.entries()) {
      const pods = [...ctx.pods.pods.values()].filter((p) => p.nodeIndex === i).map((p) => p.address);
      for (const s of SERVICE_ORDER) {
        if (s === "metrics" && ctx.options.env?.DISABLE_METRICS === "true") continue;
        const text = JSON.stringify(await getJson(serviceSocket(ctx.runDir(i), s), "/debug"));
        problems.push(...ipv6DebugProblems(s, text, pods).map((p) => `${node.netns} ${p}`));
        read++;
      }
    }
    if (problems.length) return { ok: false, reason: problems.join("; ") };
    return { ok: true, reason: `${read} /debug answers across ${ctx.stack.nodes.length} nodes` };
  },
};
