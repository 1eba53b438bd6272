/**
 * The engine main.ts runs on a node: the nftables engine (src/engine/), programming the
 * network namespace the agent runs in. With --enable-network-policy=false (the default, as
 * upstream) no engine is needed: the agent serves addr-broker's calls and programs nothing.
 */
import type { Logger } from "../../../../shared/log.ts";
import type { EnforcingMode } from "../../../../shared/contracts/policy.ts";
import type { PolicyEngine } from "../engine/engine.ts";
import { createNftEngine } from "../engine/nft-engine.ts";

/** Host veth prefix of strict-mode branch-ENI pods (net-config names them `vlan<11 hex>`; its links `vlan.eth.<id>` are not veths). */
export const BRANCH_STRICT_VETH_PREFIX = "vlan";

/** The veth prefixes strict's catch-all denies: the node's pods' and strict branch-ENI pods'. */
export function strictDenyPrefixes(mode: EnforcingMode, vethPrefix: string): string[] {
  return mode === "strict" ? [vethPrefix, BRANCH_STRICT_VETH_PREFIX] : [];
}

export async function createNodeEngine(log: Pick<Logger, "info" | "warn" | "debug">, mode: EnforcingMode, vethPrefix: string): Promise<PolicyEngine> {
  return createNftEngine({ log, denyVethPrefixes: strictDenyPrefixes(mode, vethPrefix) });
}

/** For --enable-network-policy=false: never applies (the agent does not call it), reads back nothing. */
export const disabledEngine: PolicyEngine = {
  apply: async () => ({ changedPods: [], removedPods: [], durationMs: 0 }),
  programmed: async () => [],
  removeAll: async () => {},
};
