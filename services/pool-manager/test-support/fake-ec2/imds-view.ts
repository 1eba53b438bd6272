/**
 * What the instance metadata service shows of the fake EC2: each change to an instance's
 * attached interfaces (an attachment completing, a detach, addresses assigned or released)
 * becomes visible `imdsDelayMs` later, as on EC2, where IMDS lags the API; the primary
 * interface is there from the launch.
 */
import type { ImdsInterface, ImdsPort } from "../../src/core/ports.ts";

export class ImdsTimeline {
  /** Per instance: the interfaces as they became visible, oldest first. */
  private readonly seen = new Map<string, Array<{ atMs: number; interfaces: ImdsInterface[] }>>();

  record(instanceId: string, visibleAtMs: number, interfaces: ImdsInterface[]): void {
    const list = this.seen.get(instanceId) ?? [];
    list.push({ atMs: visibleAtMs, interfaces: structuredClone(interfaces) });
    list.sort((a, b) => a.atMs - b.atMs);
    this.seen.set(instanceId, list);
  }

  /** The interfaces shown at `nowMs` (empty before the first record). */
  at(instanceId: string, nowMs: number): ImdsInterface[] {
    let shown: ImdsInterface[] = [];
    for (const r of this.seen.get(instanceId) ?? []) if (r.atMs <= nowMs) shown = r.interfaces;
    return structuredClone(shown);
  }
}

/** The instance's facts and its interfaces as IMDS shows them now. */
export interface ImdsSource {
  instance(): { id: string; instanceType: string; az: string; privateIp: string; primaryMac: string };
  interfaces(): ImdsInterface[];
}

export function imdsPort(src: ImdsSource): ImdsPort {
  return {
    instanceId: async () => src.instance().id,
    instanceType: async () => src.instance().instanceType,
    availabilityZone: async () => src.instance().az,
    primaryMac: async () => src.instance().primaryMac,
    localIpv4: async () => src.instance().privateIp,
    localIpv6: async () => undefined,
    vpcIpv6Cidrs: async () => [],
    interfaces: async () => src.interfaces(),
  };
}
