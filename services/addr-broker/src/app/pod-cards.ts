/**
 * ENABLE_MULTI_NIC, multi-homed pods (the pod annotation `k8s.amazonaws.com/nicConfig:
 * multi-nic-attachment`): beside the address of card 0 on CNI_IFNAME, which pod-add.ts gives
 * as to any pod, one address from each managed card above 0 (card-ledger.ts), each wired by
 * net-config on an interface of its own (`mNicIf<n>`, host veth named after
 * "<namespace>.<pod>.<n>", gateway 169.254.1.<n+1>, pod route table n, host rules to the
 * card's ENI table), as upstream v1.23.1's plugin and ipamd do. ADD gives all or none; DEL
 * and CHECK cover every interface.
 */
import type { PodWiring } from "../../../../shared/contracts/netconfig.ts";
import { hostVethName } from "../../../../shared/naming.ts";
import { isMiss, pickAddress, type Miss } from "../core/assign.ts";
import { CniCode, CniError } from "../core/cni-error.ts";
import type { CniRequest } from "../core/cni-request.ts";
import { MULTI_NIC_ANNOTATION, MULTI_NIC_ATTACHMENT, podCards, podIfName, wantsMultiNic } from "../core/multi-nic.ts";
import { prevResultProblems } from "../core/cni-result.ts";
import { keyOf, release, withAllocation, type Allocation, type PodKey } from "../core/state.ts";
import { routeTableOf } from "./broker.ts";
import type { CardAllocation, CardLedger } from "./card-ledger.ts";
import type { WireAnswer } from "../core/ports.ts";
import { peerError, type PodDeps } from "./pod-add.ts";

type PodRequest = Extract<CniRequest, { command: "ADD" | "CHECK" | "DEL" }>;

/** The pod asks for multi-NIC: the node must serve it (upstream's ipamd refuses the ADD otherwise). */
export function multiNicWanted(d: PodDeps, req: PodRequest): boolean {
  if (!wantsMultiNic(req.conf.plugin.podAnnotations)) return false;
  if (!d.cards) {
    throw new CniError(
      CniCode.UNSUPPORTED_FIELD,
      `runtimeConfig.io.kubernetes.cri.pod-annotations.${MULTI_NIC_ANNOTATION}: ${MULTI_NIC_ATTACHMENT} needs ENABLE_MULTI_NIC=true on the node`,
    );
  }
  return true;
}

/** The wiring of the pod's interface on a card above 0, derived from its card-0 wiring. */
export function cardWiring(d: PodDeps, base: PodWiring, c: CardAllocation): PodWiring {
  const table = c.alloc.routeTable ?? (d.broker.capacity ? routeTableOf(d.broker.capacity, c.alloc.address) : undefined) ?? 254;
  return { ...base, ifName: podIfName(base.ifName, c.index), address: c.alloc.address, routeTable: table, index: c.index };
}

/** Takes (or finds) the pod's address on every managed card above 0; waits for capacity like ADD; all or none. */
async function assignCards(d: PodDeps, ledger: CardLedger, k: PodKey, card0: Allocation): Promise<{ held: CardAllocation[]; fresh: Set<number> }> {
  const { broker } = d;
  let waitUntil: number | undefined;
  const fresh = new Set<number>();
  for (;;) {
    const miss = await broker.serial(async (): Promise<Miss | undefined> => {
      const now = broker.now();
      for (const card of podCards(broker.capacity)) {
        const state = ledger.state(card);
        if (state.allocations.has(keyOf(k))) continue;
        const pick = pickAddress(state, broker.capacity, now, broker.settings.cooldownSeconds, card);
        if (isMiss(pick)) return pick;
        // upstream's InterfacesCount: the pod's interfaces in all.
        const alloc: Allocation = { ...k, address: pick.address, allocatedAtNs: BigInt(now) * 1_000_000n, routeTable: pick.routeTable, interfacesCount: 1 + podCards(broker.capacity).length };
        for (const f of ["netns", "podNamespace", "podName"] as const) if (card0[f] !== undefined) alloc[f] = card0[f];
        await ledger.commit(card, withAllocation(state, alloc));
        fresh.add(card);
        broker.decide("assigned on network card", { key: keyOf(k), card, address: alloc.address });
      }
      return undefined;
    });
    if (!miss) break;
    const first = waitUntil === undefined;
    waitUntil ??= performance.now() + broker.settings.missWaitMs;
    const left = waitUntil - performance.now();
    if (first || left <= 0) broker.recordMiss(keyOf(k), miss);
    if (left <= 0) {
      await releaseFresh(d, ledger, k, fresh, 0);
      throw new CniError(CniCode.TRY_AGAIN_LATER, miss.message);
    }
    await broker.waitForCapacity(left, first);
  }
  if (fresh.size > 0) broker.usageChanged();
  return { held: ledger.podAllocations(k), fresh };
}

async function releaseFresh(d: PodDeps, ledger: CardLedger, k: PodKey, cards: Set<number>, cooldownMs: number): Promise<void> {
  await d.broker.serial(async () => {
    for (const card of cards) await ledger.commit(card, release(ledger.state(card), k, d.broker.now(), cooldownMs).state);
  });
}

