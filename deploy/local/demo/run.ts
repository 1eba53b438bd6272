/**
 * Runs the demo's steps in order (each prints ✓/✗ with its reason; after a failure the rest
 * are skipped, they build on each other) and renders the summary: the pods table, how to
 * curl each service's /debug on each node, and the metrics URL.
 */
import type { Stack } from "../stack.ts";
import type { DemoPods } from "./pods.ts";
import { SERVICE_ORDER } from "../node-services.ts";
import { poolGrows, poolShrinks } from "./pool-steps.ts";
import { debugIpv6, outsideIpv6, podAddressesIpv6, v4EgressIpv6 } from "./steps-ipv6.ts";
import { v6EgressIpv4 } from "./steps-v6-egress.ts";
import { crossNodePing, crossNodeTcp, metricsAnswer, podAddresses, snatToOutside, type DemoContext, type PodRecord, type Step, type StepResult } from "./steps.ts";

/**
 * The demo's pool settings (a small warm pool so a few pods outnumber it; a short cooldown so
 * it shrinks soon; the targets select the compat policy, whose release of cooling addresses
 * is upstream's unless AWS_VPC_CNI_HOLD_COOLING_IPS keeps them to the end of their cooldown,
 * as the demo shows). --env overrides.
 */
export const DEMO_ENV: Record<string, string> = { WARM_IP_TARGET: "3", MINIMUM_IP_TARGET: "3", IP_COOLDOWN_PERIOD: "5", AWS_VPC_CNI_HOLD_COOLING_IPS: "true" };

export const DEMO_STEPS: Step[] = [podAddresses, crossNodePing, crossNodeTcp, snatToOutside, metricsAnswer, poolGrows, poolShrinks];

/** An IPv6 deployment's steps (steps-ipv6.ts): the cross-node steps are the same; no SNAT, no pool growth in IPv6 mode. */
export const DEMO_STEPS_IPV6: Step[] = [podAddressesIpv6, crossNodePing, crossNodeTcp, outsideIpv6, v4EgressIpv6, metricsAnswer, debugIpv6];

/** IPv4 nodes with IPv6 egress (`up --v6-egress`): the IPv4 steps, and the IPv6 outside reached through v6if0 after the IPv4 one. */
export const DEMO_STEPS_V6_EGRESS: Step[] = DEMO_STEPS.flatMap((s) => (s === snatToOutside ? [s, v6EgressIpv4] : [s]));

export function demoSteps(stack: Pick<Stack, "ipv6" | "v6Egress">): Step[] {
  return stack.ipv6 ? DEMO_STEPS_IPV6 : stack.v6Egress ? DEMO_STEPS_V6_EGRESS : DEMO_STEPS;
}

export interface StepOutcome extends StepResult {
  name: string;
  ms: number;
  skipped?: boolean;
}

export async function runStep(ctx: DemoContext<DemoPods>, step: Step): Promise<StepOutcome> {
  const t0 = Date.now();
  try {
    return { name: step.name, ...(await step.run(ctx)), ms: Date.now() - t0 };
  } catch (err) {
    const e = err as Error & { code?: string };
    return { name: step.name, ok: false, reason: `${e.code ? `${e.code}: ` : ""}${e.message}`, ms: Date.now() - t0 };
  }
}

/** Runs every step; `print` gets each outcome as it completes. Stops being useful after a ✗: the rest are skipped. */
export async function runDemo(ctx: DemoContext<DemoPods>, print: (o: StepOutcome) => void, steps: Step[] = DEMO_STEPS, shouldStop: () => boolean = () => false): Promise<StepOutcome[]> {
  const outcomes: StepOutcome[] = [];
  let failed = false;
  for (const step of steps) {
    const o: StepOutcome = failed || shouldStop()
      ? { name: step.name, ok: false, skipped: true, reason: failed ? "skipped: an earlier step failed" : "skipped: stopping", ms: 0 }
      : await runStep(ctx, step);
    if (!o.ok) failed = true;
    outcomes.push(o);
    print(o);
  }
  return outcomes;
}

export function formatOutcome(o: StepOutcome): string {
  const mark = o.skipped ? "-" : o.ok ? "✓" : "✗";
  const lines = [`${mark} ${o.name}: ${o.reason}${o.skipped ? "" : ` (${o.ms} ms)`}`];
  for (const d of o.details ?? []) lines.push(`    ${d}`);
  return lines.join("\n");
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd()).join("\n");
}

export function podsTable(records: PodRecord[], stack: Stack): string {
  const rows = [["POD", "NODE", "ADDRESS", "ENI", "STATE"]];
  for (const r of records) rows.push([r.pod, `${r.node} (${stack.nodes[r.node]?.netns ?? "?"})`, r.address, r.eni, r.state]);
  return table(rows);
}

/**
 * Exact commands to look inside each node: every service's /debug and the metrics; in
 * daemonset mode also the DaemonSet and its pods, and each node's aws-node container logs
 * (`awsNodePods`: node name → its aws-node pod).
 */
export function howToLook(stack: Stack, awsNodePods: ReadonlyMap<string, string> = new Map()): string {
  const lines: string[] = [];
  const kubectl = `kubectl --kubeconfig ${stack.kube.kubeconfig}`;
  for (const [i, node] of stack.nodes.entries()) {
    lines.push(`node ${i}: ${node.name} (namespace ${node.netns}, primary IP ${node.primaryIp}${node.primaryIpv6 ? `, primary IPv6 ${node.primaryIpv6}` : ""})`);
    for (const s of SERVICE_ORDER) lines.push(`  curl -s --unix-socket ${node.runDir}/${s}.sock http://localhost/debug`);
    lines.push(`  ip netns exec ${node.netns} curl -s ${node.metrics ?? "http://127.0.0.1:61678/metrics"}`);
    lines.push(`  logs: ${stack.dir}/nodes/${i}/logs/`);
    const awsNode = awsNodePods.get(node.name);
    if (stack.mode === "daemonset" && awsNode) lines.push(`  bun run deploy/local/main.ts logs --dir ${stack.dir} kube-system/${awsNode} -c aws-node`);
  }
  lines.push(`EC2 calls: curl -s --unix-socket ${stack.ec2.control} http://localhost/calls`);
  lines.push(`${kubectl} get nodes`);
  if (stack.mode === "daemonset") {
    lines.push(`${kubectl} -n kube-system get ds,deploy,pods -o wide`);
    lines.push(`${kubectl} get pods -o wide`);
  }
  return lines.join("\n");
}
