// ParsedEnv (every field valid, every rule met) → the grouped Config, plus warnings.
import type { Config, Ec2Buckets, TokenBucket } from "./types.ts";
import type { ParsedEnv } from "./schema.ts";

/** AWS's per-account EC2 token buckets (capacity, refill per second). */
export const AWS_EC2_BUCKETS: Ec2Buckets = {
  describe: { capacity: 100, refillPerSecond: 20 },
  describeUnfiltered: { capacity: 50, refillPerSecond: 10 },
  mutating: { capacity: 50, refillPerSecond: 5 },
  addressesAndEnis: { capacity: 100, refillPerSecond: 5 },
  tags: { capacity: 100, refillPerSecond: 10 },
};

function scaleBucket(b: TokenBucket, scale: number): TokenBucket {
  return { capacity: Math.max(1, Math.round(b.capacity * scale)), refillPerSecond: b.refillPerSecond * scale };
}

function scaleBuckets(scale: number): Ec2Buckets {
  return {
    describe: scaleBucket(AWS_EC2_BUCKETS.describe, scale),
    describeUnfiltered: scaleBucket(AWS_EC2_BUCKETS.describeUnfiltered, scale),
    mutating: scaleBucket(AWS_EC2_BUCKETS.mutating, scale),
    addressesAndEnis: scaleBucket(AWS_EC2_BUCKETS.addressesAndEnis, scale),
    tags: scaleBucket(AWS_EC2_BUCKETS.tags, scale),
  };
}

function apiServer(e: ParsedEnv): string | undefined {
  if (e.CLUSTER_ENDPOINT !== undefined) return e.CLUSTER_ENDPOINT;
  const host = e.KUBERNETES_SERVICE_HOST;
  if (host === undefined) return undefined;
  return `https://${host.includes(":") ? `[${host}]` : host}:${e.KUBERNETES_SERVICE_PORT}`;
}

export function buildConfig(e: ParsedEnv, env: Record<string, string | undefined>): { config: Config; warnings: string[] } {
  const runDir = e.AWS_VPC_CNI_RUN_DIR.replace(/(.)\/+$/, "$1");
  const config: Config = {
    runDir,
    sockets: {
      addrBroker: `${runDir}/addr-broker.sock`,
      poolManager: `${runDir}/pool-manager.sock`,
      netConfig: `${runDir}/net-config.sock`,
      metrics: `${runDir}/metrics.sock`,
    },
    socketGroup: e.AWS_VPC_CNI_SOCKET_GROUP,
    ipFamily: e.ENABLE_IPv6 ? "ipv6" : "ipv4",
    enableIPv4: e.ENABLE_IPv4,
    enableIPv6: e.ENABLE_IPv6,
    pool: {
      warmEniTarget: e.WARM_ENI_TARGET.value,
      warmIpTarget: e.WARM_IP_TARGET.value,
      minimumIpTarget: e.MINIMUM_IP_TARGET.value,
      warmPrefixTarget: e.WARM_PREFIX_TARGET.value,
      maxEni: e.MAX_ENI.value,
      prefixDelegation: e.ENABLE_PREFIX_DELEGATION,
      manageEnisNonSchedulable: e.AWS_MANAGE_ENIS_NON_SCHEDULABLE,
      disableNetworkResourceProvisioning: e.DISABLE_NETWORK_RESOURCE_PROVISIONING,
      ipCooldownSeconds: e.IP_COOLDOWN_PERIOD,
      subnetDiscovery: e.ENABLE_SUBNET_DISCOVERY,
      disableLeakedEniCleanup: e.DISABLE_LEAKED_ENI_CLEANUP,
      coolingIpsCountAsAvailable: e.AWS_VPC_CNI_COOLING_IPS_COUNT_AS_AVAILABLE,
      verifyImdsWithEc2: e.AWS_VPC_CNI_VERIFY_IMDS_WITH_EC2,
      prefixDelegationFallbackToIps: e.AWS_VPC_CNI_PREFIX_DELEGATION_FALLBACK_TO_IPS,
      demandAware: e.AWS_VPC_CNI_DEMAND_AWARE_POOL,
      policy: poolPolicy(e, env),
    },
    eni: {
      customNetworking: e.AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG,
      eniConfigAnnotation: e.ENI_CONFIG_ANNOTATION_DEF,
      eniConfigLabel: e.ENI_CONFIG_LABEL_DEF,
      additionalTags: e.ADDITIONAL_ENI_TAGS.tags,
      clusterName: e.CLUSTER_NAME,
      podEni: e.ENABLE_POD_ENI,
      podSecurityGroupEnforcingMode: e.POD_SECURITY_GROUP_ENFORCING_MODE,
    },
    snat: {
      external: e.AWS_VPC_K8S_CNI_EXTERNALSNAT,
      randomize: e.AWS_VPC_K8S_CNI_RANDOMIZESNAT,
      excludeCidrs: e.AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS.cidrs,
      connmark: e.AWS_VPC_K8S_CNI_CONNMARK,
    },
    network: {
      eniMtu: e.AWS_VPC_ENI_MTU,
      podMtu: e.POD_MTU ?? e.AWS_VPC_ENI_MTU,
      vethPrefix: e.AWS_VPC_K8S_CNI_VETHPREFIX,
      nodePortSupport: e.AWS_VPC_CNI_NODE_PORT_SUPPORT,
      externalServiceCidrs: e.AWS_EXTERNAL_SERVICE_CIDRS.cidrs,
      configureRpFilter: e.AWS_VPC_K8S_CNI_CONFIGURE_RPFILTER,
      disableTcpEarlyDemux: e.DISABLE_TCP_EARLY_DEMUX,
      enableNftables: e.ENABLE_NFTABLES,
    },
    cni: {
      binDir: e.HOST_CNI_BIN_PATH,
      confDir: e.HOST_CNI_CONFDIR_PATH,
      bandwidthPlugin: e.ENABLE_BANDWIDTH_PLUGIN,
      disablePodV6: e.DISABLE_POD_V6,
      v6Egress: e.ENABLE_V6_EGRESS,
      v4Egress: e.ENABLE_V4_EGRESS,
    },
    networkPolicy: { enforcingMode: e.NETWORK_POLICY_ENFORCING_MODE },
    log: {
      level: e.AWS_VPC_K8S_CNI_LOGLEVEL,
      file: e.AWS_VPC_K8S_CNI_LOG_FILE,
      pluginLevel: e.AWS_VPC_K8S_PLUGIN_LOG_LEVEL,
      pluginFile: e.AWS_VPC_K8S_PLUGIN_LOG_FILE,
    },
    introspection: { enabled: !e.DISABLE_INTROSPECTION, bind: e.INTROSPECTION_BIND_ADDRESS },
    metrics: { enabled: !e.DISABLE_METRICS, bind: e.AWS_VPC_CNI_METRICS_BIND_ADDRESS },
    checkpoint: { path: e.AWS_VPC_K8S_CNI_BACKING_STORE ?? `${runDir === "/" ? "" : runDir}/ipam.json` },
    ec2: {
      endpoint: e.AWS_EC2_ENDPOINT,
      region: e.AWS_REGION,
      rateLimit: { scale: e.AWS_VPC_CNI_EC2_RATE_LIMIT_SCALE, buckets: scaleBuckets(e.AWS_VPC_CNI_EC2_RATE_LIMIT_SCALE) },
    },
    imds: { endpoint: e.AWS_EC2_METADATA_SERVICE_ENDPOINT },
    kubernetes: {
      kubeconfig: e.KUBECONFIG,
      apiServer: apiServer(e),
      clusterEndpoint: e.CLUSTER_ENDPOINT,
      nodeName: e.MY_NODE_NAME,
      annotatePodIp: e.ANNOTATE_POD_IP,
    },
  };
  return { config, warnings: collectWarnings(e, env) };
}

