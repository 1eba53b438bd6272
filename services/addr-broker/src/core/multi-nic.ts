/**
 * ENABLE_MULTI_NIC, multi-homed pods (upstream v1.23.1's routed-eni plugin and ipamd): a pod
 * annotated `k8s.amazonaws.com/nicConfig: multi-nic-attachment` gets one address per managed
 * network card: card 0's on CNI_IFNAME as any pod, card N's on interface `mNicIf<n>`, n being
 * the card's position among the pod's cards (1, 2, ...). Pure.
 */
import type { CapacitySnapshot } from "../../../../shared/contracts/capacity.ts";
import type { UsageReport } from "../../../../shared/contracts/usage.ts";
import { countPerCidr } from "./usage.ts";
import type { BrokerState } from "./state.ts";

export const MULTI_NIC_ANNOTATION = "k8s.amazonaws.com/nicConfig";
export const MULTI_NIC_ATTACHMENT = "multi-nic-attachment";
/** Upstream's containerVethNamePrefix: the pod's interface n ≥ 1 is `mNicIf<n>`. */
export const EXTRA_IF_PREFIX = "mNicIf";

/** The pod asks for one interface per network card (any other value of the annotation: an ordinary pod, as upstream). */
export function wantsMultiNic(podAnnotations: Readonly<Record<string, string>> | undefined): boolean {
  return podAnnotations?.[MULTI_NIC_ANNOTATION] === MULTI_NIC_ATTACHMENT;
}

/** The pod-side name of interface `index` (upstream GenerateContainerVethName). */
export function podIfName(ifName: string, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index > 31) throw new RangeError(`index: ${index} (an integer 0-31)`);
  return index === 0 ? ifName : `${EXTRA_IF_PREFIX}${index}`;
}

/** The cards above 0 a multi-homed pod takes an address from: those pool-manager manages, ascending. */
export function podCards(capacity: CapacitySnapshot | undefined): number[] {
  return [...new Set(capacity?.networkCards ?? [])].filter((c) => c > 0).sort((a, b) => a - b);
}

/**
 * Usage with the cards above 0 counted from their own states: the per-CIDR counts of those
 * cards' ENIs (pool-manager keeps each card's pool from them); the totals stay card 0's, which
 * its pool planning reads.
 */
export function withCardUsage(report: UsageReport, capacity: CapacitySnapshot | undefined, cards: readonly BrokerState[], now: number): UsageReport {
  const cardCidrs = new Set((capacity?.enis ?? []).filter((e) => e.networkCard > 0).flatMap((e) => e.cidrs.map((c) => c.cidr)));
  if (cardCidrs.size === 0) return report;
  const counts = new Map<string, ReturnType<typeof countPerCidr>[number]>();
  for (const state of cards) {
    for (const c of countPerCidr(state, cardCidrs, now)) {
      const prev = counts.get(c.cidr);
      const until = Math.max(prev?.coolingUntil ?? 0, c.coolingUntil ?? 0);
      const sum = { cidr: c.cidr, assigned: (prev?.assigned ?? 0) + c.assigned, cooling: (prev?.cooling ?? 0) + c.cooling };
      counts.set(c.cidr, until > 0 ? { ...sum, coolingUntil: until } : sum);
    }
  }
  return { ...report, cidrs: [...report.cidrs.filter((c) => !cardCidrs.has(c.cidr)), ...[...cardCidrs].map((cidr) => counts.get(cidr) ?? { cidr, assigned: 0, cooling: 0 })] };
}
