/**
 * The engine main.ts runs on a node. The nftables engine (src/engine/) is built beside this
 * service on its own branch and is plugged in here when the two are merged; until then there
 * is none, and an agent started with --enable-network-policy=true refuses to start rather than
 * pretend to enforce. With the flag off (the default, as upstream) no engine is needed: the
 * agent serves addr-broker's calls and programs nothing.
 */
import type { PolicyEngine } from "../engine/engine.ts";

export class EngineMissing extends Error {
  readonly code = "POLICY_ENGINE_MISSING";
}

export async function createNodeEngine(): Promise<PolicyEngine> {
  throw new EngineMissing("POLICY_ENGINE_MISSING: this build has no policy engine (services/policy-agent/src/engine/ is not merged): run with --enable-network-policy=false");
}

/** For --enable-network-policy=false: never applies (the agent does not call it), reads back nothing. */
export const disabledEngine: PolicyEngine = {
  apply: async () => ({ changedPods: [], removedPods: [], durationMs: 0 }),
  programmed: async () => [],
  removeAll: async () => {},
};
