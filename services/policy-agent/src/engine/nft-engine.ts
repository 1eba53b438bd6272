/**
 * The nftables PolicyEngine. Each apply reads the table back (`nft -j list table`, one
 * spawn), decodes each pod's chains into the canonical form and compares its digest with the
 * wanted pod's: equal pods are left alone; new, changed and hand-edited ones are rewritten;
 * chains no wanted pod owns are removed; the skeleton (node sets, dispatch maps, base chains)
 * is refilled. All of it is one `nft -f -` transaction, so the kernel never holds a
 * half-applied pod, and packets see the old rules or the new ones.
 */
import type { Logger } from "../../../../shared/log.ts";
import type { PodPolicyState, PolicyRule, DirectionState } from "../../../../shared/contracts/policy.ts";
import { formatIp, type Family } from "../../../../shared/ip.ts";
import type { ApplyReport, PolicyEngine } from "./engine.ts";
import { decodeTable, type KernelTable } from "./decode.ts";
import { ALL_PORTS, compileStateCached, invalidState, podDigest, spanToCidrs, type DirectionModel, type PodModel, type Span } from "./model.ts";
import { nftFailed, nftRunner, type NftRunner } from "./nft-runner.ts";
import { BASE_CHAINS, chainOf, DEFAULT_TABLE, idChainOf, renderDispatch, renderPod, renderSkeleton, TABLE_NAME, type Direction } from "./render.ts";

export interface NftEngineOptions {
  /** The agent's table (family inet); default aws-cni-np. */
  table?: string;
  /** A named network namespace (/run/netns/<name>) to program instead of our own. */
  netns?: string;
  log: Pick<Logger, "info" | "warn" | "debug">;
  /** How nft is run (tests and benches may count or time it); default spawns nft. */
  runner?: NftRunner;
  /**
   * How old the last read-back may be before an apply reads the table again (default
   * 10 s; 0: every apply). Reading back 110 pods of hundreds of rules costs about as much as
   * writing them, so between read-backs apply trusts what its own last transaction wrote;
   * hand edits are repaired by the first apply after the interval (the agent reconciles
   * periodically), and any failed transaction forces a read-back.
   */
  verifyIntervalMs?: number;
}

export interface NftEngine extends PolicyEngine {
  readonly table: string;
}

