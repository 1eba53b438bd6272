/**
 * The agent container's arguments, as upstream's aws-eks-nodeagent takes them, so a manifest
 * written for upstream runs unchanged. `--enable-network-policy` is honoured; the others are
 * accepted and reported as ignored with the reason (the project configures those things
 * elsewhere or needs no such knob). An unknown flag or a malformed value is refused, named.
 */
export interface AgentFlags {
  enableNetworkPolicy: boolean;
  /** Flags given that have no effect here, each with why. */
  ignored: Array<{ flag: string; why: string }>;
}

type Kind = "bool" | "int" | "string";

const IGNORED: Record<string, { kind: Kind; why: string }> = {
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

const KNOWN: Record<string, Kind> = { "enable-network-policy": "bool", ...Object.fromEntries(Object.entries(IGNORED).map(([k, v]) => [k, v.kind])) };

export class FlagError extends Error {}

function checkValue(flag: string, kind: Kind, value: string): string {
  if (kind === "bool" && !/^(true|false|1|0|t|f|TRUE|FALSE|True|False)$/.test(value)) throw new FlagError(`--${flag}: expected true or false, got ${JSON.stringify(value)}`);
  if (kind === "int" && !/^\d{1,10}$/.test(value)) throw new FlagError(`--${flag}: expected a non-negative integer, got ${JSON.stringify(value)}`);
  return value;
}

export function parseAgentFlags(argv: readonly string[]): AgentFlags {
  const flags: AgentFlags = { enableNetworkPolicy: false, ignored: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--?([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new FlagError(`unexpected argument ${JSON.stringify(arg)} (flags look like --enable-network-policy=true)`);
    const name = m[1]!;
    const kind = KNOWN[name];
    if (!kind) throw new FlagError(`--${name}: unknown flag (known: ${Object.keys(KNOWN).join(", ")})`);
    let value = m[2];
    if (value === undefined) {
      if (kind === "bool") value = "true";
      else {
        value = argv[++i];
        if (value === undefined) throw new FlagError(`--${name}: a value is required`);
      }
    }
    checkValue(name, kind, value);
    if (name === "enable-network-policy") flags.enableNetworkPolicy = /^(true|1|t)$/i.test(value);
    else flags.ignored.push({ flag: `--${name}=${value}`, why: IGNORED[name]!.why });
  }
  return flags;
}
