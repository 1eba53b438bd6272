/**
 * Network limits of common instance types (EC2's published figures: ENIs per instance, IPv4
 * addresses per ENI; IPv6 per ENI equals IPv4 for these). The max-pods command asks EC2
 * (DescribeInstanceTypes) first; this table is its fallback when EC2 cannot be asked (no
 * credentials, no network), and it knows only these types.
 */
import type { InstanceLimits } from "./ports.ts";

/** [vCPUs, ENIs, IPv4 per ENI, trunk ENI supported] */
type Row = [number, number, number, boolean];

const ROWS: Record<string, Row> = {
  "t3.nano": [2, 2, 2, false],
  "t3.micro": [2, 2, 2, false],
  "t3.small": [2, 3, 4, false],
  "t3.medium": [2, 3, 6, false],
  "t3.large": [2, 3, 12, false],
  "t3.xlarge": [4, 4, 15, false],
  "t3.2xlarge": [8, 4, 15, false],
  "m5.large": [2, 3, 10, true],
  "m5.xlarge": [4, 4, 15, true],
  "m5.2xlarge": [8, 4, 15, true],
  "m5.4xlarge": [16, 8, 30, true],
  "m5.8xlarge": [32, 8, 30, true],
  "m5.12xlarge": [48, 8, 30, true],
  "m5.16xlarge": [64, 15, 50, true],
  "m5.24xlarge": [96, 15, 50, true],
  "m6i.large": [2, 3, 10, true],
  "m6i.xlarge": [4, 4, 15, true],
  "m6i.2xlarge": [8, 4, 15, true],
  "m6i.4xlarge": [16, 8, 30, true],
  "c5.large": [2, 3, 10, true],
  "c5.xlarge": [4, 4, 15, true],
  "c5.2xlarge": [8, 4, 15, true],
  "c5.4xlarge": [16, 8, 30, true],
  "c5.9xlarge": [36, 8, 30, true],
  "r5.large": [2, 3, 10, true],
  "r5.xlarge": [4, 4, 15, true],
  "r5.2xlarge": [8, 4, 15, true],
};

export function knownInstanceLimits(instanceType: string): InstanceLimits | undefined {
  const row = Object.hasOwn(ROWS, instanceType) ? ROWS[instanceType] : undefined;
  if (!row) return undefined;
  const [vcpus, maxEnis, ipv4PerEni, trunking] = row;
  return { instanceType, maxEnis, ipv4PerEni, ipv6PerEni: ipv4PerEni, trunking, vcpus, hypervisor: "nitro", networkCards: 1 };
}

export function knownInstanceTypes(): string[] {
  return Object.keys(ROWS);
}
