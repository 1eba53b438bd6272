// Names of everything one local deployment creates in the kernel, derived from its DIR so
// that two deployments (two DIRs) coexist on one machine and `down` can find the leftovers
// of a crashed `up` from the DIR alone. Pure: no I/O.
import { createHash } from "node:crypto";
import { resolve } from "node:path";

/** Linux IFNAMSIZ is 16 including the NUL. */
export const MAX_LINK_NAME = 15;
const LINK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
const NETNS_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export class NameError extends Error {
  readonly code = "LOCAL_BAD_NAME";
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
  }
}

export function assertLinkName(name: string, field = "link"): string {
  if (!LINK_NAME.test(name)) throw new NameError(field, `invalid link name ${JSON.stringify(name)} (1-15 of [A-Za-z0-9_.-])`);
  return name;
}

export function assertNetnsName(name: string, field = "netns"): string {
  if (!NETNS_NAME.test(name)) throw new NameError(field, `invalid namespace name ${JSON.stringify(name)}`);
  return name;
}

export interface StackNames {
  /** 4 lowercase hex chars from sha1(absolute DIR), prefixed "v" so it starts with a letter. */
  prefix: string;
  routerNs: string;
  outsideNs: string;
  /** root-namespace end of the management veth (the router end is named MGMT_ROUTER_LINK). */
  mgmtRootLink: string;
  /** management /30: root side .1 (where the simulated cloud listens), router side .2 */
  mgmt: { cidr: string; rootIp: string; routerIp: string };
}

export const MGMT_ROUTER_LINK = "mgmt";
export const OUTSIDE_ROUTER_LINK = "outside";
export const OUTSIDE_LINK = "eth0";

export function stackNames(dir: string): StackNames {
  const digest = createHash("sha1").update(resolve(dir)).digest();
  const hex = digest.subarray(0, 2).toString("hex");
  const prefix = `v${hex}`;
  // The management /30 lives in 169.254.64.0 - 169.254.192.255, never 169.254.1.x (the CNI's
  // pod gateway 169.254.1.1), 169.254.169.x (IMDS) or 169.254.170.x (ECS). Taken from other
  // digest bits than the prefix so two DIRs rarely collide on both.
  const b2 = digest[2] ?? 0;
  const b3 = digest[3] ?? 0;
  let third = 64 + (b2 & 0x7f); // 64..191
  if (third === 169 || third === 170) third = 192;
  const base = (b3 & 0x3f) * 4; // 0..252, /30 aligned
  return {
    prefix,
    routerNs: `${prefix}-vpc`,
    outsideNs: `${prefix}-out`,
    mgmtRootLink: `${prefix}-mgmt`,
    mgmt: {
      cidr: `169.254.${third}.${base}/30`,
      rootIp: `169.254.${third}.${base + 1}`,
      routerIp: `169.254.${third}.${base + 2}`,
    },
  };
}

export function nodeNetns(names: Pick<StackNames, "prefix">, nodeIndex: number): string {
  if (!Number.isInteger(nodeIndex) || nodeIndex < 0 || nodeIndex > 999) throw new NameError("nodeIndex", `must be 0..999, got ${nodeIndex}`);
  return `${names.prefix}-n${nodeIndex}`;
}

/**
 * The router-side end of an ENI's veth, inside the router namespace only (so it needs no
 * stack prefix): `n<node>-eth<device>`. All links of one node share the `n<node>-` prefix,
 * which the router's iptables match with `-i n<node>-+` (per-instance IMDS).
 */
/** Router end of an ENI's link: `n<node>-eth<device>` on network card 0, `n<node>-c<card>e<device>` on another card. */
export function routerEniLink(nodeIndex: number, deviceIndex: number, networkCard = 0): string {
  if (!Number.isInteger(deviceIndex) || deviceIndex < 0 || deviceIndex > 99) throw new NameError("deviceIndex", `must be 0..99, got ${deviceIndex}`);
  if (!Number.isInteger(nodeIndex) || nodeIndex < 0 || nodeIndex > 999) throw new NameError("nodeIndex", `must be 0..999, got ${nodeIndex}`);
  checkCard(networkCard);
  return assertLinkName(networkCard === 0 ? `n${nodeIndex}-eth${deviceIndex}` : `n${nodeIndex}-c${networkCard}e${deviceIndex}`);
}

function checkCard(networkCard: number): void {
  if (!Number.isInteger(networkCard) || networkCard < 0 || networkCard > 99) throw new NameError("networkCard", `must be 0..99, got ${networkCard}`);
}

export function routerNodeLinkPattern(nodeIndex: number): string {
  return `n${nodeIndex}-+`;
}

/** The node-side name the kernel would give the ENI at this device index on EC2 (Nitro: ethN). */
/** Node end of an ENI's link: `eth<device>` on network card 0, `c<card>eth<device>` on another card (each card numbers its devices from 0). */
export function nodeEniLink(deviceIndex: number, networkCard = 0): string {
  if (!Number.isInteger(deviceIndex) || deviceIndex < 0 || deviceIndex > 99) throw new NameError("deviceIndex", `must be 0..99, got ${deviceIndex}`);
  checkCard(networkCard);
  return networkCard === 0 ? `eth${deviceIndex}` : `c${networkCard}eth${deviceIndex}`;
}

/** Every netns name that belongs to the stack with this prefix. */
export function belongsToStack(prefix: string, netns: string): boolean {
  return netns.startsWith(`${prefix}-`);
}
