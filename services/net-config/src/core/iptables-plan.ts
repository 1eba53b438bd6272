/**
 * From the desired layout and what iptables-save shows, the iptables-restore --noflush
 * input that converges: own chains declared (which flushes them) and refilled, the
 * project's rules in built-in chains replaced only when they differ, stale own chains
 * removed. Nobody else's rules are touched. Pure.
 */
import { OWN_CHAIN, OWN_COMMENTS, type IptablesLayout, type IptTable } from "./snat-rules.ts";

export interface SavedTable {
  chains: string[];
  /** Rules per chain, each the text after `-A <chain> `. */
  rules: Record<string, string[]>;
}
export type Saved = Partial<Record<string, SavedTable>>;

const BUILTIN = new Set(["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"]);

export function parseSave(text: string): Saved {
  const out: Saved = {};
  let cur: SavedTable | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("*")) {
      cur = { chains: [], rules: {} };
      out[line.slice(1).trim()] = cur;
    } else if (cur && line.startsWith(":")) {
      const name = line.slice(1).split(" ")[0] ?? "";
      cur.chains.push(name);
      cur.rules[name] ??= [];
    } else if (cur && line.startsWith("-A ")) {
      const rest = line.slice(3);
      const sp = rest.indexOf(" ");
      const chain = sp < 0 ? rest : rest.slice(0, sp);
      (cur.rules[chain] ??= []).push(sp < 0 ? "" : rest.slice(sp + 1));
    }
  }
  return out;
}

/** A rule in a built-in chain is the project's when it carries one of its comments or jumps to its chains. */
export function isOwnRule(rule: string): boolean {
  if (OWN_COMMENTS.some((c) => rule.includes(`--comment "${c}"`))) return true;
  const jump = / -j (\S+)/.exec(` ${rule}`);
  return !!jump && OWN_CHAIN.test(jump[1] ?? "");
}

export interface IptablesPlan {
  /** iptables-restore --noflush input; "" when nothing is to change. */
  restore: string;
  /** What changes, one entry per chain refilled or removed, for repairs and /debug. */
  changes: string[];
}

const TABLES: IptTable[] = ["nat", "mangle"];

export function planIptables(want: IptablesLayout, saved: Saved): IptablesPlan {
  let restore = "";
  const changes: string[] = [];
  for (const table of TABLES) {
    const have: SavedTable = saved[table] ?? { chains: [], rules: {} };
    const declare: string[] = [];
    const body: string[] = [];
    const removals: string[] = [];
    for (const [chain, rules] of Object.entries(want.chains[table])) {
      const cur = have.rules[chain];
      if (cur && same(cur, rules)) continue;
      declare.push(`:${chain} - [0:0]`);
      for (const r of rules) body.push(`-A ${chain} ${r}`);
      changes.push(`${table}/${chain} ${cur ? "refilled" : "created"}`);
    }
    for (const chain of have.chains.filter((c) => OWN_CHAIN.test(c) && !(c in want.chains[table]))) {
      declare.push(`:${chain} - [0:0]`);
      removals.push(`-X ${chain}`);
      changes.push(`${table}/${chain} removed`);
    }
    const builtins = new Set([...Object.keys(want.builtin[table]), ...Object.keys(have.rules).filter((c) => BUILTIN.has(c))]);
    const edits: string[] = [];
    for (const chain of builtins) {
      const ours = (have.rules[chain] ?? []).filter(isOwnRule);
      const wanted = want.builtin[table][chain] ?? [];
      if (same(ours, wanted)) continue;
      for (const r of ours) edits.push(`-D ${chain} ${r}`);
      for (const r of wanted) edits.push(`-A ${chain} ${r}`);
      changes.push(`${table}/${chain} rules replaced`);
    }
    if (!declare.length && !edits.length) continue;
    restore += [`*${table}`, ...declare, ...edits, ...body, ...removals, "COMMIT", ""].join("\n");
  }
  return { restore, changes };
}

function same(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
