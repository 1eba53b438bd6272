/**
 * A reservation (an address a live pod holds whose identity is unknown) written as one of
 * upstream's checkpoint allocation entries, so upstream's ipamd, after a downgrade, counts
 * the address as assigned. Upstream restores an entry by its address alone (it must lie in
 * one of the node's ENI CIDRs); its key is only compared on a later DEL, and an entry
 * without k8sPodNamespace/k8sPodName is kept without looking for the pod's veth. The key
 * carries the host veth, so the entry becomes the same reservation when read back, also
 * from a file upstream rewrote (upstream keeps only its own fields).
 */
import { vethPrefixOf } from "../../../../shared/naming.ts";
import type { Allocation, Reserved } from "./state.ts";

/** containerID of a reservation's entry: this marker, then the host veth or the address. */
export const RESERVED_CONTAINER_MARK = "aws-cni-reserved.";
const RESERVED_NETWORK = "aws-cni";
const RESERVED_IFNAME = "eth0";

export function reservationEntry(r: Reserved, tsMark: string): Record<string, unknown> {
  const family = r.address.includes(":") ? "ipv6" : "ipv4";
  return {
    networkName: RESERVED_NETWORK,
    containerID: RESERVED_CONTAINER_MARK + (r.hostVeth ?? r.address.replaceAll(":", "-")),
    ifName: RESERVED_IFNAME,
    [family]: r.address,
    // Unknown: when the pod got it. Upstream reads it as the assignment time only.
    allocationTimestamp: `${tsMark}0`,
    metadata: { interfacesCount: 1 },
    reservedFor: r.why,
  };
}

export function isReservationEntry(a: Allocation): boolean {
  return a.containerId.startsWith(RESERVED_CONTAINER_MARK) && a.podName === undefined;
}

export function reservationFromEntry(a: Allocation): Reserved {
  const tail = a.containerId.slice(RESERVED_CONTAINER_MARK.length);
  const r: Reserved = { address: a.address, why: "carried in the checkpoint's allocations (written for upstream's ipamd)" };
  if (vethPrefixOf(tail) !== undefined) r.hostVeth = tail;
  return r;
}
