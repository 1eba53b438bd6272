// A two-ENI instance used by the IMDS tests.
import type { ImdsInstanceView } from "./metadata-tree.ts";

export const twoEniView: ImdsInstanceView = {
  instanceId: "i-0123456789abcdef0",
  instanceType: "m5.large",
  az: "us-west-2a",
  region: "us-west-2",
  localIpv4: "10.0.1.10",
  primaryMac: "02:00:00:00:00:01",
  interfaces: [
    {
      mac: "02:00:00:00:00:02",
      deviceNumber: 1,
      networkCard: 0,
      interfaceId: "eni-2",
      subnetId: "subnet-b",
      subnetCidr: "10.0.2.0/24",
      vpcId: "vpc-1",
      vpcCidrs: ["10.0.0.0/16", "100.64.0.0/16"],
      securityGroupIds: ["sg-1", "sg-2"],
      localIpv4s: ["10.0.2.20", "10.0.2.21"],
      ipv4Prefixes: ["10.0.2.32/28"],
      ipv6s: ["2600:1f14::20"],
      ipv6Prefixes: ["2600:1f14::1:0:0:0/80"],
      subnetIpv6Cidrs: ["2600:1f14::/64"],
    },
    {
      mac: "02:00:00:00:00:01",
      deviceNumber: 0,
      interfaceId: "eni-1",
      subnetId: "subnet-a",
      subnetCidr: "10.0.1.0/24",
      vpcId: "vpc-1",
      vpcCidrs: ["10.0.0.0/16"],
      securityGroupIds: ["sg-1"],
      localIpv4s: ["10.0.1.10", "10.0.1.11", "10.0.1.12"],
      ipv4Prefixes: [],
      ipv6s: [],
      ipv6Prefixes: [],
      subnetIpv6Cidrs: [],
    },
  ],
};
