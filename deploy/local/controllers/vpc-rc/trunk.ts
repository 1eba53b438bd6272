// One node's trunk as the VPC resource controller keeps it in memory: VLAN ids 1..120 (0 is
// reserved), the branch ENIs of each pod (by UID), and the cooldown queue of ENIs waiting to be
// disassociated and deleted. ENIs in the queue keep their VLAN and count against capacity;
// branch ENIs are never reused. Pure state, no I/O.
import type { PodEniDetails } from "../../../../shared/contracts/branch.ts";
import TRUNK_LIMITS from "../../sim-ec2/trunk-limits.json";

/** VLAN ids 0..120 exist per trunk; 0 is never given out. */
export const MAX_ALLOCATABLE_VLAN_IDS = 121;
/** An ENI whose deletion failed this often is forgotten (its VLAN stays taken), as upstream does. */
export const MAX_DELETE_RETRIES = 3;

/** The branch ENIs per trunk of an instance type (the controller's vendored table); undefined: no trunking. */
export function branchInterfaceLimit(instanceType: string): number | undefined {
  return (TRUNK_LIMITS as Record<string, number>)[instanceType];
}

/** One element of the pod annotation `vpc.amazonaws.com/pod-eni`: all 8 keys, always. */
export type EniDetails = PodEniDetails;

export interface QueuedEni {
  eniId: string;
  vlanId: number;
  associationID: string;
  /** When the pod let it go; null: delete at once (a failed creation). */
  releasedAtMs: number | null;
  retries: number;
}

export class TrunkState {
  readonly #vlans: boolean[] = Array.from({ length: MAX_ALLOCATABLE_VLAN_IDS }, (_, i) => i === 0);
  readonly pods = new Map<string, EniDetails[]>();
  deleteQueue: QueuedEni[] = [];

  constructor(
    readonly nodeName: string,
    readonly trunkId: string,
    readonly instanceId: string,
    readonly instanceType: string,
    readonly subnetId: string,
    readonly subnetCidr: string,
    readonly subnetV6Cidr: string,
    readonly instanceSecurityGroups: string[],
    readonly branchLimit: number,
  ) {}

  /** The lowest free VLAN id, now taken; undefined when all 120 are. */
  assignVlan(): number | undefined {
    const i = this.#vlans.indexOf(false);
    if (i < 0) return undefined;
    this.#vlans[i] = true;
    return i;
  }

  markVlan(vlanId: number): void {
    if (Number.isInteger(vlanId) && vlanId > 0 && vlanId < MAX_ALLOCATABLE_VLAN_IDS) this.#vlans[vlanId] = true;
  }

  freeVlan(vlanId: number): void {
    if (Number.isInteger(vlanId) && vlanId > 0 && vlanId < MAX_ALLOCATABLE_VLAN_IDS) this.#vlans[vlanId] = false;
  }

  usedVlans(): number[] {
    return this.#vlans.flatMap((used, i) => (used && i > 0 ? [i] : []));
  }

  /** Branch ENIs held by pods plus those cooling down. */
  inUse(): number {
    let n = this.deleteQueue.length;
    for (const enis of this.pods.values()) n += enis.length;
    return n;
  }

  /** Upstream's check before a pod's ENIs are created: room for one more, whatever the pod asks. */
  canCreateMore(): boolean {
    return this.inUse() < this.branchLimit;
  }

  /** A pod is gone (or finished): its ENIs start cooling down. */
  release(uid: string, nowMs: number): EniDetails[] {
    const enis = this.pods.get(uid) ?? [];
    this.pods.delete(uid);
    for (const e of enis) this.deleteQueue.push({ eniId: e.eniId, vlanId: e.vlanId, associationID: e.associationID, releasedAtMs: nowMs, retries: 0 });
    return enis;
  }

  /** ENIs to delete without cooldown (a creation that failed half way), ahead of the others. */
  pushFront(enis: QueuedEni[]): void {
    this.deleteQueue = [...enis, ...this.deleteQueue];
  }

  /** The queue's head ENIs whose cooldown has passed, removed from the queue (FIFO, as upstream). */
  takeCooledDown(nowMs: number, cooldownMs: number): QueuedEni[] {
    const due: QueuedEni[] = [];
    while (this.deleteQueue.length > 0) {
      const head = this.deleteQueue[0] as QueuedEni;
      if (head.releasedAtMs !== null && nowMs < head.releasedAtMs + cooldownMs) break;
      due.push(head);
      this.deleteQueue.shift();
    }
    return due;
  }

  /** When the queue's head is due, or undefined for an empty queue. */
  nextDueMs(cooldownMs: number): number | undefined {
    const head = this.deleteQueue[0];
    if (!head) return undefined;
    return head.releasedAtMs === null ? 0 : head.releasedAtMs + cooldownMs;
  }
}
