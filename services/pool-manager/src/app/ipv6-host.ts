/**
 * What the host set-up names in IPv6 mode, as upstream's ipamd does (GetLocalIPv6,
 * GetVPCIPv6CIDRs): the instance's primary IPv6 and the VPC's IPv6 CIDRs, not the IPv4 ones.
 * An IPv6 node without them is misconfigured (EKS IPv6 clusters need dual-stack subnets whose
 * instances get an IPv6 address): start-up fails saying so and is retried.
 */
import type { ImdsPort } from "../core/ports.ts";

export class Ipv6HostError extends Error {
  readonly code = "IPV6_HOST_INCOMPLETE";
}

export async function ipv6Host(imds: Pick<ImdsPort, "localIpv6" | "vpcIpv6Cidrs">, primaryMac: string): Promise<{ vpcCidrs: string[]; primaryIp: string }> {
  const [primaryIp, vpcCidrs] = await Promise.all([imds.localIpv6(), imds.vpcIpv6Cidrs(primaryMac)]);
  if (!primaryIp) throw new Ipv6HostError("ENABLE_IPv6=true: IMDS shows no IPv6 address for this instance (meta-data/ipv6); an IPv6 node needs one on its primary ENI");
  if (vpcCidrs.length === 0) throw new Ipv6HostError(`ENABLE_IPv6=true: IMDS shows no IPv6 CIDR for the VPC (network/interfaces/macs/${primaryMac}/vpc-ipv6-cidr-blocks); an IPv6 node needs a dual-stack VPC`);
  return { vpcCidrs, primaryIp };
}
