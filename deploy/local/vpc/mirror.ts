// Mirrors the simulated EC2 into real links: the model's observer callbacks are synchronous;
// each becomes a job on one serial queue, so the kernel sees attach → assign → unassign →
// detach in the order EC2 did them. A failed job is logged and recorded, never blocks the rest.
// What has no event of its own (trunk associations, security groups) is followed from the
// state: every change schedules one follower job (fabric-sync.ts) on the same queue, debounced.
import { parseCidr, prefixLength, subnetGateway } from "../../../shared/ip.ts";
import type { Ec2Observer } from "../sim-ec2/observer.ts";
import type { EniLinkRef, EniLinkSpec } from "./fabric.ts";

/** What the mirror needs of the kernel (VpcFabric implements it; tests may fake it). */
export interface EniLinkPort {
  addSubnetGateway(gateway: string): Promise<void>;
  attachEni(spec: EniLinkSpec): Promise<string>;
  detachEni(nodeIndex: number, deviceIndex: number, networkCard?: number): Promise<void>;
  routeToEni(eni: EniLinkRef, cidr: string): Promise<void>;
  unrouteFromEni(eni: EniLinkRef, cidr: string): Promise<void>;
}

export interface MirrorLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

type AttachedEvent = Parameters<Ec2Observer["eniAttached"]>[0];
type AddressEvent = Parameters<Ec2Observer["addressesAssigned"]>[0];

interface MirroredEni extends EniLinkRef {
  eniId: string;
  cidrs: Set<string>;
}

/** An ENI with a link of its own in the router, as a follower sees it. */
export type MirroredLink = Readonly<EniLinkRef & { eniId: string }>;

/** Follows the EC2 state once links are in place (branch routes, security groups). */
export interface StateFollower {
  sync(links: ReadonlyMap<string, MirroredLink>): Promise<void>;
}

export interface MirrorFailure {
  event: string;
  eniId: string;
  error: string;
}

export class EniMirror implements Ec2Observer {
  private tail: Promise<void> = Promise.resolve();
  private readonly nodes = new Map<string, number>();
  /** Events of instances not registered yet, replayed by registerInstance. */
  private readonly parked = new Map<string, Array<() => Promise<void>>>();
  private readonly enis = new Map<string, MirroredEni>();
  /** Attached ENIs given no link (efa-only): their address events are ignored. */
  private readonly notMirrored = new Set<string>();
  private readonly gateways = new Set<string>();
  readonly failures: MirrorFailure[] = [];
  private follower: StateFollower | undefined;
  private followTimer: ReturnType<typeof setTimeout> | undefined;
  private followFired: Promise<void> = Promise.resolve();
  private releaseFollow: (() => void) | undefined;

  constructor(
    private readonly port: EniLinkPort,
    private readonly log: MirrorLog,
    /** How long state changes are gathered before the follower runs once for all of them. */
    private readonly debounceMs = 20,
  ) {}

  /** Sets who follows the state (fabric-sync.ts) and runs it once. */
  follow(follower: StateFollower): void {
    this.follower = follower;
    this.stateChanged();
  }

  /** No follower any more (teardown): a run not started yet is dropped. */
  unfollow(): void {
    this.follower = undefined;
    if (this.followTimer) clearTimeout(this.followTimer);
    this.followTimer = undefined;
    this.releaseFollow?.();
  }

  /** Ec2Observer: any change at all; the follower runs `debounceMs` later, after the jobs queued by then. */
  stateChanged(): void {
    if (!this.follower || this.followTimer) return;
    this.followFired = new Promise((r) => (this.releaseFollow = r));
    this.followTimer = setTimeout(() => {
      this.followTimer = undefined;
      this.enqueue(async () => {
        try {
          await this.follower?.sync(this.enis);
        } catch (err) {
          const error = err instanceof Error ? err.message : String(err);
          this.failures.push({ event: "stateChanged", eniId: "", error });
          this.log.error({ event: "stateChanged", error }, "following the EC2 state into the kernel failed");
        }
      });
      this.releaseFollow?.();
    }, this.debounceMs);
  }

  /** Binds an instance to its node namespace; replays events that arrived before. */
  registerInstance(instanceId: string, nodeIndex: number): void {
    this.nodes.set(instanceId, nodeIndex);
    const jobs = this.parked.get(instanceId) ?? [];
    this.parked.delete(instanceId);
    for (const job of jobs) this.enqueue(job);
  }

  /** Resolves when every job queued so far has run, a pending follower run included. */
  async idle(): Promise<void> {
    for (;;) {
      await this.followFired;
      const tail = this.tail;
      await tail;
      if (tail === this.tail && this.followTimer === undefined) return;
    }
  }

