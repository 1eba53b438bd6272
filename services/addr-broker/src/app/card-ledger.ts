/**
 * ENABLE_MULTI_NIC: the addresses multi-homed pods hold on network cards above 0, one state
 * and one checkpoint file per card (`ipam-nic-N.json`, as upstream keeps one data store per
 * card). Card 0's addresses stay the broker's own (broker.ts, `ipam.json`). Each card's
 * allocation carries the pod's key (network, container, CNI_IFNAME), as upstream's does;
 * the pod's interface for it is `mNicIf<n>`, n the card's position among the pod's cards.
 *
 * Changes are written before they count (a failed write changes nothing) under the broker's
 * lock; multi-homed pods are few, so each card's change is its own write.
 */
import type { CardCheckpoints } from "../adapters/card-checkpoints.ts";
import { EMPTY_STATE, keyOf, release, touch, type Allocation, type BrokerState, type PodKey } from "../core/state.ts";
import type { Log } from "../core/ports.ts";

export interface CardAllocation {
  card: number;
  /** The pod's interface number (1 for its first card above 0). */
  index: number;
  alloc: Allocation;
}

export interface CardStatus {
  card: number;
  location: string;
  source: "fresh" | "restored" | "adopted-upstream" | "set-aside";
  detail: string;
}

export class CardLedger {
  private readonly states = new Map<number, BrokerState>();
  private readonly loaded: CardStatus[] = [];

  constructor(
    readonly checkpoints: CardCheckpoints,
    private readonly log: Log,
  ) {}

  /** Adopts every card file found (this project's or upstream's) in place; a corrupt one is set aside and its card starts empty. */
  async load(nowMs: number): Promise<void> {
    for (const l of await this.checkpoints.load(nowMs)) {
      this.states.set(l.card, l.state);
      const n = l.state.allocations.size;
      const location = this.checkpoints.location(l.card);
      const status: CardStatus = l.setAside
        ? { card: l.card, location, source: "set-aside", detail: `corrupt; moved to ${l.setAside}` }
        : { card: l.card, location, source: l.upstream ? "adopted-upstream" : n > 0 ? "restored" : "fresh", detail: `${n} allocation(s)` };
      this.loaded.push(status);
      this.log.info({ ...status }, "network card checkpoint loaded");
    }
  }

  state(card: number): BrokerState {
    return this.states.get(card) ?? EMPTY_STATE;
  }

  /** Writes card `card`'s next state, then makes it current; throws (nothing changed) when the write fails. */
  async commit(card: number, next: BrokerState): Promise<void> {
    this.checkpoints.ensure(card);
    await this.checkpoints.write(card, next);
    this.states.set(card, next);
  }

  /** The pod's allocations on cards above 0, ascending by card, each with its interface number. */
  podAllocations(k: PodKey): CardAllocation[] {
    const key = keyOf(k);
    const out: CardAllocation[] = [];
    for (const card of [...this.states.keys()].sort((a, b) => a - b)) {
      const alloc = this.states.get(card)!.allocations.get(key);
      if (alloc) out.push({ card, index: out.length + 1, alloc });
    }
    return out;
  }

  /** Every pod's allocations on cards above 0. */
  all(): CardAllocation[] {
    const keys = new Map<string, PodKey>();
    for (const s of this.states.values()) for (const a of s.allocations.values()) keys.set(keyOf(a), a);
    return [...keys.values()].flatMap((k) => this.podAllocations(k));
  }

  /** Records the pod's netns or host veth on a card in memory (written with the card's next change). */
  touch(card: number, k: PodKey, fields: Partial<Pick<Allocation, "netns" | "hostVeth">>): void {
    const s = this.states.get(card);
    if (s) this.states.set(card, touch(s, k, fields));
  }

  /** Releases the pod's addresses on every card above 0 (into cooldown when `cooldownMs` > 0); returns what was released. */
  async releasePod(k: PodKey, now: number, cooldownMs: number): Promise<CardAllocation[]> {
    const held = this.podAllocations(k);
    for (const h of held) await this.commit(h.card, release(this.state(h.card), k, now, cooldownMs).state);
    return held;
  }

  /** Card states, for usage. */
  allStates(): BrokerState[] {
    return [...this.states.values()];
  }

  debug(): Record<string, unknown> {
    return {
      loaded: this.loaded,
      cards: Object.fromEntries(
        [...this.states].sort(([a], [b]) => a - b).map(([card, s]) => [
          String(card),
          {
            location: this.checkpoints.location(card),
            assignments: [...s.allocations.values()].map((a) => ({ ...a, allocatedAtNs: a.allocatedAtNs.toString() })),
            cooling: [...s.cooling.values()].map((c) => ({ ...c, until: new Date(c.until).toISOString() })),
          },
        ]),
      ),
    };
  }
}
