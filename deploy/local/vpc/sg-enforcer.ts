// Applies the security-group table (sg-nft.ts) in the router namespace: one `nft -f -`
// transaction that deletes and re-creates the table, so the filter is never half-replaced.
// Applied only when the generated text changed; the time of each apply is kept for /debug and
// the measurement in the README.
//
// A revoked rule does not cut connections it allowed that are tracked already: AWS documents
// the same for tracked connections (only untracked flows stop at once), so conntrack entries
// are left alone. New connections are judged by the new rules at once.
import type { Ec2State } from "../sim-ec2/types.ts";
import { inNetns } from "./command.ts";
import type { FabricEni, SgPort } from "./fabric-sync.ts";
import { assertNetnsName } from "./names.ts";
import { renderSgTable } from "./sg-nft.ts";

export interface SgApply {
  /** Milliseconds to generate the table's text. */
  renderMs: number;
  /** Milliseconds `nft -f` took (0 when the text had not changed and nothing was applied). */
  applyMs: number;
  enis: number;
  bytes: number;
}

export class SgEnforcer implements SgPort {
  private applied = "";
  /** The last sync's figures. */
  last: SgApply | undefined;

  constructor(private readonly routerNs: string) {
    assertNetnsName(routerNs, "routerNs");
  }

  /** The table's text as last applied. */
  get ruleset(): string {
    return this.applied;
  }

  async enforce(state: Ec2State, enis: FabricEni[]): Promise<void> {
    const t0 = performance.now();
    const text = renderSgTable(state, enis);
    const t1 = performance.now();
    if (text !== this.applied) {
      await inNetns(this.routerNs, ["nft", "-f", "-"], text);
      this.applied = text;
    }
    const t2 = performance.now();
    this.last = { renderMs: t1 - t0, applyMs: t2 - t1, enis: enis.length, bytes: text.length };
  }
}
