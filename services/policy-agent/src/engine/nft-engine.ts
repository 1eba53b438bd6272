/**
 * The nftables PolicyEngine. apply compiles the state into the canonical form, compares each
 * pod's digest with what the kernel holds, and writes in one `nft -f -` transaction: new,
 * changed and hand-edited pods (their chains flushed and refilled), removal of chains no
 * wanted pod owns, and the skeleton (node sets, dispatch maps, base chains) refilled. The
 * kernel never holds a half-applied pod; packets see the old rules or the new ones.
 *
 * What the kernel holds is read back (`nft -j list table`, decoded) on the first apply and
 * after any failed transaction. Otherwise apply trusts its own last transaction, and every
 * `verifyIntervalMs` a read-back runs beside the queue (applies are not held up by it); if
 * no transaction ran meanwhile and it finds anything not as written, the last applied
 * state is applied again against it, which repairs hand edits.
 */
import type { Logger } from "../../../../shared/log.ts";
import type { PodPolicyState, PolicyRule, DirectionState } from "../../../../shared/contracts/policy.ts";
import { formatIp, type Family } from "../../../../shared/ip.ts";
import type { ApplyReport, PolicyEngine } from "./engine.ts";
import { readBack, trustedView, verifiedView, type KernelView, type ReadBack } from "./kernel-view.ts";
import { ALL_PORTS, compileStateCached, invalidState, podDigest, spanToCidrs, type DirectionModel, type NodeModel, type PodModel, type Span } from "./model.ts";
import { nftFailed, nftRunner, type NftRunner } from "./nft-runner.ts";
import { absentPod, checkDenyPrefixes, dispatchedDirections, isDefaultPod, missState } from "./defaults.ts";
import { chainOf, DEFAULT_TABLE, idChainOf, podSets, renderAddressSet, renderDispatch, renderPod, renderSkeleton, renderUndispatch, TABLE_NAME, type AddressSet, type Direction } from "./render.ts";

export interface NftEngineOptions {
  /** The agent's table (family inet); default aws-cni-np. */
  table?: string;
  /** A named network namespace (/run/netns/<name>) to program instead of our own. */
  netns?: string;
  log: Pick<Logger, "info" | "warn" | "debug">;
  /** How nft is run (tests and benches may count or time it); default spawns nft. */
  runner?: NftRunner;
  /**
   * Period of the background read-back that finds and repairs hand edits (default 10 s).
   * 0: no background read-back, every apply reads the table back first (tests). Reading
   * back 110 pods with hundreds of rules costs about as much as writing them, so it is kept
   * off apply's path.
   */
  verifyIntervalMs?: number;
  /**
   * Strict mode: the host veth prefixes of the node's pods (AWS_VPC_K8S_CNI_VETHPREFIX and
   * `vlan` for branch-ENI pods). The base chains then drop traffic from/to such veths after
   * the dispatch maps, and a pod denied both ways needs no chains. Unset or empty (standard):
   * a pod open both ways needs none. Either way, pods in that default state cost no transaction.
   */
  denyVethPrefixes?: readonly string[];
}

export interface NftEngine extends PolicyEngine {
  readonly table: string;
  /** Stops the background read-back (the rules stay). */
  close(): void;
}

