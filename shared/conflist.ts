/**
 * The CNI network configuration list `10-aws.conflist`, rendered as upstream renders it:
 * network `aws-cni`, the `aws-cni` plugin first, then portmap (snat on), then bandwidth
 * when ENABLE_BANDWIDTH_PLUGIN and tuning when DISABLE_POD_V6 ask for them.
 *
 * Differences from upstream, on purpose:
 * - cniVersion is 1.0.0 (upstream 0.4.0 with `disableCheck: true`): this project
 *   implements CHECK, and 1.0.0 is the newest version Debian's chained plugins accept.
 * - `egress-cni` (shared/egress.ts) is chained right after aws-cni, with upstream's keys, only
 *   when it is enabled; upstream chains it always and passes `"enabled": "false"`, which makes
 *   the plugin pass prevResult through: leaving it out gives the same pods without one more
 *   exec per ADD.
 * - `runDir` / `brokerSocket` tell the shim where addr-broker listens when the run dir is
 *   not the default /var/run/aws-node (the local deployment runs one per node).
 */

import type { Config } from "./config/index.ts";
import { egressDecision, egressRange, renderEgressEntry, type EgressConflist } from "./egress.ts";

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
  /** egress-cni in the chain (absent: left out). */
  egress?: EgressConflist;
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
  const plugins: Array<Record<string, unknown>> = [aws];
  if (s.egress) {
    const where: Record<string, unknown> = {};
    if (s.runDir) where.runDir = s.runDir;
    if (s.brokerSocket) where.brokerSocket = s.brokerSocket;
    plugins.push(renderEgressEntry(s.egress, where));
  }
  plugins.push({ type: "portmap", capabilities: { portMappings: true }, snat: true });
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

/**
 * egress-cni's entry for a node (undefined: left out), with the reason when it was asked for
 * and cannot be chained (ENABLE_V6_EGRESS on a node without an IPv6 address).
 */
export function egressConflistFromConfig(config: Config, nodeIps: { ipv4?: string | undefined; ipv6?: string | undefined }): { egress?: EgressConflist; error?: string } {
  const d = egressDecision({ ipFamily: config.ipFamily, v4Egress: config.cni.v4Egress, v6Egress: config.cni.v6Egress, nodeIpv4: nodeIps.ipv4, nodeIpv6: nodeIps.ipv6 });
  if ("error" in d) return { error: d.error };
  if ("off" in d) return {};
  const pluginFile = String(config.log.pluginFile);
  const logName = egressRange(d.family).logFile.slice(egressRange(d.family).logFile.lastIndexOf("/") + 1);
  // Beside the aws-cni plugin's log (upstream's default directory, or the node's own in the local deployment).
  const pluginLogFile = pluginFile.startsWith("/") ? pluginFile.slice(0, pluginFile.lastIndexOf("/") + 1) + logName : pluginFile;
  return {
    egress: {
      family: d.family,
      nodeIp: d.nodeIp,
      mtu: config.network.podMtu,
      randomizeSnat: config.snat.randomize,
      pluginLogFile,
      pluginLogLevel: config.log.pluginLevel.toUpperCase(),
    },
  };
}

/**
 * The node's conflist as addr-broker installs it: egress-cni chained when enabled and the
 * node's addresses (pool-manager's capacity) allow it; when asked for and impossible,
 * `onError` is told why and the chain goes without it, as upstream's init container does.
 */
export function nodeConflist(config: Config, runDir: string | undefined, nodeIps: { ipv4?: string | undefined; ipv6?: string | undefined }, onError: (why: string) => void): Record<string, unknown> {
  const { egress, error } = egressConflistFromConfig(config, nodeIps);
  if (error) onError(error);
  return renderConflist({ ...conflistSettingsFromConfig(config, runDir), ...(egress ? { egress } : {}) });
}
