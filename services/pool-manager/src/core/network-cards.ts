/**
 * ENABLE_MULTI_NIC: which network cards the pool manages, their route tables, and how many
 * addresses a card other than 0 keeps. Upstream v1.23.1 rules:
 * - card 0 is always managed; without ENABLE_MULTI_NIC no other card is;
 * - with it, a card is managed unless it holds an efa-only ENI and no other ENI this node
 *   may manage (a card with no device, an ena or efa device, or efa-only beside ena is managed);
 * - route tables: card 0 uses main for device 0 and device + 1 otherwise; a card N > 0 uses
 *   10000 + 100 × N + device (the numbering of Amazon Linux's ec2-net-utils);
 * - cards above 0 keep WARM_IP_TARGET=1 and MINIMUM_IP_TARGET=1 whatever the settings say.
 */
import { routeTableFor } from "../../../../shared/naming.ts";

export const MULTI_CARD_TABLE_BASE = 10_000;

/** The route table of the ENI at `deviceNumber` on `card`. */
export function cardRouteTable(deviceNumber: number, card: number): number {
  if (!Number.isInteger(card) || card < 0) throw new RangeError(`networkCard: ${card}`);
  const card0 = routeTableFor(deviceNumber); // validates deviceNumber
  if (card === 0) return card0;
  return MULTI_CARD_TABLE_BASE + deviceNumber + 100 * card;
}

export interface CardEni {
  id: string;
  interfaceType: string;
  /** Left alone by its tags (no_manage, MANAGE_UNTAGGED_ENI=false). */
  unmanaged: boolean;
}

/** The cards the pool manages, ascending: card 0, and with multiNic the eligible others. */
export function managedCards(cardCount: number, enisByCard: ReadonlyMap<number, readonly CardEni[]>, multiNic: boolean): number[] {
  const cards = [0];
  if (!multiNic) return cards;
  for (let card = 1; card < cardCount; card++) {
    const enis = enisByCard.get(card) ?? [];
    const efaOnly = enis.some((e) => e.interfaceType === "efa-only");
    if (!efaOnly || enis.some((e) => e.interfaceType !== "efa-only" && !e.unmanaged)) cards.push(card);
  }
  return cards;
}

/** Warm and minimum IP targets of a card above 0 (upstream's DefaultWarmIPTarget, DefaultMinimumIPTarget). */
export const SECONDARY_CARD_TARGETS = { warmIps: 1, minimumIps: 1 } as const;

/** Addresses a card above 0 is short of (upstream datastoreTargetState with its fixed targets). */
export function secondaryCardShort(total: number, assigned: number): number {
  const available = total - assigned;
  return Math.max(SECONDARY_CARD_TARGETS.warmIps - available, SECONDARY_CARD_TARGETS.minimumIps - total, 0);
}

/** Addresses a card above 0 holds beyond its targets (freeable). */
export function secondaryCardOver(total: number, assigned: number): number {
  const available = total - assigned;
  return Math.max(Math.min(available - SECONDARY_CARD_TARGETS.warmIps, total - SECONDARY_CARD_TARGETS.minimumIps), 0);
}
