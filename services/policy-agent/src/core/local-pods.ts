/**
 * The pods on this node, as addr-broker reported them (enforce after ADD, delete after DEL).
 * A pod is keyed by namespace/name; a new pod that takes a host veth or an address another
 * entry holds replaces that entry (the old pod is gone: its address was released and reused).
 */
import { z } from "../../../../shared/zod.ts";
import { canonicalIp } from "../../../../shared/ip.ts";
import { ifName, ipAddress } from "../../../../shared/contracts/fields.ts";
import type { LocalPod } from "./resolve.ts";

export const localPodSchema = z.object({
  namespace: z.string().check(z.minLength(1), z.maxLength(63)),
  name: z.string().check(z.minLength(1), z.maxLength(253)),
  hostVeth: ifName,
  addresses: z.array(ipAddress).check(z.minLength(1)),
});

export const podBookFile = z.object({ version: z.literal(1), pods: z.array(localPodSchema) });

export function podKey(p: { namespace: string; name: string }): string {
  return `${p.namespace}/${p.name}`;
}

export class LocalPods {
  private readonly pods = new Map<string, LocalPod>();

  constructor(initial: readonly LocalPod[] = []) {
    for (const p of initial) this.upsert(p);
  }

  /** Adds or replaces `pod`; returns the keys of other entries it displaced. */
  upsert(pod: LocalPod): string[] {
    const key = podKey(pod);
    const addresses = new Set(pod.addresses.map((a) => canonicalIp(a) ?? a));
    const displaced: string[] = [];
    for (const [k, p] of this.pods) {
      if (k === key) continue;
      if (p.hostVeth === pod.hostVeth || p.addresses.some((a) => addresses.has(canonicalIp(a) ?? a))) displaced.push(k);
    }
    for (const k of displaced) this.pods.delete(k);
    this.pods.set(key, { namespace: pod.namespace, name: pod.name, hostVeth: pod.hostVeth, addresses: [...addresses] });
    return displaced;
  }

  remove(namespace: string, name: string): LocalPod | undefined {
    const key = podKey({ namespace, name });
    const p = this.pods.get(key);
    this.pods.delete(key);
    return p;
  }

  get(namespace: string, name: string): LocalPod | undefined {
    return this.pods.get(podKey({ namespace, name }));
  }

  byAddress(ip: string): LocalPod | undefined {
    const c = canonicalIp(ip) ?? ip;
    return [...this.pods.values()].find((p) => p.addresses.includes(c));
  }

  list(): LocalPod[] {
    return [...this.pods.values()];
  }

  get size(): number {
    return this.pods.size;
  }
}
