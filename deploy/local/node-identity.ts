// How a node of the local deployment looks to IMDS and to Kubernetes, derived from the
// simulated EC2 state. Pure.
import type { ImdsInstanceView } from "./sim-imds/app.ts";
import type { Ec2Model } from "./sim-ec2/state.ts";
import type { Instance } from "./sim-ec2/types.ts";
import { maxPods } from "../../services/pool-manager/src/core/max-pods.ts";
import { instanceTypeLimits } from "./sim-ec2/instance-types.ts";
import { registeredNotReady } from "./kubelet/node-status.ts";

/**
 * The kubelet's --max-pods on an EKS AMI node (pool-manager's max-pods formula): without prefix
 * delegation, or with it (an IPv6 node, whose pods come from /80 prefixes); 110 for a type the
 * simulator lacks.
 */
export function eksMaxPods(instanceType: string, prefixDelegation = false): number {
  const l = instanceTypeLimits(instanceType);
  return l ? maxPods(l, { prefixDelegation, customNetworking: false }) : 110;
}

/** EC2's private DNS name, which kubelet on EC2 uses as the node name. */
export function privateDnsName(privateIp: string, region: string): string {
  const host = `ip-${privateIp.replaceAll(".", "-")}`;
  return region === "us-east-1" ? `${host}.ec2.internal` : `${host}.${region}.compute.internal`;
}

/**
 * The node role's credentials as IMDS hands them out on EC2 (the simulated EC2 accepts any): the
 * services' AWS SDK finds them through its default chain, as in the aws-node container on a real
 * node, with nothing in the environment. Valid six hours from now, renewed at every read.
 */
export function instanceProfileCredentials(nowMs: number): NonNullable<ImdsInstanceView["instanceProfile"]> {
  return {
    role: "aws-vpc-cni-local-node",
    accessKeyId: "ASIALOCALDEPLOYMENT0",
    secretAccessKey: "local-deployment-instance-profile-secret",
    token: "local-deployment-session-token",
    lastUpdated: new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, "Z"),
    expiration: new Date(nowMs + 6 * 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z"),
  };
}

export function imdsViewOf(model: Ec2Model, region: string, instanceId: string, nowMs: number): ImdsInstanceView | undefined {
  const inst = model.state.instances[instanceId];
  const interfaces = model.imdsView(instanceId, nowMs);
  if (!inst || !interfaces) return undefined;
  return {
    instanceId,
    instanceType: inst.instanceType,
    az: inst.az,
    region,
    localIpv4: inst.privateIp,
    ...(inst.ipv6Address ? { localIpv6: inst.ipv6Address } : {}),
    primaryMac: model.state.enis[inst.primaryEniId]?.mac ?? "",
    instanceProfile: instanceProfileCredentials(nowMs),
    interfaces: interfaces.map((i) => {
      const v6 = model.state.subnets[i.subnetId]?.ipv6Cidr;
      return { ...i, subnetIpv6Cidrs: v6 ? [v6] : [] };
    }),
  };
}

/**
 * The Node object kubelet would register on EC2 (cloud provider aws). A node with a kubelet
 * registers NotReady: its kubelet reports Ready once the node's CNI configuration is there.
 * Without one (a cloud-only deployment) nothing would ever report, so it is Ready at once.
 */
export function nodeObject(inst: Instance, name: string, region: string, withKubelet = false, ipv6Node = inst.ipv6Address !== null): Record<string, unknown> {
  // An IPv6 node runs prefix delegation: its max-pods is the PD one. An IPv4 node with a
  // primary IPv6 (for IPv6 egress) keeps the IPv4 one.
  const pods = String(eksMaxPods(inst.instanceType, ipv6Node));
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      labels: {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": inst.instanceType,
        "topology.kubernetes.io/region": region,
        "topology.kubernetes.io/zone": inst.az,
      },
      annotations: {},
    },
    spec: { providerID: `aws:///${inst.az}/${inst.id}` },
    status: {
      addresses: [
        { type: "InternalIP", address: inst.privateIp },
        ...(inst.ipv6Address ? [{ type: "InternalIP", address: inst.ipv6Address }] : []),
        { type: "InternalDNS", address: name },
        { type: "Hostname", address: name },
      ],
      conditions: [withKubelet ? registeredNotReady(Date.now()) : { type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status" }],
      capacity: { pods },
      allocatable: { pods },
      nodeInfo: { architecture: "amd64", operatingSystem: "linux", kubeletVersion: "v1.31.0" },
    },
  };
}
