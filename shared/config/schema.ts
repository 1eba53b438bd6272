// The one schema over the environment: every variable of the upstream README's
// "CNI Configuration Variables" section, the few upstream reads only in code, and the
// project's own. Each field turns a string (or undefined) into a typed value; cross-field
// rules live in rules.ts, the grouped Config in build.ts.
import { z } from "zod";
import {
  boolField,
  enumField,
  envField,
  INVALID,
  intField,
  isAbsolutePath,
  isDnsSubdomain,
  optionalPathField,
  parseDecimal,
  pathField,
  qualifiedNameField,
  targetField,
  urlField,
} from "./fields.ts";
import {
  bindAddressField,
  cidrListField,
  connmarkField,
  eniTagsField,
  socketGroupField,
  vethPrefixField,
} from "./network-fields.ts";

export const LOG_LEVELS = ["debug", "info", "warn", "error", "fatal"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

function logLevelField() {
  return envField<LogLevel>({
    accepted: "one of DEBUG, INFO, WARN, ERROR, FATAL (any letter case)",
    default: "debug",
    defaultText: "DEBUG",
    differs: "an unknown level is rejected (upstream falls back silently)",
    parse: (v) => LOG_LEVELS.find((l) => l === v.toLowerCase()) ?? INVALID,
  });
}

/** Where a log goes: "stdout", "stderr" or an absolute file path. */
export type LogDestination = string;

function serviceLogFileField() {
  return envField<LogDestination>({
    accepted: "stdout, stderr or an absolute file path",
    default: "/host/var/log/aws-routed-eni/ipamd.log",
    defaultText: "/host/var/log/aws-routed-eni/ipamd.log",
    differs: "a relative path is rejected",
    parse: (v) => {
      const lower = v.toLowerCase();
      if (lower === "stdout" || lower === "stderr") return lower;
      return isAbsolutePath(v) ? v : INVALID;
    },
  });
}

function pluginLogFileField() {
  return envField<LogDestination>({
    accepted: "stderr (or empty, an alias for stderr) or an absolute file path; not stdout, which carries the CNI result",
    default: "/var/log/aws-routed-eni/plugin.log",
    defaultText: "/var/log/aws-routed-eni/plugin.log",
    empty: "stderr",
    parse: (v) => {
      if (v.toLowerCase() === "stderr") return "stderr";
      return isAbsolutePath(v) ? v : INVALID;
    },
  });
}

export const MTU_ACCEPTED = "an integer from 576 to 9001 (IPv4) or 1280 to 9001 (IPv6)";

/** Any integer here; the range depends on the IP family and is checked in rules.ts. */
function mtuField<T extends number | undefined>(name: string, defaultValue: T, defaultText: string) {
  return envField<number | T>({
    accepted: MTU_ACCEPTED,
    default: defaultValue,
    defaultText,
    differs: `an out-of-range ${name} is rejected (upstream falls back to 9001)`,
    parse: (v) => parseDecimal(v),
  });
}

function nodeNameField() {
  return envField<string | undefined>({
    accepted: "a Kubernetes node name (DNS subdomain, lower case)",
    default: undefined,
    defaultText: "",
    source: "upstream-code",
    parse: (v) => (isDnsSubdomain(v) ? v : INVALID),
  });
}

function clusterNameField() {
  return envField<string>({
    accepted: "at most 256 printable characters (it becomes an ENI tag value)",
    default: "",
    defaultText: '""',
    parse: (v) => (v.length <= 256 && !/[\u0000-\u001f\u007f]/.test(v) ? v : INVALID),
  });
}

function regionField() {
  return envField<string | undefined>({
    accepted: "an AWS region name such as us-west-2 (lower case letters, digits and dashes)",
    default: undefined,
    defaultText: "(from IMDS)",
    source: "standard",
    parse: (v) => (/^[a-z0-9]+(-[a-z0-9]+)*$/.test(v) && v.length <= 64 ? v : INVALID),
  });
}

function kubeServiceHostField() {
  return envField<string | undefined>({
    accepted: "a host name or IP address",
    default: undefined,
    defaultText: "(set by Kubernetes)",
    source: "standard",
    parse: (v) => (/^[A-Za-z0-9.:-]+$/.test(v) && v.length <= 253 ? v : INVALID),
  });
}

function kubeconfigField() {
  return envField<string | undefined>({
    accepted: "a path to a kubeconfig file",
    default: undefined,
    defaultText: "",
    source: "standard",
    parse: (v) => (!/[\u0000-\u001f]/.test(v) ? v : INVALID),
  });
}

function rateLimitScaleField() {
  return envField<number>({
    accepted: "a number greater than 0 and at most 100 (1 = AWS's own bucket sizes and refill rates)",
    default: 1,
    defaultText: "1",
    source: "project",
    parse: (v) => {
      if (!/^\d+(\.\d+)?$|^\.\d+$/.test(v)) return INVALID;
      const n = Number(v);
      return n > 0 && n <= 100 ? n : INVALID;
    },
  });
}

function cooldownField() {
  return envField<number>({
    accepted: "an integer number of seconds from 0 to 86400",
    default: 30,
    defaultText: "30",
    differs: "a negative or non-integer value is rejected (upstream uses 30)",
    parse: (v) => {
      const n = parseDecimal(v);
      return n !== INVALID && n >= 0 && n <= 86400 ? n : INVALID;
    },
  });
}

function warmEniTargetField() {
  return envField<{ value: number; ignoredNegative?: number }>({
    accepted: "an integer (0 keeps no spare ENI; a negative value means the default, 1)",
    default: { value: 1 },
    defaultText: "1",
    differs: "a value that is not an integer is rejected (upstream logs it and uses 1)",
    parse: (v) => {
      const n = parseDecimal(v);
      if (n === INVALID) return INVALID;
      return n < 0 ? { value: 1, ignoredNegative: n } : { value: n };
    },
  });
}

/** compat | demand; unset (undefined) is resolved in build.ts from whether upstream targets are set. */
function poolPolicyField() {
  return envField<"compat" | "demand" | undefined>({
    accepted: "compat or demand (any letter case); unset: demand unless WARM_ENI_TARGET, WARM_IP_TARGET, MINIMUM_IP_TARGET or WARM_PREFIX_TARGET is set, then compat",
    default: undefined,
    defaultText: "(demand, or compat when an upstream target is set)",
    source: "project",
    parse: (v) => (["compat", "demand"] as const).find((x) => x === v.toLowerCase()) ?? INVALID,
  });
}

export const envSchema = z.object({
  // ---- upstream README, "CNI Configuration Variables" ----
  AWS_MANAGE_ENIS_NON_SCHEDULABLE: boolField(false),
  AWS_VPC_CNI_NODE_PORT_SUPPORT: boolField(true),
  AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: boolField(false),
  ENI_CONFIG_ANNOTATION_DEF: qualifiedNameField("k8s.amazonaws.com/eniConfig"),
  ENI_CONFIG_LABEL_DEF: qualifiedNameField("k8s.amazonaws.com/eniConfig"),
  HOST_CNI_BIN_PATH: pathField("/host/opt/cni/bin"),
  HOST_CNI_CONFDIR_PATH: pathField("/host/etc/cni/net.d"),
  AWS_VPC_ENI_MTU: mtuField("AWS_VPC_ENI_MTU", 9001, "9001"),
  AWS_VPC_K8S_CNI_EXTERNALSNAT: boolField(false),
  AWS_VPC_K8S_CNI_RANDOMIZESNAT: enumField(["hashrandom", "prng", "none"], "prng", {
    differs: "values are accepted in any letter case; an unknown value is rejected (upstream uses prng)",
  }),
  AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: cidrListField(),
  POD_MTU: mtuField("POD_MTU", undefined, "AWS_VPC_ENI_MTU"),
  WARM_ENI_TARGET: warmEniTargetField(),
  WARM_IP_TARGET: targetField(),
  MINIMUM_IP_TARGET: targetField(),
  MAX_ENI: targetField(),
  AWS_VPC_K8S_CNI_LOGLEVEL: logLevelField(),
  AWS_VPC_K8S_CNI_LOG_FILE: serviceLogFileField(),
  AWS_VPC_K8S_PLUGIN_LOG_FILE: pluginLogFileField(),
  AWS_VPC_K8S_PLUGIN_LOG_LEVEL: logLevelField(),
  INTROSPECTION_BIND_ADDRESS: bindAddressField("127.0.0.1:61679"),
  DISABLE_INTROSPECTION: boolField(false),
  DISABLE_METRICS: boolField(false),
  AWS_VPC_K8S_CNI_VETHPREFIX: vethPrefixField(),
  ADDITIONAL_ENI_TAGS: eniTagsField(),
  AWS_VPC_K8S_CNI_CONFIGURE_RPFILTER: boolField(true, {
    differs: "deprecated upstream and a no-op there and here; setting it raises a warning",
  }),
  CLUSTER_NAME: clusterNameField(),
  CLUSTER_ENDPOINT: urlField(),
  ENABLE_POD_ENI: boolField(false),
  POD_SECURITY_GROUP_ENFORCING_MODE: enumField(["strict", "standard"], "strict", {
    differs: "an unknown mode is rejected (upstream uses strict)",
  }),
  DISABLE_TCP_EARLY_DEMUX: boolField(false),
  ENABLE_SUBNET_DISCOVERY: boolField(true),
  ENABLE_PREFIX_DELEGATION: boolField(false),
  WARM_PREFIX_TARGET: targetField(),
  DISABLE_NETWORK_RESOURCE_PROVISIONING: boolField(false),
  ENABLE_BANDWIDTH_PLUGIN: boolField(false),
  ANNOTATE_POD_IP: boolField(false),
  ENABLE_IPv4: boolField(true),
  ENABLE_IPv6: boolField(false),
  ENABLE_NFTABLES: boolField(false, { differs: "deprecated upstream (v1.13.2+); kept as a hint for net-config" }),
  AWS_EXTERNAL_SERVICE_CIDRS: cidrListField(),
  AWS_EC2_ENDPOINT: urlField(),
  DISABLE_LEAKED_ENI_CLEANUP: boolField(false),
  ENABLE_V6_EGRESS: boolField(false),
  ENABLE_V4_EGRESS: boolField(true),
  IP_COOLDOWN_PERIOD: cooldownField(),
  DISABLE_POD_V6: boolField(false),
  NETWORK_POLICY_ENFORCING_MODE: enumField(["standard", "strict"], "standard", {
    differs: "an unknown mode is rejected",
  }),

  // ---- read by upstream code, not listed in its README ----
  AWS_VPC_K8S_CNI_CONNMARK: connmarkField(),
  AWS_VPC_K8S_CNI_BACKING_STORE: optionalPathField({
    source: "upstream-code",
    differs: "the default follows AWS_VPC_CNI_RUN_DIR (<run dir>/ipam.json = /var/run/aws-node/ipam.json)",
  }),
  MY_NODE_NAME: nodeNameField(),

  // ---- the project's own ----
  AWS_VPC_CNI_RUN_DIR: pathField("/var/run/aws-node", { source: "project" }),
  AWS_VPC_CNI_SOCKET_GROUP: socketGroupField(),
  AWS_VPC_CNI_METRICS_BIND_ADDRESS: bindAddressField(":61678", { source: "project" }),
  AWS_VPC_CNI_COOLING_IPS_COUNT_AS_AVAILABLE: boolField(false, { source: "project" }),
  AWS_VPC_CNI_VERIFY_IMDS_WITH_EC2: boolField(true, { source: "project" }),
  AWS_VPC_CNI_PREFIX_DELEGATION_FALLBACK_TO_IPS: boolField(true, { source: "project" }),
  AWS_VPC_CNI_DEMAND_AWARE_POOL: boolField(true, { source: "project" }),
  AWS_VPC_CNI_POOL_POLICY: poolPolicyField(),
  AWS_VPC_CNI_EC2_RATE_LIMIT_SCALE: rateLimitScaleField(),

  // ---- standard names of the SDKs and of Kubernetes ----
  AWS_REGION: regionField(),
  AWS_EC2_METADATA_SERVICE_ENDPOINT: urlField({ source: "standard" }),
  KUBERNETES_SERVICE_HOST: kubeServiceHostField(),
  KUBERNETES_SERVICE_PORT: intField({ default: 443, min: 1, max: 65535, source: "standard" }),
  KUBECONFIG: kubeconfigField(),
});

export type EnvName = keyof typeof envSchema.shape;
export type ParsedEnv = z.output<typeof envSchema>;
export const ENV_NAMES = Object.keys(envSchema.shape) as EnvName[];
