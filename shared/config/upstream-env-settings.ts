// The bodies of upstream's /v1/ipamd-env-settings and /v1/networkutils-env-settings
// (ipamd.GetConfigForDebug, networkutils.GetConfigForDebug): the same env-name keys and JSON
// types as upstream's, computed from the effective configuration. pool-manager serves them.
import type { Config } from "./types.ts";

/** Upstream's snatType: sequential (none) 0, hashrandom 1, prng 2, marshalled as a number. */
const SNAT_TYPE = { none: 0, hashrandom: 1, prng: 2 } as const;

export function ipamdEnvSettings(c: Config) {
  return {
    WARM_IP_TARGET: c.pool.warmIpTarget ?? 0,
    WARM_ENI_TARGET: c.pool.warmEniTarget,
    AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: c.eni.customNetworking,
    AWS_MANAGE_ENIS_NON_SCHEDULABLE: c.pool.manageEnisNonSchedulable,
    ENABLE_SUBNET_DISCOVERY: c.pool.subnetDiscovery,
  };
}

/** A CIDR list as upstream's parseCIDRString answers it: null when there is none. */
const cidrList = (cidrs: readonly string[]): string[] | null => (cidrs.length > 0 ? [...cidrs] : null);

export function networkutilsEnvSettings(c: Config) {
  return {
    AWS_VPC_K8S_CNI_CONNMARK: c.snat.connmark,
    AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: cidrList(c.snat.excludeCidrs),
    AWS_VPC_K8S_CNI_EXTERNALSNAT: c.snat.external,
    AWS_EXTERNAL_SERVICE_CIDRS: cidrList(c.network.externalServiceCidrs),
    AWS_VPC_ENI_MTU: c.network.eniMtu,
    AWS_VPC_K8S_CNI_VETHPREFIX: c.network.vethPrefix,
    AWS_VPC_CNI_NODE_PORT_SUPPORT: c.network.nodePortSupport,
    AWS_VPC_K8S_CNI_RANDOMIZESNAT: SNAT_TYPE[c.snat.randomize],
  };
}
