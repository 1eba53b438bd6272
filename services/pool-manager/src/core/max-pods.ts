/**
 * The kubelet's --max-pods for an instance type, by upstream's formula (its max-pods
 * calculator and eni-max-pods.txt): every ENI but its primary address holds a pod address,
 * plus 2 for the host-network pods upstream counts in (aws-node, kube-proxy):
 *   ENIs × (IPv4 per ENI − 1) + 2
 * MAX_ENI caps the ENIs; with custom networking the primary ENI serves no pod (one ENI
 * fewer); with prefix delegation each slot is a /28 (× 16), and the result is capped at 110
 * on an instance with fewer than 30 vCPUs, else at 250. The one place the formula is written:
 * the max-pods command, the local deployment's kubelet and the benchmarks all use it.
 */

export interface MaxPodsLimits {
  maxEnis: number;
  ipv4PerEni: number;
  vcpus: number;
}

export interface MaxPodsOptions {
  prefixDelegation: boolean;
  customNetworking: boolean;
  /** MAX_ENI: at most this many ENIs (values < 1 mean the instance's limit). */
  maxEni?: number;
}

/** Addresses of one /28 prefix. */
const PREFIX_ADDRESSES = 16;

export function maxPods(l: MaxPodsLimits, o: MaxPodsOptions): number {
  const capped = o.maxEni !== undefined && o.maxEni >= 1 ? Math.min(o.maxEni, l.maxEnis) : l.maxEnis;
  const enis = o.customNetworking ? capped - 1 : capped;
  const perEni = (l.ipv4PerEni - 1) * (o.prefixDelegation ? PREFIX_ADDRESSES : 1);
  const n = enis * perEni + 2;
  if (!o.prefixDelegation) return n;
  return Math.min(n, l.vcpus < 30 ? 110 : 250);
}