/**
 * ADD's part for the cards above 0, after card 0's address is wired: assign, then wire each
 * interface. A failure unwires and releases what this ADD took on those cards and throws;
 * the caller undoes card 0's part.
 */
export async function addCardInterfaces(d: PodDeps, k: PodKey, base: PodWiring): Promise<Array<{ c: CardAllocation; wiring: PodWiring; answer: WireAnswer }>> {
  const ledger = d.cards!;
  const card0 = d.broker.state.allocations.get(keyOf(k));
  if (!card0) throw new CniError(CniCode.INTERNAL, `${keyOf(k)}: card 0's address vanished before its other cards were assigned`);
  const { held, fresh } = await assignCards(d, ledger, k, card0);
  const done: Array<{ c: CardAllocation; wiring: PodWiring; answer: WireAnswer }> = [];
  try {
    for (const c of held) {
      const wiring = cardWiring(d, base, c);
      const answer = await d.netConfig.wire(wiring);
      ledger.touch(c.card, k, { hostVeth: answer.hostVeth, netns: base.netns });
      done.push({ c, wiring, answer });
    }
  } catch (err) {
    let unwired = true;
    for (const c of held) {
      if (!fresh.has(c.card)) continue;
      await d.netConfig.unwire(cardWiring(d, base, c)).catch(() => (unwired = false));
    }
    await releaseFresh(d, ledger, k, fresh, unwired ? 0 : d.broker.cooldownMs).catch((e) => d.broker.log.error({ err: String(e), key: keyOf(k) }, "could not release a multi-homed pod's card addresses; its DEL will"));
    throw peerError("wire the pod's interfaces on other network cards", d.broker.settings.netConfigSocket, err);
  }
  return done;
}

/** DEL's part for the cards above 0: every interface unwired (best effort), every address released into cooldown. */
export async function delCardInterfaces(d: PodDeps, k: PodKey, base: PodWiring): Promise<CardAllocation[]> {
  const ledger = d.cards;
  if (!ledger) return [];
  const held = ledger.podAllocations(k);
  if (held.length === 0) return [];
  for (const c of held) {
    await d.netConfig.unwire(cardWiring(d, base, c)).catch((err) => d.broker.log.warn({ err: String(err), key: keyOf(k), card: c.card }, "net-config could not unwire a card interface; released anyway (net-config reconciles)"));
  }
  const released = await d.broker.serial(() => ledger.releasePod(k, d.broker.now(), d.broker.cooldownMs));
  for (const c of released) d.broker.decide("released on network card", { key: keyOf(k), card: c.card, address: c.alloc.address });
  d.broker.usageChanged();
  return released;
}

/** CHECK's part for the cards above 0: each interface against the kernel and the prevResult. */
export async function checkCardInterfaces(d: PodDeps, k: PodKey, base: PodWiring, prevResult: unknown): Promise<string[]> {
  const problems: string[] = [];
  for (const c of d.cards?.podAllocations(k) ?? []) {
    const wiring = cardWiring(d, base, c);
    if (prevResult !== undefined) problems.push(...prevResultProblems(prevResult, { address: c.alloc.address, ifName: wiring.ifName, netns: base.netns }));
    try {
      problems.push(...(await d.netConfig.check(wiring)).problems);
    } catch (err) {
      throw peerError("check the pod", d.broker.settings.netConfigSocket, err);
    }
  }
  return problems;
}

/**
 * Releases the card addresses of pods `gone` says are gone (start-up sweep: restored and their
 * host veth missing; GC: not among the runtime's attachments); net-config removes leftovers
 * first. Returns how many addresses were released.
 */
export async function releaseGoneCardPods(d: PodDeps, gone: (c: CardAllocation) => boolean): Promise<number> {
  const ledger = d.cards;
  if (!ledger) return 0;
  const pods = new Map<string, CardAllocation[]>();
  for (const c of ledger.all()) if (!d.broker.isInFlight(keyOf(c.alloc)) && gone(c)) pods.set(keyOf(c.alloc), [...(pods.get(keyOf(c.alloc)) ?? []), c]);
  let released = 0;
  for (const held of pods.values()) {
    const k = held[0]!.alloc;
    for (const c of held) {
      const base = { containerId: k.containerId, ifName: k.ifName, netns: "", address: k.address, routeTable: 254, ...(k.podNamespace ? { podNamespace: k.podNamespace } : {}), ...(k.podName ? { podName: k.podName } : {}) };
      await d.netConfig.unwire(cardWiring(d, base, c)).catch(() => undefined);
    }
    released += (await d.broker.serial(() => ledger.releasePod(k, d.broker.now(), d.broker.cooldownMs))).length;
  }
  if (released > 0) {
    d.broker.decide("released gone pods' network card addresses", { released });
    d.broker.usageChanged();
  }
  return released;
}

/** The host veth of a pod's interface on a card: recorded, else named as net-config names it. */
export function cardHostVeth(prefix: string, c: CardAllocation): string {
  const a = c.alloc;
  return a.hostVeth ?? hostVethName(prefix, { namespace: a.podNamespace, name: a.podName !== undefined ? `${a.podName}.${c.index}` : undefined, containerId: a.containerId, ifName: podIfName(a.ifName, c.index) });
}
