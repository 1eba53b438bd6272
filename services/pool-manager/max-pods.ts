/**
 * max-pods: the kubelet --max-pods value for an instance type, by upstream's formula:
 * ENIs × (IPv4 per ENI − 1) + 2 (custom networking: one ENI fewer); with prefix
 * delegation ENIs × ((IPv4 per ENI − 1) × 16) + 2, capped at 110 below 30 vCPUs, else 250.
 *   bun services/pool-manager/max-pods.ts --instance-type m5.large [--prefix-delegation] [--custom-networking]
 * Limits come from the static table of the local deployment, or DescribeInstanceTypes with --ec2.
 */
import { instanceTypeLimits } from "../../deploy/local/sim-ec2/instance-types.ts";

export function maxPods(l: { maxEnis: number; ipv4PerEni: number; vcpus: number }, o: { prefixDelegation: boolean; customNetworking: boolean }): number {
  const enis = o.customNetworking ? l.maxEnis - 1 : l.maxEnis;
  const perEni = (l.ipv4PerEni - 1) * (o.prefixDelegation ? 16 : 1);
  const n = enis * perEni + 2;
  if (!o.prefixDelegation) return n;
  return Math.min(n, l.vcpus < 30 ? 110 : 250);
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const i = args.indexOf("--instance-type");
  const type = i >= 0 ? args[i + 1] : undefined;
  if (!type) {
    process.stderr.write("usage: max-pods --instance-type <type> [--prefix-delegation] [--custom-networking]\n");
    process.exit(2);
  }
  const l = instanceTypeLimits(type);
  if (!l) {
    process.stderr.write(`max-pods: unknown instance type ${type} (field --instance-type)\n`);
    process.exit(1);
  }
  process.stdout.write(`${maxPods({ maxEnis: l.maxEnis, ipv4PerEni: l.ipv4PerEni, vcpus: l.vcpus }, { prefixDelegation: args.includes("--prefix-delegation"), customNetworking: args.includes("--custom-networking") })}\n`);
}
