// describeConfig: env name → effective value, as strings an operator would write. JSON-safe;
// serves /debug and the upstream-compatible /v1/ipamd-env-settings.
import { formatBindAddress } from "./network-fields.ts";
import type { EnvName } from "./schema.ts";
import type { Config } from "./types.ts";

const opt = (v: string | number | undefined): string => (v === undefined ? "" : String(v));
const bool = (v: boolean): string => (v ? "true" : "false");

const EFFECTIVE: Record<EnvName, (c: Config) => string> = {
  AWS_MANAGE_ENIS_NON_SCHEDULABLE: (c) => bool(c.pool.manageEnisNonSchedulable),
  AWS_VPC_CNI_NODE_PORT_SUPPORT: (c) => bool(c.network.nodePortSupport),
  AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: (c) => bool(c.eni.customNetworking),
  ENI_CONFIG_ANNOTATION_DEF: (c) => c.eni.eniConfigAnnotation,
  ENI_CONFIG_LABEL_DEF: (c) => c.eni.eniConfigLabel,
  HOST_CNI_BIN_PATH: (c) => c.cni.binDir,
  HOST_CNI_CONFDIR_PATH: (c) => c.cni.confDir,
  AWS_VPC_ENI_MTU: (c) => String(c.network.eniMtu),
  AWS_VPC_K8S_CNI_EXTERNALSNAT: (c) => bool(c.snat.external),
  AWS_VPC_K8S_CNI_RANDOMIZESNAT: (c) => c.snat.randomize,
  AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: (c) => c.snat.excludeCidrs.join(","),
  POD_MTU: (c) => String(c.network.podMtu),
  WARM_ENI_TARGET: (c) => String(c.pool.warmEniTarget),
  WARM_IP_TARGET: (c) => opt(c.pool.warmIpTarget),
  MINIMUM_IP_TARGET: (c) => opt(c.pool.minimumIpTarget),
  MAX_ENI: (c) => opt(c.pool.maxEni),
  AWS_VPC_K8S_CNI_LOGLEVEL: (c) => c.log.level.toUpperCase(),
  AWS_VPC_K8S_CNI_LOG_FILE: (c) => c.log.file,
  AWS_VPC_K8S_PLUGIN_LOG_FILE: (c) => c.log.pluginFile,
  AWS_VPC_K8S_PLUGIN_LOG_LEVEL: (c) => c.log.pluginLevel.toUpperCase(),
  INTROSPECTION_BIND_ADDRESS: (c) => formatBindAddress(c.introspection.bind),
  DISABLE_INTROSPECTION: (c) => bool(!c.introspection.enabled),
  DISABLE_METRICS: (c) => bool(!c.metrics.enabled),
  AWS_VPC_K8S_CNI_VETHPREFIX: (c) => c.network.vethPrefix,
  ADDITIONAL_ENI_TAGS: (c) => JSON.stringify(c.eni.additionalTags),
  AWS_VPC_K8S_CNI_CONFIGURE_RPFILTER: (c) => bool(c.network.configureRpFilter),
  CLUSTER_NAME: (c) => c.eni.clusterName,
  CLUSTER_ENDPOINT: (c) => opt(c.kubernetes.clusterEndpoint),
  ENABLE_POD_ENI: (c) => bool(c.eni.podEni),
  POD_SECURITY_GROUP_ENFORCING_MODE: (c) => c.eni.podSecurityGroupEnforcingMode,
  DISABLE_TCP_EARLY_DEMUX: (c) => bool(c.network.disableTcpEarlyDemux),
  ENABLE_SUBNET_DISCOVERY: (c) => bool(c.pool.subnetDiscovery),
  ENABLE_PREFIX_DELEGATION: (c) => bool(c.pool.prefixDelegation),
  WARM_PREFIX_TARGET: (c) => opt(c.pool.warmPrefixTarget),
  DISABLE_NETWORK_RESOURCE_PROVISIONING: (c) => bool(c.pool.disableNetworkResourceProvisioning),
  ENABLE_BANDWIDTH_PLUGIN: (c) => bool(c.cni.bandwidthPlugin),
  ANNOTATE_POD_IP: (c) => bool(c.kubernetes.annotatePodIp),
  ENABLE_IPv4: (c) => bool(c.enableIPv4),
  ENABLE_IPv6: (c) => bool(c.enableIPv6),
  ENABLE_NFTABLES: (c) => bool(c.network.enableNftables),
  AWS_EXTERNAL_SERVICE_CIDRS: (c) => c.network.externalServiceCidrs.join(","),
  AWS_EC2_ENDPOINT: (c) => opt(c.ec2.endpoint),
  DISABLE_LEAKED_ENI_CLEANUP: (c) => bool(c.pool.disableLeakedEniCleanup),
  ENABLE_V6_EGRESS: (c) => bool(c.cni.v6Egress),
  ENABLE_V4_EGRESS: (c) => bool(c.cni.v4Egress),
  IP_COOLDOWN_PERIOD: (c) => String(c.pool.ipCooldownSeconds),
  DISABLE_POD_V6: (c) => bool(c.cni.disablePodV6),
  NETWORK_POLICY_ENFORCING_MODE: (c) => c.networkPolicy.enforcingMode,
  AWS_VPC_K8S_CNI_CONNMARK: (c) => `0x${c.snat.connmark.toString(16)}`,
  AWS_VPC_K8S_CNI_BACKING_STORE: (c) => c.checkpoint.path,
  MY_NODE_NAME: (c) => opt(c.kubernetes.nodeName),
  AWS_VPC_CNI_RUN_DIR: (c) => c.runDir,
  AWS_VPC_CNI_SOCKET_GROUP: (c) => opt(c.socketGroup),
  AWS_VPC_CNI_METRICS_BIND_ADDRESS: (c) => formatBindAddress(c.metrics.bind),
  AWS_VPC_CNI_COOLING_IPS_COUNT_AS_AVAILABLE: (c) => bool(c.pool.coolingIpsCountAsAvailable),
  AWS_VPC_CNI_VERIFY_IMDS_WITH_EC2: (c) => bool(c.pool.verifyImdsWithEc2),
  AWS_VPC_CNI_PREFIX_DELEGATION_FALLBACK_TO_IPS: (c) => bool(c.pool.prefixDelegationFallbackToIps),
  AWS_VPC_CNI_DEMAND_AWARE_POOL: (c) => bool(c.pool.demandAware),
  AWS_VPC_CNI_POOL_POLICY: (c) => c.pool.policy,
  AWS_VPC_CNI_EC2_RATE_LIMIT_SCALE: (c) => String(c.ec2.rateLimit.scale),
  AWS_REGION: (c) => opt(c.ec2.region),
  AWS_EC2_METADATA_SERVICE_ENDPOINT: (c) => opt(c.imds.endpoint),
  KUBERNETES_SERVICE_HOST: (c) => hostOf(c.kubernetes.apiServer, c.kubernetes.clusterEndpoint),
  KUBERNETES_SERVICE_PORT: (c) => portOf(c.kubernetes.apiServer, c.kubernetes.clusterEndpoint),
  KUBECONFIG: (c) => opt(c.kubernetes.kubeconfig),
};

function inClusterUrl(apiServer: string | undefined, clusterEndpoint: string | undefined): URL | undefined {
  return apiServer !== undefined && apiServer !== clusterEndpoint ? new URL(apiServer) : undefined;
}
function hostOf(apiServer: string | undefined, clusterEndpoint: string | undefined): string {
  const url = inClusterUrl(apiServer, clusterEndpoint);
  return url ? url.hostname.replace(/^\[|\]$/g, "") : "";
}
function portOf(apiServer: string | undefined, clusterEndpoint: string | undefined): string {
  const url = inClusterUrl(apiServer, clusterEndpoint);
  return url ? url.port || "443" : "";
}

/** Every variable's effective value as an operator would write it ("" = unset). */
export function describeConfig(config: Config): Record<EnvName, string> {
  const out = {} as Record<EnvName, string>;
  for (const [name, effective] of Object.entries(EFFECTIVE) as [EnvName, (c: Config) => string][]) {
    out[name] = effective(config);
  }
  return out;
}
