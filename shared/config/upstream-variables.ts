// Upstream's configuration variables (amazon-vpc-cni-k8s v1.23.1), as names only: the ones
// its README documents under "CNI Configuration Variables", in its order, and the few its
// code reads without documenting them. variables.test.ts checks every one against the
// declarations (variables/), so a variable upstream has and this project lacks fails a test
// unless it is listed there as a known gap, with the reason.

/** Documented in upstream's README (v1.23.1). */
export const UPSTREAM_README_VARIABLES = [
  "AWS_MANAGE_ENIS_NON_SCHEDULABLE",
  "AWS_VPC_CNI_NODE_PORT_SUPPORT",
  "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG",
  "ENI_CONFIG_ANNOTATION_DEF",
  "ENI_CONFIG_LABEL_DEF",
  "HOST_CNI_BIN_PATH",
  "HOST_CNI_CONFDIR_PATH",
  "AWS_VPC_ENI_MTU",
  "AWS_VPC_K8S_CNI_EXTERNALSNAT",
  "AWS_VPC_K8S_CNI_RANDOMIZESNAT",
  "AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS",
  "POD_MTU",
  "WARM_ENI_TARGET",
  "WARM_IP_TARGET",
  "MINIMUM_IP_TARGET",
  "MAX_ENI",
  "AWS_VPC_K8S_CNI_LOGLEVEL",
  "AWS_VPC_K8S_CNI_LOG_FILE",
  "AWS_VPC_K8S_PLUGIN_LOG_FILE",
  "AWS_VPC_K8S_PLUGIN_LOG_LEVEL",
  "INTROSPECTION_BIND_ADDRESS",
  "DISABLE_INTROSPECTION",
  "DISABLE_METRICS",
  "AWS_VPC_K8S_CNI_VETHPREFIX",
  "ADDITIONAL_ENI_TAGS",
  "AWS_VPC_K8S_CNI_CONFIGURE_RPFILTER",
  "CLUSTER_NAME",
  "CLUSTER_ENDPOINT",
  "ENABLE_POD_ENI",
  "POD_SECURITY_GROUP_ENFORCING_MODE",
  "DISABLE_TCP_EARLY_DEMUX",
  "ENABLE_SUBNET_DISCOVERY",
  "ENABLE_PREFIX_DELEGATION",
  "WARM_PREFIX_TARGET",
  "DISABLE_NETWORK_RESOURCE_PROVISIONING",
  "ENABLE_BANDWIDTH_PLUGIN",
  "ANNOTATE_POD_IP",
  "ENABLE_IPv4",
  "ENABLE_IPv6",
  "ENABLE_NFTABLES",
  "AWS_EXTERNAL_SERVICE_CIDRS",
  "AWS_EC2_ENDPOINT",
  "DISABLE_LEAKED_ENI_CLEANUP",
  "ENABLE_V6_EGRESS",
  "ENABLE_V4_EGRESS",
  "IP_COOLDOWN_PERIOD",
  "DISABLE_POD_V6",
  "NETWORK_POLICY_ENFORCING_MODE",
  "ENABLE_IMDS_ONLY_MODE",
  "ENABLE_MULTI_NIC",
] as const;

/**
 * Read by aws-node's code (v1.23.1: cmd/aws-k8s-agent, cmd/aws-vpc-cni, cmd/aws-vpc-cni-init,
 * pkg/) but not in its README: every os.Getenv / os.LookupEnv / utils.Get*EnvVar name there.
 */
export const UPSTREAM_CODE_VARIABLES = [
  "AWS_VPC_K8S_CNI_CONNMARK",
  "AWS_VPC_K8S_CNI_BACKING_STORE",
  "MY_NODE_NAME",
  "MY_POD_NAME",
  "HTTP_TIMEOUT",
  "VPC_CNI_VERSION",
  "MANAGE_UNTAGGED_ENI",
  "AWS_VPC_K8S_EGRESS_V4_PLUGIN_LOG_FILE",
  "AWS_VPC_K8S_EGRESS_V6_PLUGIN_LOG_FILE",
] as const;

/**
 * Read by upstream's separate cni-metrics-helper binary (cmd/cni-metrics-helper), not by
 * aws-node: no process of this project stands for it.
 */
export const UPSTREAM_METRICS_HELPER_VARIABLES = ["USE_CLOUDWATCH", "USE_PROMETHEUS", "METRIC_UPDATE_INTERVAL", "AWS_CLUSTER_ID"] as const;
