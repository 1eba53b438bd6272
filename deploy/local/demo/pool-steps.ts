/**
 * The pool steps of the demo, on node 0: start more pods at once than its warm pool holds
 * and watch pool-manager grow the pool (addresses, then an ENI) back to its warm target;
 * delete them and watch it shrink after the cooldown. Shown through pool-manager's /debug
 * and the simulated EC2's call counters.
 */
import { callDelta, describePool, poll, readCalls, readPool, type PoolView } from "./observe.ts";
import type { DemoPods, Pod } from "./pods.ts";
import type { DemoContext, Step, StepResult } from "./steps.ts";

function targetText(p: PoolView): string {
  const t: string[] = [];
  if (p.warmIpTarget) t.push(`WARM_IP_TARGET=${p.warmIpTarget}`);
  if (p.minimumIpTarget) t.push(`MINIMUM_IP_TARGET=${p.minimumIpTarget}`);
  if (!p.warmIpTarget && !p.minimumIpTarget) t.push(`WARM_ENI_TARGET=${p.warmEniTarget ?? "?"}`);
  return `${t.join(" ")} (policy ${p.policy ?? "?"})`;
}

function summary(p: PoolView): string {
  return `${p.enis.length} ENI(s), ${p.total} addresses: ${p.assigned} assigned, ${p.cooling} cooling, ${p.free} free`;
}

/** Warm target met: at least WARM_IP_TARGET free and MINIMUM_IP_TARGET in total (when set). */
function warmMet(p: PoolView): boolean {
  return p.free >= (p.warmIpTarget ?? 0) && p.total >= (p.minimumIpTarget ?? 0);
}

function retried(pods: Array<Pod & { retries?: number }>): string {
  const r = pods.filter((p) => (p.retries ?? 0) > 0);
  if (r.length === 0) return "every ADD answered at once";
  return `${r.length} ADD(s) answered "try again later" (CNI code 11) while the pool grew and succeeded on retry, as the kubelet retries (${r.reduce((s, p) => s + (p.retries ?? 0), 0)} retries)`;
}

/**
 * No more addresses than the targets ask for: assigned + cooling + WARM_IP_TARGET, at least
 * MINIMUM_IP_TARGET. Without address targets (WARM_ENI_TARGET, demand policy): no larger
 * than before the burst.
 */
function atTarget(p: PoolView, before: PoolView): boolean {
  if (!p.warmIpTarget && !p.minimumIpTarget) return p.total <= before.total;
  return p.total <= Math.max(p.assigned + p.cooling + (p.warmIpTarget ?? 0), p.minimumIpTarget ?? 0);
}

export const poolGrows: Step = {
  name: "the pool grows when pods outnumber the warm pool (node 0)",
  async run(ctx: DemoContext<DemoPods>): Promise<StepResult> {
    const runDir = ctx.runDir(0);
    const before = await readPool(runDir);
    ctx.beforeBurst = before;
    const callsBefore = await readCalls(ctx.stack.ec2.control);
    const n = Math.max(ctx.options.burst, before.free + 1);
    const settled = await Promise.allSettled(Array.from({ length: n }, (_, i) => ctx.pods.addRetrying(0, `demo-burst-${i}`)));
    ctx.burst = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    await ctx.record(ctx.burst);
    const failed = settled.flatMap((s) => (s.status === "rejected" ? [(s.reason as Error).message] : []));
    const grown = await poll(() => readPool(runDir), (p) => p.total > before.total && warmMet(p), ctx.options.growWaitMs);
    ctx.peak = grown.value;
    const callsAfter = await readCalls(ctx.stack.ec2.control);
    const details = [
      `targets: ${targetText(before)}`,
      `before: ${summary(before)}`,
      ...describePool(before).map((l) => `  ${l}`),
      `${n} pods started at once (${before.free} free addresses were warm); ${retried(ctx.burst)}`,
      `after:  ${summary(grown.value)}`,
      ...describePool(grown.value).map((l) => `  ${l}`),
      `EC2 calls: ${callDelta(callsBefore, callsAfter).join(", ") || "none"}`,
    ];
    const addresses = new Set(ctx.burst.map((p) => p.address));
    const problems: string[] = [];
    if (failed.length) problems.push(`${failed.length} of ${n} ADDs failed: ${failed[0]}`);
    if (addresses.size !== ctx.burst.length) problems.push("two burst pods got the same address");
    if (ctx.burst.some((p) => ctx.records.get(p.netns)?.eni === "?")) problems.push("a burst pod's address is on none of node 0's ENIs");
    if (grown.value.total <= before.total) problems.push(`the pool did not grow (${before.total} → ${grown.value.total} addresses)`);
    else if (!grown.met) problems.push(`the pool grew but did not regain its warm target within ${ctx.options.growWaitMs} ms (${summary(grown.value)})`);
    if (problems.length) return { ok: false, reason: problems.join("; "), details };
    return {
      ok: true,
      reason: `${n} pods got addresses; pool ${before.total} → ${grown.value.total} addresses, ${before.enis.length} → ${grown.value.enis.length} ENI(s), warm target regained in ${grown.ms} ms`,
      details,
    };
  },
};

export const poolShrinks: Step = {
  name: "the pool shrinks after the pods go (node 0)",
  async run(ctx: DemoContext<DemoPods>): Promise<StepResult> {
    const runDir = ctx.runDir(0);
    const before = ctx.need(ctx.beforeBurst, "the pool before the burst");
    const peak = ctx.need(ctx.peak, "the pool at its peak");
    const pods: Pod[] = [...ctx.burst];
    const callsBefore = await readCalls(ctx.stack.ec2.control);
    const settled = await Promise.allSettled(pods.map((p) => ctx.pods.del(p)));
    ctx.markDeleted(pods);
    ctx.burst = [];
    const failed = settled.flatMap((s) => (s.status === "rejected" ? [(s.reason as Error).message] : []));
    const afterDel = await readPool(runDir);
    const t0 = Date.now();
    const back = await poll(() => readPool(runDir), (p) => p.total < peak.total && p.cooling === 0 && atTarget(p, before), ctx.options.shrinkWaitMs, 1000);
    const callsAfter = await readCalls(ctx.stack.ec2.control);
    const details = [
      `right after DEL: ${summary(afterDel)}`,
      `after ${Math.round((Date.now() - t0) / 100) / 10} s: ${summary(back.value)}`,
      ...describePool(back.value).map((l) => `  ${l}`),
      `EC2 calls: ${callDelta(callsBefore, callsAfter).join(", ") || "none"}`,
    ];
    const problems: string[] = [];
    if (failed.length) problems.push(`${failed.length} DELs failed: ${failed[0]}`);
    if (back.value.total >= peak.total) problems.push(`no address was released within ${ctx.options.shrinkWaitMs} ms (${summary(back.value)})`);
    if (problems.length) return { ok: false, reason: problems.join("; "), details };
    const how = back.met ? `back at its target in ${back.ms} ms` : `toward its target, not there after ${back.ms} ms`;
    return { ok: true, reason: `${pods.length} pods deleted; pool ${peak.total} → ${back.value.total} addresses (${how})`, details };
  },
};