const UPSTREAM_TARGETS = ["WARM_ENI_TARGET", "WARM_IP_TARGET", "MINIMUM_IP_TARGET", "WARM_PREFIX_TARGET"] as const;

const isSet = (env: Record<string, string | undefined>, name: string): boolean => (env[name] ?? "").trim() !== "";

/** An operator who set an upstream target gets upstream's semantics (drop-in); else the demand policy. */
function poolPolicy(e: ParsedEnv, env: Record<string, string | undefined>): "compat" | "demand" {
  if (e.AWS_VPC_CNI_POOL_POLICY !== undefined) return e.AWS_VPC_CNI_POOL_POLICY;
  return UPSTREAM_TARGETS.some((n) => isSet(env, n)) ? "compat" : "demand";
}

function collectWarnings(e: ParsedEnv, env: Record<string, string | undefined>): string[] {
  const w: string[] = [];
  for (const name of ["AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS", "AWS_EXTERNAL_SERVICE_CIDRS"] as const) {
    for (const entry of e[name].skipped) w.push(`${name}: skipped ${JSON.stringify(entry)}: not a valid IPv4 CIDR`);
  }
  for (const key of e.ADDITIONAL_ENI_TAGS.dropped) {
    w.push(`ADDITIONAL_ENI_TAGS: dropped tag ${JSON.stringify(key)}: keys containing k8s.amazonaws.com are reserved`);
  }
  for (const name of ["WARM_ENI_TARGET", "WARM_IP_TARGET", "MINIMUM_IP_TARGET", "WARM_PREFIX_TARGET", "MAX_ENI"] as const) {
    const negative = e[name].ignoredNegative;
    if (negative !== undefined) {
      const meaning = name === "WARM_ENI_TARGET" ? "the default, 1" : "unset";
      w.push(`${name}=${negative}: a negative value means ${meaning}`);
    }
  }
  if (e.MINIMUM_IP_TARGET.value !== undefined && e.WARM_IP_TARGET.value === undefined) {
    w.push("MINIMUM_IP_TARGET is set without WARM_IP_TARGET: no address beyond the minimum will be allocated ahead of pods; set WARM_IP_TARGET > 0");
  }
  if (poolPolicy(e, env) === "demand") {
    for (const name of ["WARM_ENI_TARGET", "WARM_PREFIX_TARGET"] as const) {
      if (isSet(env, name)) w.push(`${name} is ignored with AWS_VPC_CNI_POOL_POLICY=demand (WARM_IP_TARGET and MINIMUM_IP_TARGET act as floors); unset AWS_VPC_CNI_POOL_POLICY or set it to compat for upstream's semantics`);
    }
  }
  if (env.AWS_VPC_K8S_CNI_CONFIGURE_RPFILTER !== undefined && env.AWS_VPC_K8S_CNI_CONFIGURE_RPFILTER.trim() !== "") {
    w.push("AWS_VPC_K8S_CNI_CONFIGURE_RPFILTER is deprecated and has no effect: rp_filter on the primary interface is always set to loose");
  }
  if (e.IP_COOLDOWN_PERIOD === 0) {
    w.push("IP_COOLDOWN_PERIOD=0: a released address may be handed to a new pod before kube-proxy has forgotten it");
  }
  if (e.AWS_VPC_K8S_CNI_EXTERNALSNAT && e.AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS.cidrs.length > 0) {
    w.push("AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS has no effect while AWS_VPC_K8S_CNI_EXTERNALSNAT=true");
  }
  return w;
}
