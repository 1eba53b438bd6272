/**
 * The engine main.ts runs on a node: the nftables engine (src/engine/), programming the
 * network namespace the agent runs in. With --enable-network-policy=false (the default, as
 * upstream) no engine is needed: the agent serves addr-broker's calls and programs nothing.
 */
import type { Logger } from "../../../../shared/log.ts";
import type { PolicyEngine } from "../engine/engine.ts";
import { createNftEngine } from "../engine/nft-engine.ts";

export async function createNodeEngine(log: Pick<Logger, "info" | "warn" | "debug">): Promise<PolicyEngine> {
  return createNftEngine({ log });
}

/** For --enable-network-policy=false: never applies (the agent does not call it), reads back nothing. */
export const disabledEngine: PolicyEngine = {
  apply: async () => ({ changedPods: [], removedPods: [], durationMs: 0 }),
  programmed: async () => [],
  removeAll: async () => {},
};
