/**
 * What apply compares the wanted state with: the table read back from the kernel (decoded,
 * one digest per readable pod), or — between read-backs — what the engine's own last
 * transaction wrote. Also whether the table's skeleton (base chains, dispatch maps, node
 * sets, strict's catch-all drops) is as render.ts writes it, so a read-back that finds nothing wrong needs no
 * transaction.
 */
import type { Logger } from "../../../../shared/log.ts";
import { forEachItem, TableDecoder, type KernelTable } from "./decode.ts";
import { dispatchedDirections } from "./defaults.ts";
import { podDigest, type NodeModel, type Span } from "./model.ts";
import { nftFailed, type NftRunner } from "./nft-runner.ts";
import { BASE_CHAINS, baseChainRules, chainOf, idChainOf, type Direction } from "./render.ts";

export interface ReadBack {
  kernel: KernelTable;
  /** Base chains (those with a hook) as `nft -j` lists them. */
  baseChains: Map<string, { hook?: string; prio?: number; type?: string; policy?: string }>;
}

export interface KernelView {
  /** veth → digest of the pod's chains as the kernel holds them (absent: missing or unreadable). */
  digests: Map<string, string>;
  /** Every chain in the table. */
  chains: string[];
  /** Pods with chains in the table. */
  pods: string[];
  /** The agent's named address sets that hold what their name says (render.ts addressSetName): need no rewrite. */
  intactSets: ReadonlySet<string>;
  /** Every set named like the agent's address sets, intact or not. */
  sets: string[];
  /** veth → the directions the dispatch maps send to its own chains. */
  dispatch: Map<string, Direction[]>;
  /** Commands that must run before the skeleton is declared (a base chain with another hook or priority is dropped). */
  prelude: string[];
  /** Read back from the kernel (true) or taken from the engine's own last transaction. */
  verified: boolean;
  /** Read back and the skeleton is exactly what the wanted state needs. */
  skeletonIntact?: (model: NodeModel) => boolean;
}

/** The table as `nft -j list table` shows it, decoded; undefined when there is no table. */
export async function readBack(nft: NftRunner, table: string): Promise<ReadBack | undefined> {
  const r = await nft.run(["-j", "list", "table", "inet", table]);
  if (r.code !== 0) {
    if (/No such file or directory/.test(r.err)) return undefined;
    throw nftFailed(`nft list table inet ${table}`, r);
  }
  // item by item: the listing of a full node is megabytes of JSON (decode.ts)
  const baseChains: ReadBack["baseChains"] = new Map();
  const decoder = new TableDecoder();
  forEachItem(r.out, (item) => {
    if (item.chain?.hook) baseChains.set(item.chain.name, item.chain);
    decoder.add(item);
  });
  return { kernel: decoder.finish(), baseChains };
}

/** Between read-backs: the kernel holds what the last transaction wrote. */
export function trustedView(written: Map<string, string>, dispatch: Map<string, Direction[]>, sets: ReadonlySet<string>): KernelView {
  const chains = [...written.keys()].flatMap((v) => [chainOf("egress", v), chainOf("ingress", v), idChainOf(v)]);
  return { digests: written, chains, pods: [...written.keys()], dispatch, intactSets: sets, sets: [...sets], prelude: [], verified: false };
}

const sameSpans = (a: Span[] | undefined, b: Span[]) => a !== undefined && a.length === b.length && a.every((s, i) => s.lo === b[i]!.lo && s.hi === b[i]!.hi);

/** `denyPrefixes`: strict's catch-all prefixes (empty in standard); the skeleton must end each base chain with exactly those. */
export function verifiedView(found: ReadBack | undefined, table: string, wanted: Set<string>, log: Pick<Logger, "warn">, denyPrefixes: readonly string[] = []): KernelView {
  const digests = new Map<string, string>();
  for (const k of found?.kernel.pods.values() ?? []) {
    if (k.model) digests.set(k.hostVeth, podDigest(k.model));
    else if (wanted.has(k.hostVeth)) log.warn({ hostVeth: k.hostVeth, problem: k.problem }, "policy chains edited outside the agent; rewriting them");
  }
  const prelude: string[] = [];
  for (const [name, chain] of found?.baseChains ?? []) {
    const want = BASE_CHAINS[name as Direction] as (typeof BASE_CHAINS)[Direction] | undefined;
    if (!want || chain.hook !== want.hook || chain.prio !== want.prio || chain.type !== "filter" || chain.policy !== "accept") prelude.push(`flush chain inet ${table} ${name}`, `delete chain inet ${table} ${name}`);
  }
  const skeletonIntact = (model: NodeModel): boolean => {
    if (!found || prelude.length > 0) return false;
    const k = found.kernel;
    for (const dir of ["egress", "ingress"] as const) {
      if (!found.baseChains.has(dir) || k.chains.get(dir)?.length !== baseChainRules(dir, denyPrefixes).length) return false;
      if (k.catchAll[dir]?.join() !== denyPrefixes.join()) return false;
      const map = k.dispatch[dir];
      const sent = model.pods.filter((p) => dispatchedDirections(p, denyPrefixes).includes(dir));
      if (map.size !== sent.length || sent.some((p) => map.get(p.hostVeth) !== chainOf(dir, p.hostVeth))) return false;
    }
    return sameSpans(k.node.v4, model.node4) && sameSpans(k.node.v6, model.node6);
  };
  const dispatch = new Map<string, Direction[]>();
  for (const dir of ["egress", "ingress"] as const) {
    for (const [veth, target] of found?.kernel.dispatch[dir] ?? []) if (target === chainOf(dir, veth)) dispatch.set(veth, [...(dispatch.get(veth) ?? []), dir]);
  }
  const intactSets = found?.kernel.addressSets ?? new Set<string>();
  return { digests, chains: [...(found?.kernel.chains.keys() ?? [])], pods: [...(found?.kernel.pods.keys() ?? [])], dispatch, intactSets, sets: found?.kernel.addressSetNames ?? [], prelude, verified: true, skeletonIntact };
}
