/**
 * The CNI network configuration list `10-aws.conflist`, rendered as upstream renders it:
 * network `aws-cni`, the `aws-cni` plugin first, then portmap (snat on), then bandwidth
 * when ENABLE_BANDWIDTH_PLUGIN and tuning when DISABLE_POD_V6 ask for them.
 *
 * Differences from upstream, on purpose:
 * - cniVersion is 1.0.0 (upstream 0.4.0 with `disableCheck: true`): this project
 *   implements CHECK, and 1.0.0 is the newest version Debian's chained plugins accept.
 * - upstream's `egress-cni` plugin (IPv6 egress from IPv4 pods and vice versa) is not in
 *   the chain: it is not implemented here (ENABLE_V6_EGRESS/ENABLE_V4_EGRESS have no effect).
 * - `runDir` / `brokerSocket` tell the shim where addr-broker listens when the run dir is
 *   not the default /var/run/aws-node (the local deployment runs one per node).
 */

import type { Config } from "./config/index.ts";

export interface ConflistSettings {
  vethPrefix: string;
  mtu: number;
  podSgEnforcingMode: string;
  pluginLogFile: string;
  pluginLogLevel: string;
  bandwidth: boolean;
  disablePodV6: boolean;
  runDir?: string;
  brokerSocket?: string;
  cniVersion?: string;
}

export function renderConflist(s: ConflistSettings): Record<string, unknown> {
  const aws: Record<string, unknown> = {
    name: "aws-cni",
    type: "aws-cni",
    vethPrefix: s.vethPrefix,
    mtu: String(s.mtu),
    podSGEnforcingMode: s.podSgEnforcingMode,
    pluginLogFile: s.pluginLogFile,
    pluginLogLevel: s.pluginLogLevel,
    capabilities: { "io.kubernetes.cri.pod-annotations": true },
  };
  if (s.runDir) aws.runDir = s.runDir;
  if (s.brokerSocket) aws.brokerSocket = s.brokerSocket;
  const plugins: Array<Record<string, unknown>> = [aws, { type: "portmap", capabilities: { portMappings: true }, snat: true }];
  if (s.bandwidth) plugins.push({ type: "bandwidth", capabilities: { bandwidth: true } });
  if (s.disablePodV6) {
    plugins.push({ type: "tuning", sysctl: { "net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1", "net.ipv6.conf.lo.disable_ipv6": "1" } });
  }
  return { cniVersion: s.cniVersion ?? "1.0.0", name: "aws-cni", plugins };
}

/** The conflist settings a node's configuration implies (the init container and the local deployment). */
export function conflistSettingsFromConfig(config: Config, runDir?: string): ConflistSettings {
  return {
    vethPrefix: config.network.vethPrefix,
    mtu: config.network.podMtu,
    podSgEnforcingMode: config.eni.podSecurityGroupEnforcingMode,
    pluginLogFile: config.log.pluginFile,
    pluginLogLevel: config.log.pluginLevel.toUpperCase(),
    bandwidth: config.cni.bandwidthPlugin,
    disablePodV6: config.cni.disablePodV6,
    runDir,
  };
}
