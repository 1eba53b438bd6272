/**
 * ENABLE_IMDS_ONLY_MODE (upstream's DescribeAllENIs with the EC2 call skipped): the node's
 * ENIs as IMDS shows them, in the port's `Eni` shape, so start-up adopts them as it adopts
 * what EC2 answers. IMDS has no tags, no interface type and no attachment id: every ENI is
 * managed (no `no_manage` tag can be seen), none is a trunk or EFA ENI, as upstream.
 */
import { knownInstanceLimits } from "../core/known-instance-types.ts";
import type { Ec2Port, Eni, ImdsInterface, InstanceLimits } from "../core/ports.ts";

export function enisFromImds(ifs: readonly ImdsInterface[], instanceId: string): Eni[] {
  return [...ifs]
    .sort((a, b) => a.deviceNumber - b.deviceNumber)
    .map((i) => {
      const [primaryIp = "", ...secondaryIps] = i.localIpv4s;
      return {
        id: i.interfaceId,
        mac: i.mac,
        subnetId: i.subnetId,
        vpcId: i.vpcId ?? "",
        description: "",
        status: "in-use",
        interfaceType: "interface",
        attachment: { id: "", instanceId, deviceIndex: i.deviceNumber, networkCard: i.networkCard, status: "attached" },
        primaryIp,
        secondaryIps,
        ipv4Prefixes: [...i.ipv4Prefixes],
        ipv6Addresses: [...i.ipv6s],
        ipv6Prefixes: [...i.ipv6Prefixes],
        securityGroups: [...i.securityGroupIds],
        tags: {},
      };
    });
}

/**
 * The instance type's limits without EC2 when the type is in the project's table; else the
 * one DescribeInstanceTypes call upstream also makes in this mode (its FetchInstanceTypeLimits
 * asks EC2 for a type missing from its compiled table).
 */
export async function limitsWithoutEc2(ec2: Ec2Port, instanceType: string): Promise<InstanceLimits> {
  return knownInstanceLimits(instanceType) ?? (await ec2.instanceLimits(instanceType));
}
