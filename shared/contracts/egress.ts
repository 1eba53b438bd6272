/**
 * addr-broker → net-config: a pod's egress interface (egress-cni; shared/egress.ts). Only
 * pods of a node that chains egress-cni are wired through these routes.
 */
import { int, lazy, z } from "../zod.ts";
import { route } from "../ipc/contract.ts";
import { containerId, ifName, ipAddress, mac, netnsPath } from "./fields.ts";

export const egressWiring = lazy(() => z.object({
  /** The conflist's network name: with the container id it names the SNAT chain and comment. */
  network: z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$/)),
  containerId,
  /** The pod's main interface (CNI_IFNAME). */
  ifName,
  netns: netnsPath,
  netnsPid: z.optional(int().check(z.positive())),
  /** The egress address (169.254.172.0/22 or fd00::ac:00/118). */
  address: ipAddress,
  /** The node's address the traffic is SNATed to. */
  nodeIp: ipAddress,
  mtu: int().check(z.minimum(576), z.maximum(9001)),
  randomizeSnat: z.enum(["prng", "hashrandom", "none"]),
}));
export type EgressWiring = z.infer<typeof egressWiring>;

const hostVeth = lazy(() => z.string().check(z.regex(/^veth[0-9a-f]{8}$/)));

export const wireEgress = route("POST", "/v1/egress/wire", egressWiring, lazy(() => z.object({ hostVeth, hostMac: mac, podIf: ifName, podMac: mac })));

export const unwireEgress = route(
  "POST",
  "/v1/egress/unwire",
  lazy(() => z.extend(z.pick(egressWiring, { network: true, containerId: true, ifName: true, address: true, netnsPid: true }), { netns: z.union([netnsPath, z.literal("")]), hostVeth: z.optional(hostVeth) })),
  lazy(() => z.object({ removed: z.array(z.string()) })),
);

export const checkEgress = route("POST", "/v1/egress/check", lazy(() => z.extend(egressWiring, { hostVeth })), lazy(() => z.object({ ok: z.boolean(), problems: z.array(z.string()) })));
