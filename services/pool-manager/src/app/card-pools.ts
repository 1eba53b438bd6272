/**
 * ENABLE_MULTI_NIC: the pools of network cards above 0, one per eligible card, as upstream
 * v1.23.1 keeps them (one data store per card). Card 0 stays the pool model's (pool-model.ts);
 * this is only made when multiNic is on. Each card above 0 keeps WARM_IP_TARGET=1 and
 * MINIMUM_IP_TARGET=1 (upstream's fixed targets for those cards): a card with no ENI gets one
 * created in the node's subnet with its security groups, attached on that card at the card's
 * lowest free device index (from 0), with the addresses it is short of; a card short of
 * addresses gets them assigned on its ENI; addresses beyond the targets and not held by a pod
 * are given back. IPv4 secondary addresses only (see docs/DESIGN-NOTES.md).
 */
import { cardRouteTable, managedCards, secondaryCardOver, secondaryCardShort, type CardEni } from "../core/network-cards.ts";
import type { CapacityEni, EniSetup } from "../../../../shared/contracts/index.ts";
import type { Ec2Port, Eni, ImdsPort } from "../core/ports.ts";
import { isUnmanagedEni } from "./eni-adoption.ts";
import { ownerTags } from "./eni-create.ts";
import type { NodeFacts } from "./executor.ts";
import { gatewayOf } from "./pool-model.ts";
import type { NetConfigPort } from "./service-ports.ts";

export interface CardPoolEni {
  id: string;
  card: number;
  deviceIndex: number;
  mac: string;
  primaryIp: string;
  subnetId: string;
  /** Secondary IPv4 addresses (no prefix length). */
  addresses: string[];
  routeTable: number;
  /** From IMDS once it shows the ENI ("" until then). */
  subnetCidr: string;
  /** net-config has set up its link, route table and rule. */
  ready: boolean;
}

export interface CardPool {
  card: number;
  maxEnis: number;
  enis: Map<string, CardPoolEni>;
  /** Addresses of this card held by pods (told by addr-broker). */
  assigned: Set<string>;
}

export interface CardPoolsDeps {
  ec2: Ec2Port;
  imds: ImdsPort;
  net: NetConfigPort;
  /** Called when what the card pools publish changed (the capacity snapshot's version moves). */
  changed: () => void;
  facts: NodeFacts;
  opts: { clusterName?: string | undefined; additionalTags: Record<string, string>; now: () => number; manageUntaggedEnis?: boolean; disableProvisioning: boolean };
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

export class CardPools {
  readonly pools = new Map<number, CardPool>();
  /** Cards above 0 found left alone at start-up (efa-only without a managed ENI). */
  unmanagedCards: number[] = [];

  constructor(private readonly d: CardPoolsDeps) {}

  /** The ENIs of managed cards above 0 among the instance's attached ENIs, taken into their card's pool. */
  adopt(enis: Eni[], cardCount: number, cardMaxEnis: number[] | undefined): void {
    const byCard = new Map<number, CardEni[]>();
    const unmanaged = (e: Eni) => isUnmanagedEni(e, this.d.facts.instanceId, this.d.opts.manageUntaggedEnis ?? true);
    for (const e of enis) {
      const card = e.attachment?.networkCard ?? 0;
      if (card === 0) continue;
      byCard.set(card, [...(byCard.get(card) ?? []), { id: e.id, interfaceType: e.interfaceType, unmanaged: unmanaged(e) }]);
    }
    const cards = managedCards(cardCount, byCard, true).filter((c) => c > 0);
    this.unmanagedCards = Array.from({ length: Math.max(cardCount - 1, 0) }, (_, i) => i + 1).filter((c) => !cards.includes(c));
    for (const card of cards) {
      const pool: CardPool = { card, maxEnis: cardMaxEnis?.[card] ?? 0, enis: new Map(), assigned: new Set() };
      for (const e of enis) {
        if ((e.attachment?.networkCard ?? 0) !== card || e.interfaceType === "efa-only" || unmanaged(e)) continue;
        pool.enis.set(e.id, cardEniOf(e, card));
      }
      this.pools.set(card, pool);
    }
  }

  /** The ENI ids held by the card pools. */
  eniIds(): Set<string> {
    return new Set([...this.pools.values()].flatMap((p) => [...p.enis.keys()]));
  }

  /** Addresses held by pods on `card` (addr-broker's report); unknown addresses are ignored. */
  setAssigned(card: number, addresses: Iterable<string>): void {
    const p = this.pools.get(card);
    if (!p) throw new Error(`networkCard ${card} is not managed`);
    const own = new Set([...p.enis.values()].flatMap((e) => e.addresses));
    p.assigned = new Set([...addresses].filter((a) => own.has(a)));
  }

  /** addr-broker's usage report: a card address with a pod or cooling down is held (upstream counts cooling addresses as not available). */
  takeUsage(cidrs: readonly { cidr: string; assigned: number; cooling: number }[]): void {
    const held = new Set(cidrs.filter((c) => c.assigned + c.cooling > 0 && c.cidr.endsWith("/32")).map((c) => c.cidr.slice(0, -3)));
    for (const p of this.pools.values()) this.setAssigned(p.card, held);
  }

  /** One pass over the cards above 0: links set up, an ENI where a card has none, addresses to the targets. Returns the errors. */
  async cycle(): Promise<string[]> {
    const errors: string[] = [];
    await this.setUp().catch((err) => errors.push(`card ENI set-up: ${String((err as Error)?.message ?? err)}`));
    if (this.d.opts.disableProvisioning) return errors;
    for (const p of this.pools.values()) {
      try {
        await this.cycleCard(p);
      } catch (err) {
        errors.push(`network card ${p.card}: ${String((err as Error)?.message ?? err)}`);
      }
    }
    return errors;
  }

