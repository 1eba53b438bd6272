/**
 * Per-instance-type network limits, from AWS's published figures ("Maximum IP addresses per
 * network interface", EC2 user guide). IPv6 per ENI equals IPv4 per ENI for these types.
 * `trunking` is whether the type supports a trunk ENI (security groups for pods). Types with
 * several network cards list each card's own ENI limit (`cardEnis`, by card index; EC2's
 * NetworkInfo.NetworkCards, the figures upstream's vpc_ip_resource_limit.go carries):
 * `maxEnis` is then the instance's total over all cards, as DescribeInstanceTypes says it.
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
  /** ENI limit of each network card, by card index (one entry per card). */
  cardEnis: number[];
  networkPerformance: string;
  /** Each card's NetworkPerformance. */
  cardPerformance: string;
  /** Elastic Fabric Adapter supported (InterfaceType efa / efa-only may attach). */
  efa: boolean;
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
    cardEnis: [maxEnis],
    networkPerformance,
    cardPerformance: networkPerformance,
    efa: false,
  };
}

/** A type with `cards` network cards of `enisPerCard` ENIs each (EFA-capable, as every such type is). */
function multiCard(name: string, vcpus: number, memoryMiB: number, cards: number, enisPerCard: number, ipv4PerEni: number, networkPerformance: string, cardPerformance: string): InstanceTypeLimits {
  return {
    ...t(name, vcpus, memoryMiB, cards * enisPerCard, ipv4PerEni, true, networkPerformance),
    networkCards: cards,
    cardEnis: Array.from({ length: cards }, () => enisPerCard),
    cardPerformance,
    efa: true,
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
    multiCard("c6in.32xlarge", 128, 262144, 2, 8, 50, "200 Gigabit", "100 Gigabit"),
    multiCard("p5.48xlarge", 192, 2097152, 32, 2, 50, "3200 Gigabit", "100 Gigabit"),
  ].map((x) => [x.name, x]),
);

export function instanceTypeLimits(name: string): InstanceTypeLimits | undefined {
  return INSTANCE_TYPES[name];
}
