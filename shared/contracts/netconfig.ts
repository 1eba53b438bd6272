/**
 * Requests to net-config, the only process that changes kernel state: pod wiring (from
 * addr-broker), ENI links and route tables and host-wide rules (from pool-manager).
 */
import { int, z } from "../zod.ts";
import { route } from "../ipc/contract.ts";
import { cidr, containerId, eniId, ifName, ipAddress, mac, netnsPath, routeTable, vethPrefix } from "./fields.ts";

export const podWiring = z.object({
  containerId,
  ifName,
  netns: netnsPath,
  podNamespace: z.optional(z.string().check(z.maxLength(253))),
  podName: z.optional(z.string().check(z.maxLength(253))),
  /** The pod's address (IPv4 /32 or IPv6 /128 is implied). */
  address: ipAddress,
  /** Route table of the ENI owning the address (254 = main). */
  routeTable,
  /**
   * Pid of the process that named `netns` (the CNI shim). A runtime in a private mount
   * namespace (e.g. under `ip netns exec`) binds the netns file where net-config cannot see
   * it; net-config then opens it as /proc/<pid>/root<netns>.
   */
  netnsPid: z.optional(int().check(z.positive())),
  /**
   * Prefix of the pod's host veth: the conflist's `vethPrefix` the pod was added with.
   * Absent: net-config's own (AWS_VPC_K8S_CNI_VETHPREFIX).
   */
  vethPrefix: z.optional(vethPrefix),
  /** The conflist's `mtu` for the pod's veth pair (upstream's plugin uses it); absent: net-config's POD_MTU. */
  mtu: z.optional(int().check(z.minimum(576), z.maximum(9001))),
  /**
   * ENABLE_MULTI_NIC, a multi-homed pod: which of its interfaces this is (0, absent: the
   * first, `ifName`; n ≥ 1: the one on its n-th other network card, `ifName` mNicIf<n>,
   * with its own host veth, gateway 169.254.1.<n+1> and pod route table n).
   */
  index: z.optional(int().check(z.minimum(0), z.maximum(31))),
});
export type PodWiring = z.infer<typeof podWiring>;

export const wirePod = route(
  "POST",
  "/v1/pods/wire",
  podWiring,
  z.object({ hostVeth: ifName, podMac: mac, podIfIndex: int(), hostMac: mac }),
);

export const unwirePod = route(
  "POST",
  "/v1/pods/unwire",
  z.extend(podWiring, { netns: z.union([netnsPath, z.literal("")]) }),
  z.object({ removed: z.array(z.string()) }),
);

export const checkPod = route(
  "POST",
  "/v1/pods/check",
  podWiring,
  z.object({ ok: z.boolean(), problems: z.array(z.string()) }),
);

export const eniSetup = z.object({
  eniId,
  mac,
  deviceNumber: int().check(z.minimum(0)),
  primaryIp: ipAddress,
  subnetCidr: cidr,
  gateway: ipAddress,
  routeTable,
  /** The trunk ENI (security groups for pods): set up as any ENI but without its `from <primary IP>` rule, as upstream. */
  trunk: z.optional(z.boolean()),
});
export type EniSetup = z.infer<typeof eniSetup>;

/** Configure (idempotently) the link and route table of a secondary ENI. */
export const setupEni = route("POST", "/v1/enis/setup", eniSetup, z.object({ ifName, ok: z.literal(true) }));
export const teardownEni = route("POST", "/v1/enis/teardown", eniSetup, z.object({ ok: z.literal(true) }));

export const hostSettings = z.object({
  vpcCidrs: z.array(cidr).check(z.minLength(1)),
  primaryIp: ipAddress,
  primaryMac: mac,
});
/** Host-wide rules (SNAT, connmark, rp_filter, external service CIDRs) for the node's VPC CIDRs. */
export const setupHost = route("POST", "/v1/host/setup", hostSettings, z.object({ ok: z.literal(true) }));

/**
 * Host-side pod veths present on the node (names only). addr-broker's start-up sweep uses
 * it to find assignments whose pod is gone. A net-config that does not serve it (404)
 * makes addr-broker read the links itself.
 */
export const listPodLinks = route("GET", "/v1/pods/links", z.object({}), z.object({ hostVeths: z.array(z.string()) }));

/** Run a reconcile round now (also runs on start and periodically) and report what it repaired. */
export const reconcileNow = route(
  "POST",
  "/v1/reconcile",
  z.object({}),
  z.object({ pods: z.string(), enis: z.string(), host: z.string(), repairs: int(), errors: int() }),
);
