// The typed configuration every service receives. Plain JSON-safe data: no Maps, no classes.
import type { BindAddress } from "./network-fields.ts";
import type { LogDestination, LogLevel } from "./schema.ts";

export type { BindAddress, LogDestination, LogLevel };

/** A client-side token bucket: `capacity` tokens, refilled at `refillPerSecond`. */
export interface TokenBucket {
  capacity: number;
  refillPerSecond: number;
}

/** AWS's per-account EC2 buckets (reference: peers-and-limits.md), scaled by the configured factor. */
export interface Ec2Buckets {
  /** Filtered or paginated Describe* calls. AWS: 100, 20/s. */
  describe: TokenBucket;
  /** Unfiltered, unpaginated Describe* calls. AWS: 50, 10/s. */
  describeUnfiltered: TokenBucket;
  /** Other mutating calls, including Attach/DetachNetworkInterface. AWS: 50, 5/s. */
  mutating: TokenBucket;
  /** Assign/UnassignPrivateIpAddresses, Create/DeleteNetworkInterface, ModifyNetworkInterfaceAttribute, AssignIpv6Addresses. AWS: 100, 5/s. */
  addressesAndEnis: TokenBucket;
  /** CreateTags / DeleteTags. AWS: 100, 10/s. */
  tags: TokenBucket;
}

export type IpFamily = "ipv4" | "ipv6";

export interface Config {
  /** AWS_VPC_CNI_RUN_DIR: where the sockets (and by default the checkpoint) live. */
  runDir: string;
  /** The services' Unix sockets: `<runDir>/<service>.sock`. */
  sockets: { addrBroker: string; poolManager: string; netConfig: string; metrics: string };
  /** AWS_VPC_CNI_SOCKET_GROUP: gid (number) or group name; undefined = sockets mode 0600, else 0660. */
  socketGroup: number | string | undefined;
  /** ENABLE_IPv4 / ENABLE_IPv6 (exactly one is true). */
  ipFamily: IpFamily;
  enableIPv4: boolean;
  enableIPv6: boolean;

  pool: {
    /** WARM_ENI_TARGET (0 allowed; negative → 1). */
    warmEniTarget: number;
    /** WARM_IP_TARGET; undefined when unset or non-positive. */
    warmIpTarget: number | undefined;
    /** MINIMUM_IP_TARGET; undefined when unset or non-positive. */
    minimumIpTarget: number | undefined;
    /** WARM_PREFIX_TARGET; undefined when unset or non-positive (upstream's 0). */
    warmPrefixTarget: number | undefined;
    /** MAX_ENI; undefined when unset or non-positive (= the instance type's limit). */
    maxEni: number | undefined;
    /** ENABLE_PREFIX_DELEGATION */
    prefixDelegation: boolean;
    /** AWS_MANAGE_ENIS_NON_SCHEDULABLE */
    manageEnisNonSchedulable: boolean;
    /** DISABLE_NETWORK_RESOURCE_PROVISIONING: IMDS only, no EC2 mutations. */
    disableNetworkResourceProvisioning: boolean;
    /** IP_COOLDOWN_PERIOD in seconds. */
    ipCooldownSeconds: number;
    /** ENABLE_SUBNET_DISCOVERY */
    subnetDiscovery: boolean;
    /** DISABLE_LEAKED_ENI_CLEANUP */
    disableLeakedEniCleanup: boolean;
    /** AWS_VPC_CNI_COOLING_IPS_COUNT_AS_AVAILABLE (false: better than upstream #2896). */
    coolingIpsCountAsAvailable: boolean;
    /** AWS_VPC_CNI_VERIFY_IMDS_WITH_EC2 */
    verifyImdsWithEc2: boolean;
    /** AWS_VPC_CNI_PREFIX_DELEGATION_FALLBACK_TO_IPS */
    prefixDelegationFallbackToIps: boolean;
    /** AWS_VPC_CNI_DEMAND_AWARE_POOL */
    demandAware: boolean;
    /**
     * AWS_VPC_CNI_POOL_POLICY: `compat` = upstream's warm targets exactly; `demand` = a free
     * buffer sized from observed demand, released with hysteresis. Unset: `demand` unless an
     * upstream target (WARM_ENI/WARM_IP/MINIMUM_IP/WARM_PREFIX_TARGET) is set.
     */
    policy: "compat" | "demand";
  };

