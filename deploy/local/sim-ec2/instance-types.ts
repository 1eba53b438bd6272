/**
 * Per-instance-type network limits, from AWS's published figures ("Maximum IP addresses per
 * network interface", EC2 user guide). IPv6 per ENI equals IPv4 per ENI for these types.
 * `trunking` is whether the type supports a trunk ENI (security groups for pods).
 */

export interface InstanceTypeLimits {
  name: string;
  vcpus: number;
  memoryMiB: number;
  maxEnis: number;
  ipv4PerEni: number;
  ipv6PerEni: number;
  trunking: boolean;
  hypervisor: "nitro" | "xen";
  networkCards: number;
  networkPerformance: string;
}

function t(
  name: string,
  vcpus: number,
  memoryMiB: number,
  maxEnis: number,
  ipv4PerEni: number,
  trunking: boolean,
  networkPerformance: string,
): InstanceTypeLimits {
  return {
    name,
    vcpus,
    memoryMiB,
    maxEnis,
    ipv4PerEni,
    ipv6PerEni: ipv4PerEni,
    trunking,
    hypervisor: "nitro",
    networkCards: 1,
    networkPerformance,
  };
}

export const INSTANCE_TYPES: Readonly<Record<string, InstanceTypeLimits>> = Object.fromEntries(
  [
    t("t3.nano", 2, 512, 2, 2, false, "Up to 5 Gigabit"),
    t("t3.micro", 2, 1024, 2, 2, false, "Up to 5 Gigabit"),
    t("t3.small", 2, 2048, 3, 4, false, "Up to 5 Gigabit"),
    t("t3.medium", 2, 4096, 3, 6, false, "Up to 5 Gigabit"),
    t("t3.large", 2, 8192, 3, 12, false, "Up to 5 Gigabit"),
    t("m5.large", 2, 8192, 3, 10, true, "Up to 10 Gigabit"),
    t("m5.xlarge", 4, 16384, 4, 15, true, "Up to 10 Gigabit"),
    t("m5.2xlarge", 8, 32768, 4, 15, true, "Up to 10 Gigabit"),
    t("m5.4xlarge", 16, 65536, 8, 30, true, "Up to 10 Gigabit"),
    t("c5.large", 2, 4096, 3, 10, true, "Up to 10 Gigabit"),
    t("c5.xlarge", 4, 8192, 4, 15, true, "Up to 10 Gigabit"),
    t("c5.4xlarge", 16, 32768, 8, 30, true, "Up to 10 Gigabit"),
    t("m6i.large", 2, 8192, 3, 10, true, "Up to 12.5 Gigabit"),
    t("m6i.xlarge", 4, 16384, 4, 15, true, "Up to 12.5 Gigabit"),
    t("r5.large", 2, 16384, 3, 10, true, "Up to 10 Gigabit"),
  ].map((x) => [x.name, x]),
);

export function instanceTypeLimits(name: string): InstanceTypeLimits | undefined {
  return INSTANCE_TYPES[name];
}
