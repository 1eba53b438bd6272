/**
 * ENABLE_MULTI_NIC: one checkpoint per managed network card, as upstream v1.23.1 keeps one
 * data store per card: card 0's is the checkpoint path itself (ipam.json), card N's is the
 * same path with `-nic-N` before `.json` (ipam-nic-1.json), each in upstream's
 * `vpc-cni-ipam/1` format (checkpoint-format.ts), written atomically (checkpoint-store.ts).
 * A file found at start-up is adopted in place (upstream's or this project's); a corrupt one
 * is set aside for a human and the card starts empty. The card ledger (app/card-ledger.ts)
 * keeps multi-homed pods' addresses on cards above 0 in them.
 */
import { readdirSync } from "node:fs";
import { basename, dirname } from "node:path";
import { CorruptCheckpoint, decodeCheckpoint, encodeCheckpoint } from "../core/checkpoint-format.ts";
import { EMPTY_STATE, type BrokerState } from "../core/state.ts";
import { FileCheckpointStore, type CheckpointStore } from "./checkpoint-store.ts";

/** The checkpoint file of `card` (upstream InitializeDataStores' naming). */
export function cardCheckpointPath(base: string, card: number): string {
  if (!Number.isInteger(card) || card < 0 || card > 255) throw new RangeError(`networkCard: ${card} (an integer 0-255)`);
  if (!base.endsWith(".json")) throw new Error(`checkpoint path: ${base} must end in .json`);
  return card === 0 ? base : `${base.slice(0, -".json".length)}-nic-${card}.json`;
}

export interface CardCheckpointLoad {
  card: number;
  state: BrokerState;
  /** The file was written by upstream's daemon (no fields of this project's own). */
  upstream: boolean;
  /** Where a corrupt file was moved, when one was. */
  setAside?: string;
}

export class CardCheckpoints {
  private readonly stores = new Map<number, CheckpointStore>();

  /** Stores for the managed cards above 0 (card 0's checkpoint is the broker's own). */
  constructor(
    private readonly base: string,
    cards: number[],
    private readonly open: (path: string) => CheckpointStore = (p) => new FileCheckpointStore(p),
  ) {
    for (const card of cards) this.ensure(card);
  }

  /** Opens card `card`'s store if it is not open yet (a card the capacity names after start-up). */
  ensure(card: number): void {
    if (card === 0 || this.stores.has(card)) return;
    this.stores.set(card, this.open(cardCheckpointPath(this.base, card)));
  }

  cards(): number[] {
    return [...this.stores.keys()].sort((a, b) => a - b);
  }

  location(card: number): string {
    return this.store(card).location;
  }

  /** Each card's checkpoint as found: adopted in place, or empty (none yet, or corrupt and set aside). */
  async load(nowMs: number): Promise<CardCheckpointLoad[]> {
    const out: CardCheckpointLoad[] = [];
    for (const [card, store] of this.stores) {
      const text = await store.read();
      if (text === undefined) {
        out.push({ card, state: EMPTY_STATE, upstream: false });
        continue;
      }
      try {
        const d = decodeCheckpoint(text);
        out.push({ card, state: d.state, upstream: d.upstream });
      } catch (err) {
        if (!(err instanceof CorruptCheckpoint)) throw err;
        const aside = await store.setAside(`corrupt-${nowMs}`);
        out.push({ card, state: EMPTY_STATE, upstream: false, ...(aside ? { setAside: aside } : {}) });
      }
    }
    return out;
  }

  /** Replaces card `card`'s checkpoint with `state`. */
  async write(card: number, state: BrokerState): Promise<void> {
    await this.store(card).write(encodeCheckpoint(state));
  }

  private store(card: number): CheckpointStore {
    const s = this.stores.get(card);
    if (!s) throw new Error(`networkCard ${card}: no checkpoint (not a managed card above 0)`);
    return s;
  }
}

/** The cards whose checkpoint file is beside `base` (`ipam-nic-N.json`): a previous run's, or upstream's. */
export function cardsOnDisk(base: string): number[] {
  const stem = basename(base).slice(0, -".json".length);
  let names: string[];
  try {
    names = readdirSync(dirname(base));
  } catch {
    return [];
  }
  const head = `${stem}-nic-`;
  return names
    .filter((n) => n.startsWith(head) && n.endsWith(".json"))
    .map((n) => n.slice(head.length, -".json".length))
    .filter((digits) => /^[1-9][0-9]{0,2}$/.test(digits) && Number(digits) <= 255)
    .map(Number)
    .sort((a, b) => a - b);
}
