/**
 * addr-broker → net-config: pods with a branch ENI (security groups for pods). The pod's
 * address, VLAN id and MAC come from the pod's `vpc.amazonaws.com/pod-eni` annotation; the
 * trunk ENI's MAC from pool-manager's capacity. No route table is sent: a branch ENI's is
 * 100 + its VLAN id.
 */
import { int, lazy, z } from "../zod.ts";
import { route } from "../ipc/contract.ts";
import { ifName, ipAddress, mac, netnsPath } from "./fields.ts";
import { podWiring } from "./netconfig.ts";

/**
 * One element of the pod annotation `vpc.amazonaws.com/pod-eni`, as the VPC resource
 * controller writes it: all eight keys, always (none is omitempty upstream). The simulated
 * controller writes it and addr-broker reads it.
 */
export interface PodEniDetails {
  eniId: string;
  ifAddress: string;
  privateIp: string;
  ipv6Addr: string;
  vlanId: number;
  subnetCidr: string;
  subnetV6Cidr: string;
  associationID: string;
}

export const branchWiring = lazy(() => z.extend(z.omit(podWiring, { routeTable: true }), {
  /** The resource controller's VLAN ids are 1..120 (0 is reserved). */
  vlanId: int().check(z.minimum(1), z.maximum(120)),
  /** The branch ENI's MAC: given to the `vlan.eth.<vlanId>` link. */
  branchMac: mac,
  /** The trunk ENI's MAC: the VLAN link's parent is the link with it. */
  trunkMac: mac,
  /** The branch subnet's gateway (IPv4: its network address + 1; IPv6: fe80:ec2::1). */
  subnetGateway: ipAddress,
  enforcingMode: z.enum(["strict", "standard"]),
}));
export type BranchWiring = z.infer<typeof branchWiring>;

export const wireBranch = route("POST", "/v1/branch/wire", branchWiring, lazy(() => z.object({ hostVeth: ifName, podMac: mac, podIfIndex: int(), hostMac: mac })));
/** DEL needs only what names the kernel objects: a DEL from prevResult knows the address and VLAN id, not the MACs. */
export const branchUnwiring = lazy(() => z.extend(z.partial(branchWiring, { branchMac: true, trunkMac: true, subnetGateway: true, enforcingMode: true }), { netns: z.union([netnsPath, z.literal("")]) }));
export type BranchUnwiring = z.infer<typeof branchUnwiring>;
export const unwireBranch = route("POST", "/v1/branch/unwire", branchUnwiring, lazy(() => z.object({ removed: z.array(z.string()) })));
export const checkBranch = route("POST", "/v1/branch/check", branchWiring, lazy(() => z.object({ ok: z.boolean(), problems: z.array(z.string()) })));
