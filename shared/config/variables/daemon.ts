// The daemon itself: logs, introspection and metrics endpoints, sockets, checkpoint.
import { boolField, envField, INVALID, isAbsolutePath, optionalPathField } from "../fields.ts";
import { bindAddressField, formatBindAddress, socketGroupField } from "../network-fields.ts";
import { combinedVariable, variable } from "../declaration.ts";

export const LOG_LEVELS = ["debug", "info", "warn", "error", "fatal"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Where a log goes: "stdout", "stderr" or an absolute file path. */
export type LogDestination = string;

/** An egress-cni log file (upstream's default in /var/log/aws-routed-eni). */
function egressLogField(name: string) {
  return envField<LogDestination>({
    accepted: "stderr or an absolute file path",
    default: `/var/log/aws-routed-eni/${name}`,
    defaultText: `/var/log/aws-routed-eni/${name}`,
    source: "upstream-code",
    parse: (v) => {
      if (v.toLowerCase() === "stderr") return "stderr";
      return isAbsolutePath(v) ? v : INVALID;
    },
  });
}

function logLevelField() {
  return envField<LogLevel>({
    accepted: "one of DEBUG, INFO, WARN, ERROR, FATAL (any letter case)",
    default: "debug",
    defaultText: "DEBUG",
    differs: "an unknown level is rejected (upstream falls back silently)",
    parse: (v) => LOG_LEVELS.find((l) => l === v.toLowerCase()) ?? INVALID,
  });
}

export const DAEMON_VARIABLES = {
  AWS_VPC_K8S_CNI_LOGLEVEL: variable(logLevelField(), {
    about: "Level of the services' logs.",
    sets: "log.level",
    show: (c) => c.log.level.toUpperCase(),
  }),
  AWS_VPC_K8S_CNI_LOG_FILE: variable(
    envField<LogDestination>({
      accepted: "stdout, stderr or an absolute file path",
      default: "/host/var/log/aws-routed-eni/ipamd.log",
      defaultText: "/host/var/log/aws-routed-eni/ipamd.log",
      differs: "a relative path is rejected",
      parse: (v) => {
        const lower = v.toLowerCase();
        if (lower === "stdout" || lower === "stderr") return lower;
        return isAbsolutePath(v) ? v : INVALID;
      },
    }),
    { about: "Where the services log.", sets: "log.file" },
  ),
  AWS_VPC_K8S_PLUGIN_LOG_FILE: variable(
    envField<LogDestination>({
      accepted: "stderr (or empty, an alias for stderr) or an absolute file path; not stdout, which carries the CNI result",
      default: "/var/log/aws-routed-eni/plugin.log",
      defaultText: "/var/log/aws-routed-eni/plugin.log",
      empty: "stderr",
      parse: (v) => {
        if (v.toLowerCase() === "stderr") return "stderr";
        return isAbsolutePath(v) ? v : INVALID;
      },
    }),
    { about: "Where the CNI plugin logs (written into the conflist).", sets: "log.pluginFile" },
  ),
  AWS_VPC_K8S_EGRESS_V4_PLUGIN_LOG_FILE: variable(egressLogField("egress-v4-plugin.log"), {
    about: "Where egress-cni logs in IPv6 mode (IPv4 egress; written into its conflist entry).",
    sets: "log.egressV4PluginFile",
  }),
  AWS_VPC_K8S_EGRESS_V6_PLUGIN_LOG_FILE: variable(egressLogField("egress-v6-plugin.log"), {
    about: "Where egress-cni logs in IPv4 mode with ENABLE_V6_EGRESS (written into its conflist entry).",
    sets: "log.egressV6PluginFile",
  }),
  AWS_VPC_K8S_PLUGIN_LOG_LEVEL: variable(logLevelField(), {
    about: "Level of the CNI plugin's log.",
    sets: "log.pluginLevel",
    show: (c) => c.log.pluginLevel.toUpperCase(),
  }),
  INTROSPECTION_BIND_ADDRESS: variable(bindAddressField("127.0.0.1:61679"), {
    about: "Where the introspection endpoint listens (TCP or unix:/path).",
    sets: "introspection.bind",
    show: (c) => formatBindAddress(c.introspection.bind),
  }),
  DISABLE_INTROSPECTION: variable(boolField(false), {
    about: "Turn the introspection endpoint off.",
    sets: "introspection.enabled",
    toConfig: (disabled) => !disabled,
    show: (c) => String(!c.introspection.enabled),
  }),
  DISABLE_METRICS: variable(boolField(false), {
    about: "Turn the Prometheus metrics endpoint off.",
    sets: "metrics.enabled",
    toConfig: (disabled) => !disabled,
    show: (c) => String(!c.metrics.enabled),
  }),
  AWS_VPC_CNI_METRICS_BIND_ADDRESS: variable(bindAddressField(":61678", { source: "project" }), {
    about: "Where the Prometheus metrics endpoint listens (upstream: always :61678).",
    sets: "metrics.bind",
    show: (c) => formatBindAddress(c.metrics.bind),
  }),
  AWS_VPC_CNI_RUN_DIR: variable(
    envField<string>({
      accepted: "an absolute path",
      default: "/var/run/aws-node",
      defaultText: "/var/run/aws-node",
      source: "project",
      parse: (v) => (isAbsolutePath(v) ? v.replace(/(.)\/+$/, "$1") : INVALID),
    }),
    { about: "Where the services' sockets live, and by default the checkpoint.", sets: "runDir" },
  ),
  AWS_VPC_CNI_HOST_PROC: variable(
    envField<string>({
      accepted: "an absolute path",
      default: "/proc",
      defaultText: "/proc",
      source: "project",
      parse: (v) => (isAbsolutePath(v) && !v.split("/").includes("..") ? v.replace(/(.)\/+$/, "$1") : INVALID),
    }),
    { about: "Where net-config sees the host's /proc (the DaemonSet mounts it at /host/proc): pod network namespaces are opened through it.", sets: "hostProc" },
  ),
  AWS_VPC_CNI_PUBLISH_SETTINGS: variable(optionalPathField({ source: "project" }), {
    about: "The aws-node container writes its environment here for the pod's other containers (the DaemonSet; shared/config/pod-settings.ts).",
    sets: "podSettings.publish",
  }),
  AWS_VPC_CNI_SETTINGS_FROM: variable(optionalPathField({ source: "project" }), {
    about: "A service container starts from the settings the aws-node container published here, its own environment on top.",
    sets: "podSettings.from",
  }),
  AWS_VPC_CNI_SOCKET_GROUP: variable(socketGroupField(), {
    about: "Group that may use the services' sockets (mode 0660); unset: root only (0600).",
    sets: "socketGroup",
  }),
  AWS_VPC_K8S_CNI_BACKING_STORE: combinedVariable(
    optionalPathField({
      source: "upstream-code",
      differs: "the default follows AWS_VPC_CNI_RUN_DIR (<run dir>/ipam.json = /var/run/aws-node/ipam.json)",
    }),
    { about: "The checkpoint file of pod assignments.", sets: "checkpoint.path" },
  ),
};
