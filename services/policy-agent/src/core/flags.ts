/**
 * The agent container's arguments, as upstream's aws-eks-nodeagent takes them, so a manifest
 * written for upstream runs unchanged. `--enable-network-policy` is honoured; the others are
 * accepted and reported as ignored with the reason (the project configures those things
 * elsewhere or needs no such knob). Read as Go's flag package reads them (shared/go-flags.ts):
 * an unknown flag or a malformed value is refused, named.
 */
import { GoFlagError, goBool, parseGoFlags, type GoFlagKind } from "../../../../shared/go-flags.ts";

export interface AgentFlags {
  enableNetworkPolicy: boolean;
  /** Flags given that have no effect here, each with why. */
  ignored: Array<{ flag: string; why: string }>;
}

const IGNORED: Record<string, { kind: GoFlagKind; why: string }> = {
  "enable-ipv6": { kind: "bool", why: "the address family follows ENABLE_IPv6, as for the other services" },
  "enable-cloudwatch-logs": { kind: "bool", why: "no CloudWatch shipping: flow logs are not produced" },
  "enable-policy-event-logs": { kind: "bool", why: "no per-flow event logs; /debug/why explains a flow's verdict instead" },
  "log-file": { kind: "string", why: "the log goes where AWS_VPC_K8S_CNI_LOG_FILE says, as for the other services" },
  "log-level": { kind: "string", why: "the level is AWS_VPC_K8S_CNI_LOGLEVEL, as for the other services" },
  "metrics-bind-addr": { kind: "string", why: "/metrics is served on the agent's Unix socket" },
  "health-probe-bind-addr": { kind: "string", why: "/healthz is served on the agent's Unix socket (probe policy-agent ready)" },
  "conntrack-cache-cleanup-period": { kind: "int", why: "replies are matched by the kernel's conntrack; there is no cache of the agent's own" },
  "conntrack-cache-table-size": { kind: "int", why: "replies are matched by the kernel's conntrack; there is no cache of the agent's own" },
  "max-concurrent-reconciles": { kind: "int", why: "the node's state is applied in one transaction at a time" },
};

const KNOWN: Record<string, GoFlagKind> = { "enable-network-policy": "bool", ...Object.fromEntries(Object.entries(IGNORED).map(([k, v]) => [k, v.kind])) };

export { GoFlagError as FlagError };

export function parseAgentFlags(argv: readonly string[]): AgentFlags {
  const flags: AgentFlags = { enableNetworkPolicy: false, ignored: [] };
  for (const { name, value } of parseGoFlags(argv, KNOWN, "--enable-network-policy=true").given) {
    if (name === "enable-network-policy") flags.enableNetworkPolicy = goBool(name, value);
    else flags.ignored.push({ flag: `--${name}=${value}`, why: IGNORED[name]!.why });
  }
  return flags;
}
