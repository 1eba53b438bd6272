/** What addr-broker needs from the node's configuration (mapped from shared/config's Config). */
import type { Config } from "../../../../shared/config/index.ts";

export interface BrokerSettings {
  runDir: string;
  /** Where this service listens: `<runDir>/addr-broker.sock`. */
  socketPath: string;
  socketGroup: number | string | undefined;
  poolManagerSocket: string;
  netConfigSocket: string;
  /** NETWORK_POLICY_ENFORCING_MODE: none (default) = the policy agent is never called. */
  networkPolicyMode: "none" | "standard" | "strict";
  /** `<runDir>/policy-agent.sock`. */
  policyAgentSocket: string;
  /** AWS_VPC_K8S_CNI_BACKING_STORE, default /var/run/aws-node/ipam.json. */
  checkpointPath: string;
  /** IP_COOLDOWN_PERIOD, default 30. */
  cooldownSeconds: number;
  family: "ipv4" | "ipv6";
  /** AWS_VPC_K8S_CNI_VETHPREFIX, default "eni". */
  vethPrefix: string;
  /**
   * How long an ADD that found no free address waits for new capacity, looking again at every
   * change of it, before answering 11 (default 10 s: an address arriving a few seconds later
   * serves the pod now instead of at the kubelet's next try, 10 s or more away).
   */
  missWaitMs: number;
  /** Long-poll wait of each getCapacity call. */
  capacityWaitMs: number;
  /** ENABLE_POD_ENI: pods asking for vpc.amazonaws.com/pod-eni get their branch ENI (app/branch-pods.ts). */
  podEni: boolean;
  /** POD_SECURITY_GROUP_ENFORCING_MODE, for a conflist without podSGEnforcingMode. */
  podSgEnforcingMode: "strict" | "standard";
  /** AWS_VPC_K8S_PLUGIN_LOG_FILE when it is a file: addr-broker writes the shim's plugin log lines there (adapters/plugin-log.ts). */
  pluginLogFile?: string;
  /**
   * ENABLE_MULTI_NIC: multi-homed pods get an address on every managed card above 0 (kept in
   * ipam-nic-N.json beside the checkpoint); false: such a pod's ADD is refused, as upstream.
   */
  multiNic: boolean;
}

export const DEFAULT_SETTINGS: BrokerSettings = {
  runDir: "/var/run/aws-node",
  socketPath: "/var/run/aws-node/addr-broker.sock",
  socketGroup: undefined,
  poolManagerSocket: "/var/run/aws-node/pool-manager.sock",
  netConfigSocket: "/var/run/aws-node/net-config.sock",
  networkPolicyMode: "none",
  policyAgentSocket: "/var/run/aws-node/policy-agent.sock",
  checkpointPath: "/var/run/aws-node/ipam.json",
  cooldownSeconds: 30,
  family: "ipv4",
  vethPrefix: "eni",
  missWaitMs: 10_000,
  capacityWaitMs: 30_000,
  multiNic: false,
  podEni: false,
  podSgEnforcingMode: "strict",
};

export function settingsFromConfig(c: Config): BrokerSettings {
  return {
    ...DEFAULT_SETTINGS,
    runDir: c.runDir,
    socketPath: c.sockets.addrBroker,
    socketGroup: c.socketGroup,
    poolManagerSocket: c.sockets.poolManager,
    netConfigSocket: c.sockets.netConfig,
    networkPolicyMode: c.networkPolicy.enforcingMode,
    policyAgentSocket: c.sockets.policyAgent,
    checkpointPath: c.checkpoint.path,
    cooldownSeconds: c.pool.ipCooldownSeconds,
    family: c.ipFamily,
    vethPrefix: c.network.vethPrefix,
    multiNic: c.pool.multiNic,
    podEni: c.eni.podEni,
    podSgEnforcingMode: c.eni.podSecurityGroupEnforcingMode,
    ...(c.log.pluginFile !== "stderr" ? { pluginLogFile: c.log.pluginFile } : {}),
  };
}
