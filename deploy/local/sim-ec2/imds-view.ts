/**
 * What IMDS shows for an instance, and when: every change to an instance's attached ENIs is
 * recorded with the time IMDS sees it (now + propagation delay).
 */
import { hostCidr } from "../../../shared/ip.ts";
import { instanceTypeLimits } from "./instance-types.ts";
import type { Ec2State } from "./types.ts";

export interface ImdsInterface {
  mac: string;
  deviceNumber: number;
  /** Shown (IMDS `network-card`) only when the instance type has several network cards, as on EC2. */
  networkCard?: number;
  interfaceId: string;
  subnetId: string;
  subnetCidr: string;
  vpcId: string;
  vpcCidrs: string[];
  vpcIpv6Cidrs: string[];
  securityGroupIds: string[];
  /** Primary first. */
  localIpv4s: string[];
  ipv4Prefixes: string[];
  ipv6s: string[];
  ipv6Prefixes: string[];
}

/** The interfaces attached (status "attached") to an instance right now, by device number. */
export function currentImdsInterfaces(state: Ec2State, instanceId: string): ImdsInterface[] {
  const type = state.instances[instanceId]?.instanceType;
  const multiCard = (type ? instanceTypeLimits(type)?.networkCards ?? 1 : 1) > 1;
  return Object.values(state.enis)
    .filter((e) => e.attachment?.instanceId === instanceId && e.attachment.status === "attached")
    .sort((a, b) => (a.attachment?.networkCardIndex ?? 0) - (b.attachment?.networkCardIndex ?? 0) || (a.attachment?.deviceIndex ?? 0) - (b.attachment?.deviceIndex ?? 0))
    .map((e) => {
      const subnet = state.subnets[e.subnetId];
      return {
        mac: e.mac,
        deviceNumber: e.attachment?.deviceIndex ?? 0,
        ...(multiCard ? { networkCard: e.attachment?.networkCardIndex ?? 0 } : {}),
        interfaceId: e.id,
        subnetId: e.subnetId,
        subnetCidr: subnet?.cidr ?? "",
        vpcId: e.vpcId,
        vpcCidrs: [...(state.vpcs[e.vpcId]?.cidrs ?? [])],
        vpcIpv6Cidrs: [...(state.vpcs[e.vpcId]?.ipv6Cidrs ?? [])],
        securityGroupIds: [...e.groups],
        localIpv4s: e.primaryIp === "" ? [] : [e.primaryIp, ...e.secondaryIps],
        ipv4Prefixes: [...e.ipv4Prefixes],
        ipv6s: [...e.ipv6Addresses],
        ipv6Prefixes: [...e.ipv6Prefixes],
      };
    });
}

interface Entry {
  visibleAt: number;
  interfaces: ImdsInterface[];
}

export class ImdsTimeline {
  private readonly entries = new Map<string, Entry[]>();

  record(instanceId: string, visibleAt: number, interfaces: ImdsInterface[], nowMs: number): void {
    const list = this.entries.get(instanceId) ?? [];
    list.push({ visibleAt, interfaces });
    // Drop entries superseded by a later one that is already visible.
    let lastVisible = -1;
    list.forEach((e, i) => {
      if (e.visibleAt <= nowMs) lastVisible = i;
    });
    this.entries.set(instanceId, lastVisible > 0 ? list.slice(lastVisible) : list);
  }

  /** The latest recorded view visible at `nowMs`; [] before anything is visible. */
  view(instanceId: string, nowMs: number): ImdsInterface[] | undefined {
    const list = this.entries.get(instanceId);
    if (!list) return undefined;
    let found: Entry | undefined;
    for (const e of list) if (e.visibleAt <= nowMs) found = e;
    return found ? structuredClone(found.interfaces) : [];
  }

  forget(instanceId: string): void {
    this.entries.delete(instanceId);
  }
}

/** Secondary cidrs of an ENI as the observer announces them. */
export function secondaryCidrs(e: {
  secondaryIps: string[];
  ipv4Prefixes: string[];
  ipv6Addresses: string[];
  ipv6Prefixes: string[];
}): string[] {
  return [...e.secondaryIps.map(hostCidr), ...e.ipv4Prefixes, ...e.ipv6Addresses.map(hostCidr), ...e.ipv6Prefixes];
}
