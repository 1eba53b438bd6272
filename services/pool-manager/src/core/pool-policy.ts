/**
 * The pool planner the app calls: upstream's warm targets exactly (`compat`, planner.ts)
 * or the demand policy (`demand`, demand-policy.ts), by `settings.policy`. Both produce the
 * same actions, so the executor does not care which one planned.
 */
import { planDemand } from "./demand-policy.ts";
import { plan, type Plan } from "./planner.ts";
import type { PoolState, PoolUsage } from "./pool-state.ts";
import type { PoolLimits, PoolSettings } from "./settings.ts";

export function planPool(state: PoolState, usage: PoolUsage, s: PoolSettings, limits: PoolLimits, now: number): Plan {
  return s.policy === "demand" ? planDemand(state, usage, s, limits, now) : plan(state, usage, s, limits, now);
}
