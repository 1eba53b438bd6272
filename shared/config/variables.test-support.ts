// The per-variable table of variables.test.ts: for each variable, where its value lands in
// the typed config, its default, values accepted (with what they become) and values refused.
import type { Config, EnvName } from "./index.ts";

export type Get = (c: Config) => unknown;
export interface Row {
  get: Get;
  default: unknown;
  valid: [raw: string, expected: unknown][];
  /** Values that must be rejected, or the reason the variable has none. */
  invalid: string[] | { none: string };
}

const BOOL_INVALID = ["yes", "1", "t", "tru", "on"];
function boolRow(get: Get, def: boolean): Row {
  return { get, default: def, valid: [["true", true], ["FALSE", false], ["True", true], [" false ", false]], invalid: BOOL_INVALID };
}

export const TABLE: Record<EnvName, Row> = {
  AWS_MANAGE_ENIS_NON_SCHEDULABLE: boolRow((c) => c.pool.manageEnisNonSchedulable, false),
  AWS_VPC_CNI_NODE_PORT_SUPPORT: boolRow((c) => c.network.nodePortSupport, true),
  AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: boolRow((c) => c.eni.customNetworking, false),
  ENI_CONFIG_ANNOTATION_DEF: {
    get: (c) => c.eni.eniConfigAnnotation,
    default: "k8s.amazonaws.com/eniConfig",
    valid: [["topology.kubernetes.io/zone", "topology.kubernetes.io/zone"], ["eniConfig", "eniConfig"]],
    invalid: ["a/b/c", "has space", "/x", `x/${"a".repeat(64)}`],
  },
  ENI_CONFIG_LABEL_DEF: {
    get: (c) => c.eni.eniConfigLabel,
    default: "k8s.amazonaws.com/eniConfig",
    valid: [["topology.kubernetes.io/zone", "topology.kubernetes.io/zone"]],
    invalid: ["Upper.Case/x", "-bad"],
  },
  HOST_CNI_BIN_PATH: {
    get: (c) => c.cni.binDir,
    default: "/host/opt/cni/bin",
    valid: [["/opt/cni/bin", "/opt/cni/bin"]],
    invalid: ["opt/cni/bin", "./bin"],
  },
  HOST_CNI_CONFDIR_PATH: {
    get: (c) => c.cni.confDir,
    default: "/host/etc/cni/net.d",
    valid: [["/etc/cni/net.d", "/etc/cni/net.d"]],
    invalid: ["net.d"],
  },
  AWS_VPC_ENI_MTU: {
    get: (c) => c.network.eniMtu,
    default: 9001,
    valid: [["1500", 1500], ["576", 576], ["9001", 9001]],
    invalid: ["575", "9002", "1500.5", "abc", "0x5dc", "-1"],
  },
  AWS_VPC_K8S_CNI_EXTERNALSNAT: boolRow((c) => c.snat.external, false),
  AWS_VPC_K8S_CNI_RANDOMIZESNAT: {
    get: (c) => c.snat.randomize,
    default: "prng",
    valid: [["hashrandom", "hashrandom"], ["NONE", "none"], ["Prng", "prng"]],
    invalid: ["random", "true", "fully"],
  },
  AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: {
    get: (c) => c.snat.excludeCidrs,
    default: [],
    valid: [["10.1.0.0/16,192.168.0.0/24", ["10.1.0.0/16", "192.168.0.0/24"]], ["10.1.2.3/16", ["10.1.0.0/16"]]],
    invalid: { none: "invalid entries are skipped with a warning (warnings.test.ts)" },
  },
  POD_MTU: {
    get: (c) => c.network.podMtu,
    default: 9001,
    valid: [["1500", 1500]],
    invalid: ["100", "9100", "big"],
  },
  WARM_ENI_TARGET: {
    get: (c) => c.pool.warmEniTarget,
    default: 1,
    valid: [["0", 0], ["3", 3], ["-2", 1]],
    invalid: ["one", "1.5"],
  },
  WARM_IP_TARGET: {
    get: (c) => c.pool.warmIpTarget,
    default: undefined,
    valid: [["5", 5], ["0", undefined], ["-3", undefined]],
    invalid: ["five", "5k"],
  },
  MINIMUM_IP_TARGET: {
    get: (c) => c.pool.minimumIpTarget,
    default: undefined,
    valid: [["30", 30], ["0", undefined], ["-1", undefined]],
    invalid: ["thirty"],
  },
  MAX_ENI: {
    get: (c) => c.pool.maxEni,
    default: undefined,
    valid: [["2", 2], ["0", undefined], ["-1", undefined]],
    invalid: ["2.0", "many"],
  },
  AWS_VPC_K8S_CNI_LOGLEVEL: {
    get: (c) => c.log.level,
    default: "debug",
    valid: [["INFO", "info"], ["warn", "warn"], ["Error", "error"], ["FATAL", "fatal"], ["debug", "debug"]],
    invalid: ["trace", "warning", "verbose"],
  },
  AWS_VPC_K8S_CNI_LOG_FILE: {
    get: (c) => c.log.file,
    default: "/host/var/log/aws-routed-eni/ipamd.log",
    valid: [["stdout", "stdout"], ["STDERR", "stderr"], ["/var/log/x.log", "/var/log/x.log"]],
    invalid: ["ipamd.log", "stdlog"],
  },
  AWS_VPC_K8S_PLUGIN_LOG_FILE: {
    get: (c) => c.log.pluginFile,
    default: "/var/log/aws-routed-eni/plugin.log",
    valid: [["stderr", "stderr"], ["", "stderr"], ["/tmp/plugin.log", "/tmp/plugin.log"]],
    invalid: ["stdout", "plugin.log"],
  },
  AWS_VPC_K8S_EGRESS_V4_PLUGIN_LOG_FILE: {
    get: (c) => c.log.egressV4PluginFile,
    default: "/var/log/aws-routed-eni/egress-v4-plugin.log",
    valid: [["/var/log/aws-routed-eni/egress-v4-plugin.log", "/var/log/aws-routed-eni/egress-v4-plugin.log"], ["stderr", "stderr"]],
    invalid: ["egress.log", "stdout"],
  },
  AWS_VPC_K8S_EGRESS_V6_PLUGIN_LOG_FILE: {
    get: (c) => c.log.egressV6PluginFile,
    default: "/var/log/aws-routed-eni/egress-v6-plugin.log",
    valid: [["/tmp/e6.log", "/tmp/e6.log"], ["STDERR", "stderr"]],
    invalid: ["e6.log"],
  },
  AWS_VPC_K8S_PLUGIN_LOG_LEVEL: {
    get: (c) => c.log.pluginLevel,
    default: "debug",
    valid: [["info", "info"], ["WARN", "warn"]],
    invalid: ["notice"],
  },
  INTROSPECTION_BIND_ADDRESS: {
    get: (c) => c.introspection.bind,
    default: { kind: "tcp", host: "127.0.0.1", port: 61679 },
    valid: [
      ["0.0.0.0:8080", { kind: "tcp", host: "0.0.0.0", port: 8080 }],
      [":61679", { kind: "tcp", host: "", port: 61679 }],
      ["[::1]:61679", { kind: "tcp", host: "::1", port: 61679 }],
      ["localhost:1", { kind: "tcp", host: "localhost", port: 1 }],
      ["unix:/run/aws-node/introspect.sock", { kind: "unix", path: "/run/aws-node/introspect.sock" }],
    ],
    invalid: ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "unix:relative.sock", "bad host:80", "::1:80"],
  },
  DISABLE_INTROSPECTION: boolRow((c) => !c.introspection.enabled, false),
  DISABLE_METRICS: boolRow((c) => !c.metrics.enabled, false),
  AWS_VPC_K8S_CNI_VETHPREFIX: {
    get: (c) => c.network.vethPrefix,
    default: "eni",
    valid: [["veth", "veth"], ["p1", "p1"], ["ETH", "ETH"]],
    invalid: ["eth", "vlan", "lo", "toolong", "a-b", "a.b", "é"],
  },
  ADDITIONAL_ENI_TAGS: {
    get: (c) => c.eni.additionalTags,
    default: {},
    valid: [['{"team":"net","cost":"42"}', { team: "net", cost: "42" }], ["{}", {}]],
    invalid: ["team=net", '["a"]', '{"n":1}', '{"aws:x":"y"}', `{"k":"${"v".repeat(257)}"}`, "null"],
  },
  AWS_VPC_K8S_CNI_CONFIGURE_RPFILTER: boolRow((c) => c.network.configureRpFilter, true),
  CLUSTER_NAME: {
    get: (c) => c.eni.clusterName,
    default: "",
    valid: [["prod-eu", "prod-eu"]],
    invalid: ["a\u0001b", "x".repeat(257)],
  },
  CLUSTER_ENDPOINT: {
    get: (c) => c.kubernetes.clusterEndpoint,
    default: undefined,
    valid: [["https://ABC.gr7.us-west-2.eks.amazonaws.com", "https://ABC.gr7.us-west-2.eks.amazonaws.com"], ["10.0.0.1:6443", "https://10.0.0.1:6443"]],
    invalid: ["ftp://host", "https://user:pw@host", "http://"],
  },
  // refused until security groups for pods are implemented (true would be a silent bypass)
  ENABLE_POD_ENI: boolRow((c) => c.eni.podEni, false),
  POD_SECURITY_GROUP_ENFORCING_MODE: {
    get: (c) => c.eni.podSecurityGroupEnforcingMode,
    default: "strict",
    valid: [["standard", "standard"], ["STRICT", "strict"]],
    invalid: ["loose"],
  },
  DISABLE_TCP_EARLY_DEMUX: boolRow((c) => c.network.disableTcpEarlyDemux, false),
  ENABLE_SUBNET_DISCOVERY: boolRow((c) => c.pool.subnetDiscovery, true),
  ENABLE_PREFIX_DELEGATION: boolRow((c) => c.pool.prefixDelegation, false),
  WARM_PREFIX_TARGET: {
    get: (c) => c.pool.warmPrefixTarget,
    default: undefined,
    valid: [["1", 1], ["0", undefined], ["-4", undefined]],
    invalid: ["1/28"],
  },
  DISABLE_NETWORK_RESOURCE_PROVISIONING: boolRow((c) => c.pool.disableNetworkResourceProvisioning, false),
  ENABLE_BANDWIDTH_PLUGIN: boolRow((c) => c.cni.bandwidthPlugin, false),
  ANNOTATE_POD_IP: boolRow((c) => c.kubernetes.annotatePodIp, false),
  ENABLE_IPv4: { get: (c) => c.enableIPv4, default: true, valid: [["TRUE", true]], invalid: BOOL_INVALID },
  ENABLE_IPv6: { get: (c) => c.enableIPv6, default: false, valid: [["false", false]], invalid: BOOL_INVALID },
  ENABLE_NFTABLES: boolRow((c) => c.network.enableNftables, false),
  AWS_VPC_CNI_RECONCILE_INTERVAL_SECONDS: {
    get: (c) => c.network.reconcileIntervalSeconds,
    default: 60,
    valid: [["1", 1], ["0", 0], ["3600", 3600]],
    invalid: ["-1", "3601", "1.5", "1m"],
  },
  AWS_EXTERNAL_SERVICE_CIDRS: {
    get: (c) => c.network.externalServiceCidrs,
    default: [],
    valid: [[" 52.94.0.0/16 , 3.5.0.0/19,52.94.0.0/16", ["52.94.0.0/16", "3.5.0.0/19"]]],
    invalid: { none: "invalid entries are skipped with a warning (warnings.test.ts)" },
  },
  AWS_EC2_ENDPOINT: {
    get: (c) => c.ec2.endpoint,
    default: undefined,
    valid: [["http://127.0.0.1:8080", "http://127.0.0.1:8080"], ["ec2.us-west-2.customaws.com", "https://ec2.us-west-2.customaws.com"]],
    invalid: ["file:///etc/passwd", "http://exa mple.com"],
  },
  DISABLE_LEAKED_ENI_CLEANUP: boolRow((c) => c.pool.disableLeakedEniCleanup, false),
  ENABLE_MULTI_NIC: boolRow((c) => c.pool.multiNic, false),
  ENABLE_IMDS_ONLY_MODE: boolRow((c) => c.pool.imdsOnlyMode, false),
  MANAGE_UNTAGGED_ENI: boolRow((c) => c.pool.manageUntaggedEnis, true),
  HTTP_TIMEOUT: {
    get: (c) => c.ec2.httpTimeoutSeconds,
    default: 10,
    valid: [["10", 10], ["30", 30]],
    invalid: ["9", "0", "10s", "1.5", "3601"],
  },
  VPC_CNI_VERSION: {
    get: (c) => c.ec2.userAgentVersion,
    default: "",
    valid: [["v1.23.1", "v1.23.1"], ["v1.23.1-eksbuild.1", "v1.23.1-eksbuild.1"]],
    invalid: ["v1 2", "a/b", "x".repeat(65)],
  },
  MY_POD_NAME: {
    get: (c) => c.kubernetes.podName,
    default: undefined,
    valid: [["aws-node-7xk2p", "aws-node-7xk2p"]],
    invalid: ["Aws_Node", "-x"],
  },
  ENABLE_V6_EGRESS: boolRow((c) => c.cni.v6Egress, false),
  ENABLE_V4_EGRESS: boolRow((c) => c.cni.v4Egress, true),
  IP_COOLDOWN_PERIOD: {
    get: (c) => c.pool.ipCooldownSeconds,
    default: 30,
    valid: [["0", 0], ["60", 60]],
    invalid: ["-1", "30s", "1.5", "86401"],
  },
  DISABLE_POD_V6: boolRow((c) => c.cni.disablePodV6, false),
  NETWORK_POLICY_ENFORCING_MODE: {
    get: (c) => c.networkPolicy.enforcingMode,
    default: "none",
    valid: [["strict", "strict"], ["Standard", "standard"], ["none", "none"]],
    invalid: ["off", "enforcing"],
  },
  AWS_VPC_K8S_CNI_CONNMARK: {
    get: (c) => c.snat.connmark,
    default: 0x80,
    valid: [["0x4000", 0x4000], ["128", 128], ["0xFFFFFFFF", 0xffffffff]],
    invalid: ["0", "0x100000000", "4294967296", "mark", "0o200"],
  },
  AWS_VPC_K8S_CNI_BACKING_STORE: {
    get: (c) => c.checkpoint.path,
    default: "/var/run/aws-node/ipam.json",
    valid: [["/data/ipam.json", "/data/ipam.json"]],
    invalid: ["ipam.json"],
  },
  MY_NODE_NAME: {
    get: (c) => c.kubernetes.nodeName,
    default: undefined,
    valid: [["ip-10-0-1-2.us-west-2.compute.internal", "ip-10-0-1-2.us-west-2.compute.internal"]],
    invalid: ["Node_1", "-x"],
  },
  AWS_VPC_CNI_RUN_DIR: {
    get: (c) => c.runDir,
    default: "/var/run/aws-node",
    valid: [["/tmp/run/", "/tmp/run"]],
    invalid: ["run"],
  },
  AWS_VPC_CNI_HOST_PROC: {
    get: (c) => c.hostProc,
    default: "/proc",
    valid: [["/host/proc", "/host/proc"], ["/host/proc/", "/host/proc"]],
    invalid: ["host/proc", "/host/../proc"],
  },
  AWS_VPC_CNI_PUBLISH_SETTINGS: {
    get: (c) => c.podSettings.publish,
    default: undefined,
    valid: [["/run/aws-node-settings/settings.json", "/run/aws-node-settings/settings.json"]],
    invalid: ["settings.json"],
  },
  AWS_VPC_CNI_SETTINGS_FROM: {
    get: (c) => c.podSettings.from,
    default: undefined,
    valid: [["/run/aws-node-settings/settings.json", "/run/aws-node-settings/settings.json"]],
    invalid: ["settings.json"],
  },
  AWS_VPC_CNI_SOCKET_GROUP: {
    get: (c) => c.socketGroup,
    default: undefined,
    valid: [["0", 0], ["1001", 1001], ["aws-node", "aws-node"]],
    invalid: ["4294967295", "bad group", "-1", "9grp"],
  },
  AWS_VPC_CNI_METRICS_BIND_ADDRESS: {
    get: (c) => c.metrics.bind,
    default: { kind: "tcp", host: "", port: 61678 },
    valid: [["127.0.0.1:9100", { kind: "tcp", host: "127.0.0.1", port: 9100 }]],
    invalid: ["61678", "host:port"],
  },
  AWS_VPC_CNI_COOLING_IPS_COUNT_AS_AVAILABLE: boolRow((c) => c.pool.coolingIpsCountAsAvailable, false),
  AWS_VPC_CNI_HOLD_COOLING_IPS: boolRow((c) => c.pool.holdCoolingIps, true),
  AWS_VPC_CNI_VERIFY_IMDS_WITH_EC2: boolRow((c) => c.pool.verifyImdsWithEc2, true),
  AWS_VPC_CNI_PREFIX_DELEGATION_FALLBACK_TO_IPS: boolRow((c) => c.pool.prefixDelegationFallbackToIps, true),
  AWS_VPC_CNI_DEMAND_AWARE_POOL: boolRow((c) => c.pool.demandAware, true),
  AWS_VPC_CNI_POOL_POLICY: {
    get: (c) => c.pool.policy,
    // Unset with no upstream target set: the demand policy.
    default: "demand",
    valid: [["compat", "compat"], ["Demand", "demand"], ["COMPAT", "compat"]],
    invalid: ["warm", "1", "auto"],
  },
  AWS_VPC_CNI_EC2_RATE_LIMIT_SCALE: {
    get: (c) => c.ec2.rateLimit.scale,
    default: 1,
    valid: [["0.5", 0.5], ["2", 2], [".25", 0.25]],
    invalid: ["0", "-1", "101", "fast", "1e2"],
  },
  AWS_REGION: {
    get: (c) => c.ec2.region,
    default: undefined,
    valid: [["us-west-2", "us-west-2"]],
    invalid: ["US West", "us_west_2"],
  },
  AWS_EC2_METADATA_SERVICE_ENDPOINT: {
    get: (c) => c.imds.endpoint,
    default: undefined,
    valid: [["http://169.254.169.254", "http://169.254.169.254"], ["http://127.0.0.1:1338/", "http://127.0.0.1:1338"]],
    invalid: ["gopher://x"],
  },
  KUBERNETES_SERVICE_HOST: {
    get: (c) => c.kubernetes.apiServer,
    default: undefined,
    valid: [["10.100.0.1", "https://10.100.0.1:443"], ["fd00::1", "https://[fd00::1]:443"]],
    invalid: ["10.0.0.1/32", "host name"],
  },
  KUBERNETES_SERVICE_PORT: {
    get: (c) => c.kubernetes.apiServer,
    default: undefined,
    valid: [["6443", undefined]],
    invalid: ["0", "65536", "https"],
  },
  KUBECONFIG: {
    get: (c) => c.kubernetes.kubeconfig,
    default: undefined,
    valid: [["/root/.kube/config", "/root/.kube/config"], ["a:b", "a:b"]],
    invalid: ["/x\u0000y"],
  },
};