export function createNftEngine(opts: NftEngineOptions): NftEngine {
  const table = opts.table ?? DEFAULT_TABLE;
  if (!TABLE_NAME.test(table)) throw invalidState("table", `${JSON.stringify(table)} is not a table name (a letter, then letters, digits, '_' or '-')`);
  const nft = opts.runner ?? nftRunner(opts.netns);
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };

  async function read(): Promise<{ kernel: KernelTable; baseChains: Map<string, any> } | undefined> {
    const r = await nft.run(["-j", "list", "table", "inet", table]);
    if (r.code !== 0) {
      if (/No such file or directory/.test(r.err)) return undefined;
      throw nftFailed(`nft list table inet ${table}`, r);
    }
    const json = JSON.parse(r.out);
    const baseChains = new Map<string, any>();
    for (const item of json.nftables ?? []) if (item.chain?.hook) baseChains.set(item.chain.name, item.chain);
    return { kernel: decodeTable(json), baseChains };
  }

  let compiled = new Map<string, { input: string; model: PodModel }>();
  /** veth → digest of what our last transaction left in the kernel; undefined: unknown, read back. */
  let written: Map<string, string> | undefined;
  let writtenNodes = "";
  let verifiedAt = -Infinity;
  const verifyIntervalMs = opts.verifyIntervalMs ?? 10_000;

  /** What the kernel holds: read back and decoded, or (between read-backs) what we wrote. */
  async function kernelView(wanted: Set<string>) {
    const t = `inet ${table}`;
    if (written && performance.now() - verifiedAt < verifyIntervalMs) {
      const chains = [...written.keys()].flatMap((v) => [chainOf("egress", v), chainOf("ingress", v), idChainOf(v)]);
      return { digests: written, chains, pods: [...written.keys()], prelude: [] as string[], verified: false };
    }
    const found = await read();
    const digests = new Map<string, string>();
    for (const k of found?.kernel.pods.values() ?? []) {
      if (k.model) digests.set(k.hostVeth, podDigest(k.model));
      else if (wanted.has(k.hostVeth)) opts.log.warn({ hostVeth: k.hostVeth, problem: k.problem }, "policy chains edited outside the agent; rewriting them");
    }
    const prelude: string[] = [];
    for (const [name, chain] of found?.baseChains ?? []) {
      const want = BASE_CHAINS[name as Direction] as (typeof BASE_CHAINS)[Direction] | undefined; // a base chain found otherwise is recreated
      if (!want || chain.hook !== want.hook || chain.prio !== want.prio || chain.type !== "filter" || chain.policy !== "accept") prelude.push(`flush chain ${t} ${name}`, `delete chain ${t} ${name}`);
    }
    return { digests, chains: [...(found?.kernel.chains.keys() ?? [])], pods: [...(found?.kernel.pods.keys() ?? [])], prelude, verified: true };
  }

  async function apply(state: Parameters<PolicyEngine["apply"]>[0], retried = false): Promise<ApplyReport> {
    const { model, cache } = compileStateCached(state, compiled); // throws on bad input before the kernel is touched
    const wanted = new Set(model.pods.map((p) => p.hostVeth));
    const view = await kernelView(wanted);
    const changed = model.pods.filter((p) => view.digests.get(p.hostVeth) !== podDigest(p));
    const own = new Set<string>(["egress", "ingress", ...model.pods.flatMap((p) => [chainOf("egress", p.hostVeth), chainOf("ingress", p.hostVeth), idChainOf(p.hostVeth)])]);
    const stray = view.chains.filter((c) => !own.has(c));
    const removedPods = view.pods.filter((v) => !wanted.has(v));
    const nodeKey = JSON.stringify([model.node4, model.node6], (_, v) => (typeof v === "bigint" ? v.toString() : v));
    if (!view.verified && changed.length === 0 && removedPods.length === 0 && nodeKey === writtenNodes) return { changedPods: [], removedPods: [], durationMs: 0 }; // trusted and unchanged: no transaction
    const t = `inet ${table}`;
    const script = [...view.prelude, ...renderSkeleton(table, model)];
    script.push(...stray.map((c) => `flush chain ${t} ${c}`), ...stray.map((c) => `delete chain ${t} ${c}`));
    for (const pod of changed) script.push(...renderPod(table, pod));
    script.push(...renderDispatch(table, model.pods.map((p) => p.hostVeth)));
    const started = performance.now();
    const r = await nft.run(["-f", "-"], `${script.join("\n")}\n`);
    const durationMs = performance.now() - started;
    if (r.code !== 0) {
      written = undefined; // what the kernel holds is unknown now: the next try reads it back
      if (!view.verified && !retried) return apply(state, true);
      throw nftFailed(`nft -f (apply to table inet ${table})`, r);
    }
    compiled = cache;
    written = new Map(model.pods.map((p) => [p.hostVeth, podDigest(p)]));
    writtenNodes = nodeKey;
    if (view.verified) verifiedAt = started;
    const report = { changedPods: changed.map((p) => p.hostVeth), removedPods, durationMs };
    if (changed.length || removedPods.length) opts.log.info({ changed: report.changedPods.length, removed: removedPods.length, durationMs: Math.round(durationMs * 10) / 10, verified: view.verified }, "policy rules applied");
    return report;
  }

  async function programmed(): Promise<PodPolicyState[]> {
    const found = await read();
    if (!found) return [];
    const out: PodPolicyState[] = [];
    for (const k of found.kernel.pods.values()) {
      if (!k.model) {
        opts.log.warn({ hostVeth: k.hostVeth, problem: k.problem }, "policy chains not readable (edited outside the agent); left out until the next apply");
        continue;
      }
      const dispatched = (dir: Direction) => found.kernel.dispatch[dir].get(k.hostVeth) === chainOf(dir, k.hostVeth);
      out.push({
        namespace: k.model.namespace,
        name: k.model.name,
        hostVeth: k.hostVeth,
        addresses: k.model.addresses,
        ingress: dispatched("ingress") ? toDirectionState(k.model.ingress) : { kind: "open" },
        egress: dispatched("egress") ? toDirectionState(k.model.egress) : { kind: "open" },
      });
    }
    return out;
  }

  async function removeAll(): Promise<void> {
    written = undefined;
    const r = await nft.run(["delete", "table", "inet", table]);
    if (r.code !== 0 && !/No such file or directory/.test(r.err)) throw nftFailed(`nft delete table inet ${table}`, r);
  }

  return {
    table,
    apply: (state) => serial(() => apply(state)),
    programmed: () => serial(programmed),
    removeAll: () => serial(removeAll),
  };
}

const cidrText = (family: Family, c: { base: bigint; prefix: number }) => `${formatIp(family, c.base)}/${c.prefix}`;
const spanCidrs = (family: Family, spans: Span[]) => spans.flatMap((s) => spanToCidrs(family, s).map((c) => cidrText(family, c)));

/** The canonical form back as the contract's rules: one rule per CIDR of each group. */
export function toDirectionState(d: DirectionModel): DirectionState {
  if (d.kind === "open") return { kind: "open" };
  if (d.groups.length === 0) return { kind: "deny" };
  const rules: PolicyRule[] = [];
  for (const g of d.groups) {
    const except = spanCidrs(g.family, g.except);
    const protocol = g.proto?.toUpperCase() as PolicyRule["ports"][number]["protocol"];
    const ports: PolicyRule["ports"] = g.proto === null ? [] : g.ports.map((s) => (s.lo === ALL_PORTS.lo && s.hi === ALL_PORTS.hi ? { protocol } : s.lo === s.hi ? { protocol, port: Number(s.lo) } : { protocol, port: Number(s.lo), endPort: Number(s.hi) }));
    for (const cidr of spanCidrs(g.family, g.remotes)) rules.push({ cidr, except, ports });
  }
  return { kind: "rules", rules };
}