export function createNftEngine(opts: NftEngineOptions): NftEngine {
  const table = opts.table ?? DEFAULT_TABLE;
  if (!TABLE_NAME.test(table)) throw invalidState("table", `${JSON.stringify(table)} is not a table name (a letter, then letters, digits, '_' or '-')`);
  const denyPrefixes = checkDenyPrefixes(opts.denyVethPrefixes, "denyVethPrefixes");
  const dirsOf = (p: PodModel) => dispatchedDirections(p, denyPrefixes);
  const nft = opts.runner ?? nftRunner(opts.netns);
  let queue: Promise<unknown> = Promise.resolve();
  /** Calls queued or running: while any is, what the kernel holds is about to change. */
  let inFlight = 0;
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    inFlight++;
    const next = queue.then(fn, fn).finally(() => inFlight--);
    queue = next.catch(() => undefined);
    return next;
  };

  let compiled = new Map<string, { input: string; model: PodModel }>();
  /** veth → digest of what our last transaction left in the kernel; undefined: unknown, read back. */
  let written: Map<string, string> | undefined;
  let writtenNodes = "";
  /** veth → the directions our last transaction dispatched to its chains. */
  let writtenDispatch = new Map<string, Direction[]>();
  /** The named address sets our last transaction left holding what their names say. */
  let writtenSets = new Set<string>();
  let lastModel: NodeModel | undefined;
  let transactions = 0;
  /** A background read-back no transaction has overtaken, for the next apply to use. */
  let snapshot: { found: ReadBack | undefined; at: number } | undefined;
  let readingBack = false;
  const verifyIntervalMs = opts.verifyIntervalMs ?? 10_000;
  const timer = verifyIntervalMs > 0 ? setInterval(() => void backgroundReadBack(), verifyIntervalMs) : undefined;
  (timer as { unref?: () => void } | undefined)?.unref?.();

  async function backgroundReadBack(): Promise<void> {
    if (readingBack || written === undefined || lastModel === undefined) return;
    readingBack = true;
    const at = transactions;
    try {
      const found = await readBack(nft, table);
      if (at !== transactions) return; // a transaction ran meanwhile: the listing may mix before and after
      snapshot = { found, at };
      await serial(async () => {
        // still current (no apply or removeAll got in first): apply the last state against it
        if (snapshot?.at === transactions && lastModel) await applyModel(lastModel, undefined);
      });
    } catch (err) {
      opts.log.warn({ err }, "policy rules: background read-back failed");
    } finally {
      readingBack = false;
    }
  }

  async function kernelView(wanted: Set<string>): Promise<KernelView> {
    const snap = snapshot;
    snapshot = undefined;
    if (snap && snap.at === transactions && written !== undefined) return verifiedView(snap.found, table, wanted, opts.log, denyPrefixes);
    if (written === undefined || verifyIntervalMs === 0) return verifiedView(await readBack(nft, table), table, wanted, opts.log, denyPrefixes);
    return trustedView(written, writtenDispatch, writtenSets);
  }

  async function applyModel(full: NodeModel, cache: typeof compiled | undefined, retried = false): Promise<ApplyReport> {
    // pods in the mode's default state are what a miss in the dispatch maps gives: the kernel holds nothing for them
    const model = { ...full, pods: full.pods.filter((p) => !isDefaultPod(p, denyPrefixes)) };
    const wanted = new Set(model.pods.map((p) => p.hostVeth));
    const view = await kernelView(wanted);
    const changed = model.pods.filter((p) => view.digests.get(p.hostVeth) !== podDigest(p));
    const own = new Set<string>(["egress", "ingress", ...model.pods.flatMap((p) => [chainOf("egress", p.hostVeth), chainOf("ingress", p.hostVeth), idChainOf(p.hostVeth)])]);
    const stray = view.chains.filter((c) => !own.has(c));
    const removedPods = view.pods.filter((v) => !wanted.has(v));
    // named address sets: a long list is one when more than one pod refers to it (or the kernel holds it already), written
    // when a changed pod needs one the kernel lacks; a set no wanted pod may refer to is removed
    const wantedSets = new Map<string, AddressSet>();
    const users = new Map<string, number>();
    for (const p of model.pods) {
      const names = new Set<string>();
      for (const s of podSets(p)) {
        wantedSets.set(s.name, s);
        names.add(s.name);
      }
      for (const name of names) users.set(name, (users.get(name) ?? 0) + 1);
    }
    const useSet = (name: string) => (users.get(name) ?? 0) > 1 || view.intactSets.has(name);
    const newSets = new Map<string, AddressSet>();
    for (const p of changed) for (const s of podSets(p)) if (useSet(s.name) && !view.intactSets.has(s.name)) newSets.set(s.name, s);
    const straySets = view.sets.filter((n) => !wantedSets.has(n));
    const nodeKey = JSON.stringify([model.node4, model.node6], (_, v) => (typeof v === "bigint" ? v.toString() : v));
    const nothingToDo = changed.length === 0 && removedPods.length === 0 && stray.length === 0 && straySets.length === 0;
    const remember = () => {
      if (cache) compiled = cache;
      written = new Map(model.pods.map((p) => [p.hostVeth, podDigest(p)]));
      writtenDispatch = new Map(model.pods.map((p) => [p.hostVeth, dirsOf(p)]));
      writtenNodes = nodeKey;
      writtenSets = new Set([...wantedSets.keys()].filter((n) => view.intactSets.has(n) || newSets.has(n)));
      lastModel = model;
    };
    if (nothingToDo && (view.verified ? view.skeletonIntact?.(model) === true : nodeKey === writtenNodes)) {
      remember(); // the kernel already holds exactly this (e.g. after a restart of the agent)
      return { changedPods: [], removedPods: [], durationMs: 0 };
    }
    const t = `inet ${table}`;
    // Between read-backs, with the node's addresses as written, the skeleton is left alone: only the
    // changed pods' chains and the dispatch elements of pods added or removed are written. nft
    // fetches much more of the table before a transaction that touches the interval sets or
    // flushes the maps (≈ 2× the time of a one-pod transaction on a full node).
    const incremental = !view.verified && nodeKey === writtenNodes && view.prelude.length === 0;
    const script = incremental ? [] : [...view.prelude, ...renderSkeleton(table, model, denyPrefixes)];
    // only the directions that differ from a miss are dispatched; between read-backs only the elements that change are written
    const had = (veth: string) => (incremental ? (view.dispatch.get(veth) ?? []) : []);
    const moves = changed.map((p) => ({ veth: p.hostVeth, old: had(p.hostVeth), now: dirsOf(p) }));
    if (incremental) script.push(...renderUndispatch(table, [...removedPods.map((veth) => ({ veth, dirs: had(veth) })), ...moves.map((m) => ({ veth: m.veth, dirs: m.old.filter((d) => !m.now.includes(d)) }))]));
    script.push(...stray.map((c) => `flush chain ${t} ${c}`), ...stray.map((c) => `delete chain ${t} ${c}`));
    for (const set of newSets.values()) script.push(...renderAddressSet(table, set));
    for (const pod of changed) script.push(...renderPod(table, pod, useSet));
    const adds = incremental ? moves.map((m) => ({ veth: m.veth, dirs: m.now.filter((d) => !m.old.includes(d)) })) : model.pods.map((p) => ({ veth: p.hostVeth, dirs: dirsOf(p) }));
    script.push(...renderDispatch(table, adds));
    script.push(...straySets.map((n) => `delete set ${t} ${n}`)); // last: no rule refers to them any more
    const started = performance.now();
    transactions++;
    const r = await nft.run(["-f", "-"], `${script.join("\n")}\n`);
    const durationMs = performance.now() - started;
    if (r.code !== 0) {
      written = undefined; // what the kernel holds is unknown now: the next try reads it back
      if (!view.verified && !retried) return applyModel(model, cache, true);
      throw nftFailed(`nft -f (apply to table inet ${table})`, r);
    }
    remember();
    const report = { changedPods: changed.map((p) => p.hostVeth), removedPods, durationMs };
    if (changed.length || removedPods.length || view.verified) opts.log.info({ changed: report.changedPods.length, removed: removedPods.length, durationMs: Math.round(durationMs * 10) / 10, readBack: view.verified }, "policy rules applied");
    return report;
  }

  function apply(state: Parameters<PolicyEngine["apply"]>[0]): Promise<ApplyReport> {
    const { model, cache } = compileStateCached(state, compiled); // throws on bad input before the kernel is touched
    return applyModel(model, cache);
  }

  async function programmed(known: Parameters<PolicyEngine["programmed"]>[0] = []): Promise<PodPolicyState[]> {
    const found = await readBack(nft, table);
    const miss = { egress: found?.kernel.catchAll.egress, ingress: found?.kernel.catchAll.ingress };
    // no table, or base chains not as written: what a miss gives is unknown, so absent pods are not reported (the agent resolves them)
    const readable = found !== undefined && miss.egress !== undefined && miss.ingress !== undefined;
    const absent = readable ? known.filter((p) => !found.kernel.pods.has(p.hostVeth)).map((p) => absentPod(p, miss)) : [];
    if (!found) return absent;
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
        ingress: dispatched("ingress") ? toDirectionState(k.model.ingress) : missState(miss, "ingress", k.hostVeth),
        egress: dispatched("egress") ? toDirectionState(k.model.egress) : missState(miss, "egress", k.hostVeth),
      });
    }
    return [...out, ...absent];
  }

  function needsNothing(hostVeth: string, state?: PodPolicyState): boolean {
    if (inFlight > 0 || written === undefined || written.has(hostVeth)) return false;
    if (!state) return true;
    try {
      return state.hostVeth === hostVeth && isDefaultPod(compileStateCached({ nodeAddresses: [], pods: [state] }).model.pods[0]!, denyPrefixes);
    } catch {
      return false; // invalid: apply names the field
    }
  }

  async function removeAll(): Promise<void> {
    written = undefined;
    lastModel = undefined;
    transactions++;
    const r = await nft.run(["delete", "table", "inet", table]);
    if (r.code !== 0 && !/No such file or directory/.test(r.err)) throw nftFailed(`nft delete table inet ${table}`, r);
  }

  return {
    table,
    apply: (state) => serial(() => apply(state)),
    programmed: (known) => serial(() => programmed(known)),
    needsNothing,
    removeAll: () => serial(removeAll),
    close: () => clearInterval(timer),
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