  eni: {
    /** AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG */
    customNetworking: boolean;
    /** ENI_CONFIG_ANNOTATION_DEF */
    eniConfigAnnotation: string;
    /** ENI_CONFIG_LABEL_DEF */
    eniConfigLabel: string;
    /** ADDITIONAL_ENI_TAGS, reserved keys removed. */
    additionalTags: Record<string, string>;
    /** CLUSTER_NAME ("" = none). */
    clusterName: string;
    /** ENABLE_POD_ENI (security groups for pods: trunk ENI). */
    podEni: boolean;
    /** POD_SECURITY_GROUP_ENFORCING_MODE */
    podSecurityGroupEnforcingMode: "strict" | "standard";
  };

  snat: {
    /** AWS_VPC_K8S_CNI_EXTERNALSNAT */
    external: boolean;
    /** AWS_VPC_K8S_CNI_RANDOMIZESNAT: prng → --random-fully, hashrandom → --random, none. */
    randomize: "prng" | "hashrandom" | "none";
    /** AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS (valid IPv4 CIDRs, normalised). */
    excludeCidrs: string[];
    /** AWS_VPC_K8S_CNI_CONNMARK */
    connmark: number;
  };

  network: {
    /** AWS_VPC_ENI_MTU */
    eniMtu: number;
    /** POD_MTU (defaults to eniMtu). */
    podMtu: number;
    /** AWS_VPC_K8S_CNI_VETHPREFIX */
    vethPrefix: string;
    /** AWS_VPC_CNI_NODE_PORT_SUPPORT */
    nodePortSupport: boolean;
    /** AWS_EXTERNAL_SERVICE_CIDRS (valid IPv4 CIDRs, normalised). */
    externalServiceCidrs: string[];
    /** AWS_VPC_K8S_CNI_CONFIGURE_RPFILTER (deprecated no-op upstream). */
    configureRpFilter: boolean;
    /** DISABLE_TCP_EARLY_DEMUX */
    disableTcpEarlyDemux: boolean;
    /** ENABLE_NFTABLES (deprecated upstream). */
    enableNftables: boolean;
  };

  cni: {
    /** HOST_CNI_BIN_PATH */
    binDir: string;
    /** HOST_CNI_CONFDIR_PATH */
    confDir: string;
    /** ENABLE_BANDWIDTH_PLUGIN */
    bandwidthPlugin: boolean;
    /** DISABLE_POD_V6 (chains the tuning plugin). */
    disablePodV6: boolean;
    /** ENABLE_V6_EGRESS */
    v6Egress: boolean;
    /** ENABLE_V4_EGRESS */
    v4Egress: boolean;
  };

  networkPolicy: {
    /** NETWORK_POLICY_ENFORCING_MODE */
    enforcingMode: "standard" | "strict";
  };

  log: {
    /** AWS_VPC_K8S_CNI_LOGLEVEL */
    level: LogLevel;
    /** AWS_VPC_K8S_CNI_LOG_FILE: "stdout", "stderr" or an absolute path. */
    file: LogDestination;
    /** AWS_VPC_K8S_PLUGIN_LOG_LEVEL */
    pluginLevel: LogLevel;
    /** AWS_VPC_K8S_PLUGIN_LOG_FILE: "stderr" or an absolute path. */
    pluginFile: LogDestination;
  };

  introspection: {
    /** !DISABLE_INTROSPECTION */
    enabled: boolean;
    /** INTROSPECTION_BIND_ADDRESS */
    bind: BindAddress;
  };

  metrics: {
    /** !DISABLE_METRICS */
    enabled: boolean;
    /** AWS_VPC_CNI_METRICS_BIND_ADDRESS */
    bind: BindAddress;
  };

  checkpoint: {
    /** AWS_VPC_K8S_CNI_BACKING_STORE (default <runDir>/ipam.json). */
    path: string;
  };

  ec2: {
    /** AWS_EC2_ENDPOINT; undefined = the SDK's regional endpoint. */
    endpoint: string | undefined;
    /** AWS_REGION; undefined = read from IMDS. */
    region: string | undefined;
    rateLimit: {
      /** AWS_VPC_CNI_EC2_RATE_LIMIT_SCALE */
      scale: number;
      buckets: Ec2Buckets;
    };
  };

  imds: {
    /** AWS_EC2_METADATA_SERVICE_ENDPOINT; undefined = the SDK default (http://169.254.169.254). */
    endpoint: string | undefined;
  };

  kubernetes: {
    /** KUBECONFIG: when set, used instead of the in-cluster configuration. */
    kubeconfig: string | undefined;
    /** CLUSTER_ENDPOINT, else https://KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT, else undefined. */
    apiServer: string | undefined;
    /** CLUSTER_ENDPOINT as given. */
    clusterEndpoint: string | undefined;
    /** MY_NODE_NAME */
    nodeName: string | undefined;
    /** ANNOTATE_POD_IP */
    annotatePodIp: boolean;
  };
}
