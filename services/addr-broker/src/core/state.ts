/**
 * The broker's state: who holds which address, which addresses are cooling down, which
 * are reserved without a known owner (rebuilt from the kernel), and which CIDRs were
 * granted to pool-manager for release. Values are never mutated: every change returns a
 * new state, so a failed checkpoint write undoes a change by keeping the old one.
 */

export interface PodKey {
  networkName: string;
  containerId: string;
  ifName: string;
}

export interface Allocation extends PodKey {
  /** Canonical address text. */
  address: string;
  /** Nanoseconds since the epoch, as upstream's allocationTimestamp. */
  allocatedAtNs: bigint;
  podNamespace?: string;
  podName?: string;
  interfacesCount?: number;
  hostVeth?: string;
  netns?: string;
  routeTable?: number;
  /** Restored from a checkpoint of an earlier run and not touched since (the start-up sweep looks at these). */
  restored?: boolean;
}

export interface Cooling {
  address: string;
  /** Epoch ms of the release, and of the end of the cooldown. */
  releasedAt: number;
  until: number;
}

export interface Reserved {
  address: string;
  hostVeth?: string;
  routeTable?: number;
  why: string;
}

export interface BrokerState {
  allocations: ReadonlyMap<string, Allocation>;
  cooling: ReadonlyMap<string, Cooling>;
  reserved: ReadonlyMap<string, Reserved>;
  /** CIDR → epoch ms when drain was granted: nothing is handed out from it any more. */
  drained: ReadonlyMap<string, number>;
}

export const EMPTY_STATE: BrokerState = { allocations: new Map(), cooling: new Map(), reserved: new Map(), drained: new Map() };

export function keyOf(k: PodKey): string {
  // None of the three may contain '/', so the joined key is unambiguous.
  return `${k.networkName}/${k.containerId}/${k.ifName}`;
}

export function findAllocation(state: BrokerState, k: PodKey): Allocation | undefined {
  return state.allocations.get(keyOf(k));
}

/** Addresses that must not be handed out at `now`: assigned, still cooling, or reserved. */
export function addressesInUse(state: BrokerState, now: number): Set<string> {
  const used = new Set<string>();
  for (const a of state.allocations.values()) used.add(a.address);
  for (const c of state.cooling.values()) if (c.until > now) used.add(c.address);
  for (const r of state.reserved.values()) used.add(r.address);
  return used;
}

export function withAllocation(state: BrokerState, a: Allocation): BrokerState {
  const allocations = new Map(state.allocations);
  allocations.set(keyOf(a), a);
  const cooling = new Map(state.cooling);
  cooling.delete(a.address);
  const reserved = new Map(state.reserved);
  reserved.delete(a.address);
  return { ...state, allocations, cooling, reserved };
}

/**
 * Releases the pod's address. With a cooldown the address waits before it is handed out
 * again (conntrack entries and caches of peers still point at it); without one it is free
 * at once (used only when the pod never got to use it).
 */
export function release(state: BrokerState, k: PodKey, now: number, cooldownMs: number): { state: BrokerState; released?: Allocation } {
  const key = keyOf(k);
  const found = state.allocations.get(key);
  if (!found) return { state };
  const allocations = new Map(state.allocations);
  allocations.delete(key);
  const cooling = new Map(state.cooling);
  if (cooldownMs > 0) cooling.set(found.address, { address: found.address, releasedAt: now, until: now + cooldownMs });
  return { state: { ...state, allocations, cooling }, released: found };
}

/**
 * `state` with every address `undone` holds (and `state` does not assign) cooling until
 * now + ms: used when a failed checkpoint write undoes assignments whose wiring may be
 * in progress, so no other pod gets one of those addresses before the wiring is undone.
 */
export function coolUndone(state: BrokerState, undone: BrokerState, now: number, ms: number): BrokerState {
  const assigned = new Set([...state.allocations.values()].map((a) => a.address));
  const cooling = new Map(state.cooling);
  for (const a of undone.allocations.values()) {
    if (!assigned.has(a.address)) cooling.set(a.address, { address: a.address, releasedAt: now, until: Math.max(now + ms, cooling.get(a.address)?.until ?? 0) });
  }
  return cooling.size === state.cooling.size && [...cooling].every(([k, c]) => state.cooling.get(k) === c) ? state : { ...state, cooling };
}

/**
 * The cooling entry of `address` made by the release at `releasedAt`, shortened to end at
 * `now + cooldownMs` (removed when that is 0); `state` itself when there is no such entry or
 * it already ends sooner.
 */
export function settleCooling(state: BrokerState, address: string, releasedAt: number, now: number, cooldownMs: number): BrokerState {
  const c = state.cooling.get(address);
  if (!c || c.releasedAt !== releasedAt || c.until <= now + cooldownMs) return state;
  const cooling = new Map(state.cooling);
  if (cooldownMs > 0) cooling.set(address, { ...c, until: now + cooldownMs });
  else cooling.delete(address);
  return { ...state, cooling };
}

/** Drops a reservation (an address whose owner is unknown) into cooldown. */
export function releaseReserved(state: BrokerState, address: string, now: number, cooldownMs: number): BrokerState {
  if (!state.reserved.has(address)) return state;
  const reserved = new Map(state.reserved);
  reserved.delete(address);
  const cooling = new Map(state.cooling);
  if (cooldownMs > 0) cooling.set(address, { address, releasedAt: now, until: now + cooldownMs });
  return { ...state, reserved, cooling };
}

/** Forgets cooldowns that have ended (they no longer need to be written). */
export function pruneCooling(state: BrokerState, now: number): BrokerState {
  let changed = false;
  for (const c of state.cooling.values()) if (c.until <= now) changed = true;
  if (!changed) return state;
  const cooling = new Map([...state.cooling].filter(([, c]) => c.until > now));
  return { ...state, cooling };
}

/** Marks every allocation as touched by this run (it is no longer a start-up sweep candidate). */
export function touch(state: BrokerState, k: PodKey, update: Partial<Allocation>): BrokerState {
  const found = findAllocation(state, k);
  if (!found) return state;
  const allocations = new Map(state.allocations);
  const { restored: _r, ...rest } = { ...found, ...update };
  allocations.set(keyOf(k), rest);
  return { ...state, allocations };
}