  /** ENIs IMDS shows now get their subnet, then their link, route table (10000 + 100 × card + device) and rule from net-config. */
  private async setUp(): Promise<void> {
    const pending = [...this.pools.values()].flatMap((p) => [...p.enis.values()]).filter((e) => !e.ready);
    if (pending.length === 0) return;
    const seen = new Map((await this.d.imds.interfaces()).map((i) => [i.interfaceId, i.subnetCidr]));
    for (const e of pending) {
      e.subnetCidr ||= seen.get(e.id) ?? "";
      if (!e.subnetCidr) continue;
      await this.d.net.setupEni(setupOf(e));
      e.ready = true;
      this.d.changed();
    }
  }

  /** The set-up ENIs of the cards above 0, for the capacity snapshot: never usable by ordinary pods. */
  capacityEnis(): CapacityEni[] {
    return [...this.pools.values()].flatMap((p) =>
      [...p.enis.values()]
        .filter((e) => e.ready)
        .map((e) => ({ ...setupOf(e), id: e.id, networkCard: e.card, subnetId: e.subnetId, primary: false, usable: false, cidrs: e.addresses.map((a) => ({ cidr: `${a}/32`, kind: "address" as const, draining: false })) }))
        .map(({ eniId: _, ...rest }) => rest),
    );
  }

  private async cycleCard(p: CardPool): Promise<void> {
    const total = [...p.enis.values()].reduce((n, e) => n + e.addresses.length, 0);
    const short = secondaryCardShort(total, p.assigned.size);
    if (p.enis.size === 0) {
      if (p.enis.size < p.maxEnis) await this.createOn(p, short);
      return;
    }
    if (short > 0) {
      const eni = [...p.enis.values()].sort((a, b) => a.deviceIndex - b.deviceIndex)[0]!;
      const added = await this.d.ec2.assign(eni.id, "ipv4", "address", short);
      eni.addresses.push(...added.map((c) => c.split("/")[0]!));
      this.d.changed();
      return;
    }
    const over = secondaryCardOver(total, p.assigned.size);
    if (over === 0) return;
    for (const eni of p.enis.values()) {
      const free = eni.addresses.filter((a) => !p.assigned.has(a)).slice(0, over);
      if (free.length === 0) continue;
      await this.d.ec2.unassign(eni.id, "ipv4", "address", free.map((a) => `${a}/32`));
      eni.addresses = eni.addresses.filter((a) => !free.includes(a));
      this.d.changed();
      return;
    }
  }

  /** Creates an ENI with `count` addresses and attaches it on the card at its lowest free device index; deleted again if the attach fails. */
  private async createOn(p: CardPool, count: number): Promise<void> {
    const { ec2, facts, opts } = this.d;
    const used = new Set([...(await ec2.usedDeviceIndexes(facts.instanceId, p.card)), ...[...p.enis.values()].map((e) => e.deviceIndex)]);
    let device = 0;
    while (used.has(device)) device++;
    const tags = { "node.k8s.amazonaws.com/createdAt": new Date(opts.now()).toISOString(), ...ownerTags(opts, facts.instanceId) };
    const created = await ec2.createEni({ subnetId: facts.primarySubnetId, description: `aws-K8S-${facts.instanceId}`, securityGroups: facts.primarySecurityGroups, family: "ipv4", cidrKind: "address", count, tags });
    let attachmentId: string;
    try {
      attachmentId = await ec2.attachEni(created.id, facts.instanceId, device, p.card);
    } catch (err) {
      await ec2.deleteEni(created.id).catch((e) => this.d.log("card ENI not attached and not deleted", { eni: created.id, err: String(e) }));
      throw err;
    }
    p.enis.set(created.id, { ...cardEniOf(created, p.card), deviceIndex: device, routeTable: cardRouteTable(device, p.card) });
    // As upstream's AllocENI: DeleteOnTermination right after the attach (one ENI per card, no budget to save).
    await ec2.setDeleteOnTermination(created.id, attachmentId).catch((err) => this.d.log("DeleteOnTermination not set on card ENI", { eni: created.id, err: String(err) }));
    this.d.log("ENI created on network card", { eni: created.id, card: p.card, device });
  }

  /** /debug: each managed card above 0 with its ENIs, route tables and addresses. */
  debug(): Record<string, unknown> {
    return {
      unmanagedCards: this.unmanagedCards,
      cards: Object.fromEntries(
        [...this.pools.values()].map((p) => [String(p.card), { maxEnis: p.maxEnis, assigned: [...p.assigned], enis: [...p.enis.values()] }]),
      ),
    };
  }
}

function cardEniOf(e: Eni, card: number): CardPoolEni {
  const deviceIndex = e.attachment?.deviceIndex ?? 0;
  return { id: e.id, card, deviceIndex, mac: e.mac, primaryIp: e.primaryIp, subnetId: e.subnetId, addresses: [...e.secondaryIps], routeTable: cardRouteTable(deviceIndex, card), subnetCidr: "", ready: false };
}

function setupOf(e: CardPoolEni): EniSetup {
  return { eniId: e.id, mac: e.mac, deviceNumber: e.deviceIndex, primaryIp: e.primaryIp, subnetCidr: e.subnetCidr, gateway: gatewayOf(e.subnetCidr), routeTable: e.routeTable };
}
