/** Capacity snapshots for the core's tests. */
import type { CapacitySnapshot } from "../../../../shared/contracts/capacity.ts";

export function capacity(enis: Array<{ id: string; device: number; cidrs: Array<string | { cidr: string; draining: boolean }>; usable?: boolean }>, extra: Partial<CapacitySnapshot> = {}): CapacitySnapshot {
  return {
    version: 1,
    epoch: "e1",
    family: "ipv4",
    prefixDelegation: false,
    vpcCidrs: ["10.0.0.0/16"],
    ready: true,
    enis: enis.map((e) => ({
      id: e.id,
      deviceNumber: e.device,
      networkCard: 0,
      routeTable: e.device === 0 ? 254 : e.device + 1,
      mac: `02:00:00:00:00:0${e.device}`,
      subnetId: "subnet-1",
      subnetCidr: "10.0.0.0/16",
      gateway: "10.0.0.1",
      primaryIp: `10.0.0.${10 + e.device}`,
      primary: e.device === 0,
      usable: e.usable ?? true,
      cidrs: e.cidrs.map((c) => (typeof c === "string" ? { cidr: c, kind: c.endsWith("/32") ? ("address" as const) : ("prefix" as const), draining: false } : { cidr: c.cidr, kind: "address" as const, draining: c.draining })),
    })),
    ...extra,
  };
}
