// The typed configuration every service receives. Plain JSON-safe data: no Maps, no classes.
// Which variable sets which field is said once, in the declarations (variables/: each
// declaration's `sets`; build.ts's DERIVED for fields computed from several variables); the
// compiler checks there that every field below is set, with a value of its type.
import type { BindAddress } from "./network-fields.ts";
import type { LogDestination, LogLevel } from "./schema.ts";

export type { BindAddress, LogDestination, LogLevel };

/** A client-side token bucket: `capacity` tokens, refilled at `refillPerSecond`. */
export interface TokenBucket {
  capacity: number;
  refillPerSecond: number;
}

/** AWS's per-account EC2 buckets, scaled by the configured factor. */
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
  /** Where the sockets (and by default the checkpoint) live. */
  runDir: string;
  /** The services' Unix sockets: `<runDir>/<service>.sock`. */
  sockets: { addrBroker: string; poolManager: string; netConfig: string; metrics: string; policyAgent: string };
  /** Gid (number) or group name; undefined = sockets mode 0600, else 0660. */
  socketGroup: number | string | undefined;
  /** The host's /proc as this process sees it (net-config opens pod namespaces through it). */
  hostProc: string;
  /** The aws-node pod's shared settings file: published by the aws-node container, read by the others. */
  podSettings: { publish: string | undefined; from: string | undefined };
  /** Exactly one of enableIPv4, enableIPv6 is true. */
  ipFamily: IpFamily;
  enableIPv4: boolean;
  enableIPv6: boolean;

  pool: {
    /** 0 allowed (no spare ENI). */
    warmEniTarget: number;
    /** Undefined when unset or non-positive. */
    warmIpTarget: number | undefined;
    /** Undefined when unset or non-positive. */
    minimumIpTarget: number | undefined;
    /** Undefined when unset or non-positive (upstream's 0). */
    warmPrefixTarget: number | undefined;
    /** Undefined when unset or non-positive (= the instance type's limit). */
    maxEni: number | undefined;
    prefixDelegation: boolean;
    manageEnisNonSchedulable: boolean;
    /** IMDS only, no EC2 mutations. */
    disableNetworkResourceProvisioning: boolean;
    /** Seconds. */
    ipCooldownSeconds: number;
    subnetDiscovery: boolean;
    disableLeakedEniCleanup: boolean;
    /** ENABLE_MULTI_NIC: every eligible network card gets a pool, and multi-homed pods one interface per card. */
    multiNic: boolean;
    /** MANAGE_UNTAGGED_ENI: false leaves ENIs without this CNI's tags unmanaged. */
    manageUntaggedEnis: boolean;
    /** ENABLE_IMDS_ONLY_MODE: no EC2 call at all; the pool is what IMDS shows at start-up. */
    imdsOnlyMode: boolean;
    /** true: upstream's arithmetic, which counts cooling addresses as free. */
    coolingIpsCountAsAvailable: boolean;
    /** true: a cooling address goes back to EC2 only once its cooldown is over (upstream releases it at once). */
    holdCoolingIps: boolean;
    verifyImdsWithEc2: boolean;
    prefixDelegationFallbackToIps: boolean;
    demandAware: boolean;
    /**
     * `compat` = upstream's warm targets exactly; `demand` = a free
     * buffer sized from observed demand, released with hysteresis. Unset: `demand` unless an
     * upstream target (WARM_ENI/WARM_IP/MINIMUM_IP/WARM_PREFIX_TARGET) is set.
     */
    policy: "compat" | "demand";
  };

  eni: {
    customNetworking: boolean;
    eniConfigAnnotation: string;
    eniConfigLabel: string;
    /** Reserved keys removed. */
    additionalTags: Record<string, string>;
    /** "" = none. */
    clusterName: string;
    /** Security groups for pods: a trunk ENI. */
    podEni: boolean;
    podSecurityGroupEnforcingMode: "strict" | "standard";
  };

  snat: {
    external: boolean;
    /** prng → --random-fully, hashrandom → --random, none. */
    randomize: "prng" | "hashrandom" | "none";
    /** Valid IPv4 CIDRs, normalised. */
    excludeCidrs: string[];
    connmark: number;
  };

  network: {
    eniMtu: number;
    /** Defaults to eniMtu. */
    podMtu: number;
    vethPrefix: string;
    nodePortSupport: boolean;
    /** Valid IPv4 CIDRs, normalised. */
    externalServiceCidrs: string[];
    /** Deprecated: no effect here or upstream. */
    configureRpFilter: boolean;
    disableTcpEarlyDemux: boolean;
    /** Deprecated upstream. */
    enableNftables: boolean;
    /** net-config's reconcile period; 0: only at start. */
    reconcileIntervalSeconds: number;
  };

  cni: {
    binDir: string;
    confDir: string;
    bandwidthPlugin: boolean;
    /** Chains the tuning plugin. */
    disablePodV6: boolean;
    v6Egress: boolean;
    v4Egress: boolean;
  };

  networkPolicy: {
    enforcingMode: "none" | "standard" | "strict";
  };

  log: {
    level: LogLevel;
    /** "stdout", "stderr" or an absolute path. */
    file: LogDestination;
    pluginLevel: LogLevel;
    /** "stderr" or an absolute path. */
    pluginFile: LogDestination;
    /** AWS_VPC_K8S_EGRESS_V4/V6_PLUGIN_LOG_FILE: egress-cni's log in IPv6 / IPv4 mode. */
    egressV4PluginFile: LogDestination;
    egressV6PluginFile: LogDestination;
  };

  introspection: {
    enabled: boolean;
    bind: BindAddress;
  };

  metrics: {
    enabled: boolean;
    bind: BindAddress;
  };

  checkpoint: {
    /** Default <runDir>/ipam.json. */
    path: string;
  };

  ec2: {
    /** Undefined = the SDK's regional endpoint. */
    endpoint: string | undefined;
    /** Undefined = read from IMDS. */
    region: string | undefined;
    /** HTTP_TIMEOUT: one EC2 request's limit, seconds (at least 10, as upstream). */
    httpTimeoutSeconds: number;
    /** VPC_CNI_VERSION: sent as amazon-vpc-cni-k8s/<version> in the user agent ("" = none). */
    userAgentVersion: string;
    rateLimit: {
      scale: number;
      buckets: Ec2Buckets;
    };
  };

  imds: {
    /** Undefined = the SDK default (http://169.254.169.254). */
    endpoint: string | undefined;
  };

  kubernetes: {
    /** MY_POD_NAME: the aws-node pod, where events go (kube-system); undefined = on the Node. */
    podName?: string | undefined;
    /** When set, used instead of the in-cluster configuration. */
    kubeconfig: string | undefined;
    /** clusterEndpoint, else the in-cluster service (https://host:port), else undefined. */
    apiServer: string | undefined;
    /** As configured. */
    clusterEndpoint: string | undefined;
    nodeName: string | undefined;
    annotatePodIp: boolean;
  };
}
