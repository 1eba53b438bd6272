/**
 * A cycle's doing, after its deciding: the plan's actions through the executor. Assigns,
 * releases and deletes one after another, the ENIs of a grow together, then `repair`; every
 * failure counted and reported, and whether the cycle should back off.
 */
import type { PlanAction } from "../core/actions.ts";
import type { Plan } from "../core/planner.ts";
import { ec2Code } from "../core/ports.ts";
import type { PoolSettings } from "../core/settings.ts";
import type { Executor } from "./executor.ts";
import type { PoolMetrics } from "./metrics.ts";
import type { PoolModel } from "./pool-model.ts";

/** EC2 answers the planner handles itself (insufficient-CIDR windows): no back-off for them. */
const NO_BACKOFF = new Set(["InsufficientFreeAddressesInSubnet", "InsufficientCidrBlocks"]);

export interface PlanExecution {
  executor: Executor;
  settings: PoolSettings;
  model: PoolModel;
  metrics: PoolMetrics | undefined;
  /** An action went through (the reconcile waits for a quiet minute). */
  acted: () => void;
  /** Plan again at once (prefixes ran out and /32s may still be had). */
  cycleSoon: () => void;
}

/** Carries the plan out; `errors` in the order they happened, `failed` when the cycle must back off. */
export async function executePlan(p: Plan, x: PlanExecution): Promise<{ errors: string[]; failed: boolean }> {
  const { executor, metrics } = x;
  const errors: string[] = [];
  let failed = false;
  const failedAction = (a: PlanAction, err: unknown) => {
    errors.push(`${a.kind}: ${String((err as Error)?.message ?? err)}`);
    metrics?.ipamdErrors.inc({ fn: a.kind });
    const code = ec2Code(err) ?? "";
    if (!NO_BACKOFF.has(code)) failed = true;
    if (code === "InsufficientCidrBlocks" && x.settings.pdFallbackToIps) queueMicrotask(() => x.cycleSoon());
  };
  // Assigns, releases and deletes one after another; the ENIs of a grow together.
  for (const a of p.actions) {
    if (a.kind === "createEni") continue;
    if (failed) break;
    metrics?.inProgress.inc({ fn: a.kind });
    try {
      await executor.run(a);
      x.acted();
    } catch (err) {
      failedAction(a, err);
    } finally {
      metrics?.inProgress.dec({ fn: a.kind });
    }
  }
  const creates = p.actions.filter((a) => a.kind === "createEni");
  if (creates.length > 0 && !failed) {
    metrics?.inProgress.inc({ fn: "createEni" }, creates.length);
    const errs = await executor.createEnis(creates).finally(() => metrics?.inProgress.dec({ fn: "createEni" }, creates.length));
    errs.forEach((err, i) => (err === undefined ? undefined : failedAction(creates[i]!, err)));
    if (errs.some((e) => e === undefined)) x.acted();
  }
  // Then what grows left for later or what failed (after the pool's own work: pods first;
  // DeleteOnTermination once the pool is not short).
  if (!failed) {
    // compat sets DeleteOnTermination right after the attach, as upstream's AllocENI does.
    const r = await executor.repair({ deleteOnTermination: !p.low || x.settings.policy !== "demand", ec2Busy: x.settings.policy === "demand" && x.model.conditions.ec2Busy });
    errors.push(...r.errors);
    failed ||= r.failed;
  }
  return { errors, failed };
}
