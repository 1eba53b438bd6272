/**
 * The instance types the fake EC2 knows: the handful the pool-manager's tests run on, with
 * EC2's figures (ENIs, IPv4 addresses per ENI; IPv6 per ENI equals IPv4 for these).
 */
import type { InstanceLimits } from "../../src/core/ports.ts";

const nitro = (instanceType: string, vcpus: number, maxEnis: number, ipv4PerEni: number, trunking: boolean): InstanceLimits => ({
  instanceType,
  maxEnis,
  ipv4PerEni,
  ipv6PerEni: ipv4PerEni,
  trunking,
  vcpus,
  hypervisor: "nitro",
  networkCards: 1,
});

export const FAKE_INSTANCE_TYPES: Readonly<Record<string, InstanceLimits>> = {
  "t3.medium": nitro("t3.medium", 2, 3, 6, false),
  "m5.large": nitro("m5.large", 2, 3, 10, true),
  "m5.xlarge": nitro("m5.xlarge", 4, 4, 15, true),
};

/** Secondary address and prefix slots of an ENI no instance holds (checked again at attach). */
export const UNATTACHED_IPV4_SLOTS = 50;
