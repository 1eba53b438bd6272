/**
 * What the simulated EC2 tells the local deployment, so it can mirror EC2 into real links.
 *
 * Calls are synchronous, right after the state changed. Contract for a mirror:
 * - `eniAttached` fires when an attachment becomes "attached" (not when it starts
 *   "attaching"), also for an instance's primary ENI at launch. It is followed at once by
 *   `addressesAssigned` with every secondary address and prefix the ENI carries at that
 *   moment (the primary address is in `eniAttached.primaryIp`, never in the cidrs).
 * - `addressesAssigned` / `addressesUnassigned` fire for every later change of an ENI's
 *   secondary addresses/prefixes; `instanceId` is null when the ENI is not attached
 *   (creation of an ENI with addresses fires nothing: they are announced at attach).
 * - Detaching an attached ENI fires `addressesUnassigned` (all its secondary cidrs) and
 *   then `eniDetached`.
 * cidrs are "10.0.1.5/32", "10.0.2.16/28", "2600::1/128", "2600:0:0:1::/80".
 */
export interface Ec2Observer {
  eniAttached(e: {
    eniId: string;
    instanceId: string;
    deviceIndex: number;
    /** The network card it is attached on (0 when absent). */
    networkCardIndex?: number;
    mac: string;
    /** "" for an efa-only ENI (it has no IP address). */
    primaryIp: string;
    /** The instance's primary IPv6 (device 0 launched with one); also among the cidrs that follow, as a /128. */
    primaryIpv6?: string;
    subnetId: string;
    subnetCidr: string;
  }): void;
  eniDetached(e: { eniId: string; instanceId: string; mac: string }): void;
  addressesAssigned(e: { eniId: string; instanceId: string | null; mac: string; cidrs: string[] }): void;
  addressesUnassigned(e: { eniId: string; instanceId: string | null; mac: string; cidrs: string[] }): void;
  /**
   * After every successful change (and after the events above of that change): for observers
   * that follow the state itself (trunk associations, security groups, ENI groups), which
   * have no event of their own. Optional.
   */
  stateChanged?(): void;
}

export type Ec2Event =
  | ({ kind: "eniAttached" } & Parameters<Ec2Observer["eniAttached"]>[0])
  | ({ kind: "eniDetached" } & Parameters<Ec2Observer["eniDetached"]>[0])
  | ({ kind: "addressesAssigned" } & Parameters<Ec2Observer["addressesAssigned"]>[0])
  | ({ kind: "addressesUnassigned" } & Parameters<Ec2Observer["addressesUnassigned"]>[0]);

export function deliver(observer: Ec2Observer, ev: Ec2Event): void {
  const { kind, ...rest } = ev;
  switch (kind) {
    case "eniAttached":
      observer.eniAttached(rest as Parameters<Ec2Observer["eniAttached"]>[0]);
      break;
    case "eniDetached":
      observer.eniDetached(rest as Parameters<Ec2Observer["eniDetached"]>[0]);
      break;
    case "addressesAssigned":
      observer.addressesAssigned(rest as Parameters<Ec2Observer["addressesAssigned"]>[0]);
      break;
    case "addressesUnassigned":
      observer.addressesUnassigned(rest as Parameters<Ec2Observer["addressesUnassigned"]>[0]);
      break;
  }
}