  /** The ENIs with a link right now, for /debug and tests. */
  snapshot(): Array<{ eniId: string; nodeIndex: number; networkCard?: number; deviceIndex: number; primaryIp: string; cidrs: string[] }> {
    return [...this.enis.values()].map((e) => ({ eniId: e.eniId, nodeIndex: e.nodeIndex, ...(e.networkCard ? { networkCard: e.networkCard } : {}), deviceIndex: e.deviceIndex, primaryIp: e.primaryIp, cidrs: [...e.cidrs].sort() }));
  }

  eniAttached(e: AttachedEvent): void {
    // The fabric routes IP: efa-only ENIs (no address) get no link. ENIs on other network cards
    // do, named by card and device (each card numbers its devices from 0).
    const networkCard = e.networkCardIndex ?? 0;
    if (e.primaryIp === "") {
      this.log.info({ eniId: e.eniId, instanceId: e.instanceId, networkCardIndex: networkCard, deviceIndex: e.deviceIndex }, "ENI not mirrored: the local fabric wires IP interfaces only (efa-only has none)");
      this.notMirrored.add(e.eniId);
      return;
    }
    this.forInstance(e.instanceId, "eniAttached", e.eniId, async (nodeIndex) => {
      const gateway = subnetGateway(e.subnetCidr);
      if (!this.gateways.has(gateway)) {
        await this.port.addSubnetGateway(gateway);
        this.gateways.add(gateway);
      }
      const spec: EniLinkSpec = { nodeIndex, deviceIndex: e.deviceIndex, mac: e.mac, primaryIp: e.primaryIp, ...(networkCard !== 0 ? { networkCard } : {}) };
      // Card 0's device 0 is configured as DHCP does on EC2; other ENIs come up DOWN and bare.
      if (e.deviceIndex === 0 && networkCard === 0) spec.configure = { prefixLen: prefixLength(e.subnetCidr), gateway, ...(e.primaryIpv6 ? { primaryIpv6: e.primaryIpv6 } : {}) };
      await this.port.attachEni(spec);
      this.enis.set(e.eniId, { eniId: e.eniId, nodeIndex, deviceIndex: e.deviceIndex, ...(networkCard !== 0 ? { networkCard } : {}), primaryIp: e.primaryIp, mac: e.mac, cidrs: new Set() });
      this.log.info({ eniId: e.eniId, instanceId: e.instanceId, nodeIndex, networkCard, deviceIndex: e.deviceIndex, mac: e.mac }, "ENI link created");
    });
  }

  eniDetached(e: { eniId: string; instanceId: string; mac: string }): void {
    if (this.notMirrored.delete(e.eniId)) return;
    this.forInstance(e.instanceId, "eniDetached", e.eniId, async () => {
      const eni = this.enis.get(e.eniId);
      if (!eni) return;
      await this.port.detachEni(eni.nodeIndex, eni.deviceIndex, eni.networkCard);
      this.enis.delete(e.eniId);
      this.log.info({ eniId: e.eniId, instanceId: e.instanceId }, "ENI link deleted");
    });
  }

  addressesAssigned(e: AddressEvent): void {
    this.forAddresses(e, "addressesAssigned", async (eni, cidr) => {
      await this.port.routeToEni(eni, cidr);
      eni.cidrs.add(cidr);
    });
  }

  addressesUnassigned(e: AddressEvent): void {
    this.forAddresses(e, "addressesUnassigned", async (eni, cidr) => {
      await this.port.unrouteFromEni(eni, cidr);
      eni.cidrs.delete(cidr);
    });
  }

  private forAddresses(e: AddressEvent, event: string, each: (eni: MirroredEni, cidr: string) => Promise<void>): void {
    // An ENI that is not attached has no link: its addresses are announced again at attach.
    if (e.instanceId === null || this.notMirrored.has(e.eniId)) return;
    this.forInstance(e.instanceId, event, e.eniId, async () => {
      const eni = this.enis.get(e.eniId);
      if (!eni) throw new Error(`ENI ${e.eniId} has no link (attach was not mirrored)`);
      for (const cidr of e.cidrs) {
        if (!parseCidr(cidr, false)) throw new Error(`cidr: invalid ${JSON.stringify(cidr)}`);
        await each(eni, cidr);
      }
    });
  }

  private forInstance(instanceId: string, event: string, eniId: string, job: (nodeIndex: number) => Promise<void>): void {
    const run = async () => {
      const nodeIndex = this.nodes.get(instanceId);
      if (nodeIndex === undefined) throw new Error(`instance ${instanceId} is not a node of this deployment`);
      await job(nodeIndex);
    };
    const guarded = async () => {
      try {
        await run();
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        this.failures.push({ event, eniId, error });
        this.log.error({ event, eniId, instanceId, error }, "mirroring an EC2 change into the kernel failed");
      }
    };
    if (this.nodes.has(instanceId)) this.enqueue(guarded);
    else {
      const list = this.parked.get(instanceId) ?? [];
      list.push(guarded);
      this.parked.set(instanceId, list);
    }
  }

  private enqueue(job: () => Promise<void>): void {
    this.tail = this.tail.then(job);
  }
}
