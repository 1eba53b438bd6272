// ParsedEnv (every field valid, every rule met) → the grouped Config, plus warnings. Each
// variable's own value lands where its declaration `sets` it; DERIVED computes the rest.
import type { ConfigPath, ConfigValue, LeafPathsOf, Variable } from "./declaration.ts";
import { ENV_NAMES, type EnvName, type ParsedEnv } from "./schema.ts";
import type { Config, Ec2Buckets, TokenBucket } from "./types.ts";
import { AWS_EC2_BUCKETS as AWS_BUCKETS, type BucketSpec } from "../aws-ec2-buckets.ts";
import { VARIABLES } from "./variables/index.ts";

type Env = Record<string, string | undefined>;

/** AWS's per-account EC2 buckets (shared/aws-ec2-buckets.ts) in the configuration's shape. */
const bucket = (b: BucketSpec): TokenBucket => ({ capacity: b.capacity, refillPerSecond: b.refillPerSec });
export const AWS_EC2_BUCKETS: Ec2Buckets = {
  describe: bucket(AWS_BUCKETS.describe),
  describeUnfiltered: bucket(AWS_BUCKETS.describeUnfiltered),
  mutating: bucket(AWS_BUCKETS.mutating),
  addressesAndEnis: bucket(AWS_BUCKETS.addressing),
  tags: bucket(AWS_BUCKETS.tags),
};

function scaleBucket(b: TokenBucket, scale: number): TokenBucket {
  return { capacity: Math.max(1, Math.round(b.capacity * scale)), refillPerSecond: b.refillPerSecond * scale };
}

function scaleBuckets(scale: number): Ec2Buckets {
  return {
    describe: scaleBucket(AWS_EC2_BUCKETS.describe, scale),
    describeUnfiltered: scaleBucket(AWS_EC2_BUCKETS.describeUnfiltered, scale),
    mutating: scaleBucket(AWS_EC2_BUCKETS.mutating, scale),
    addressesAndEnis: scaleBucket(AWS_EC2_BUCKETS.addressesAndEnis, scale),
    tags: scaleBucket(AWS_EC2_BUCKETS.tags, scale),
  };
}

const UPSTREAM_TARGETS = ["WARM_ENI_TARGET", "WARM_IP_TARGET", "MINIMUM_IP_TARGET", "WARM_PREFIX_TARGET"] as const;

function apiServer(e: ParsedEnv): string | undefined {
  if (e.CLUSTER_ENDPOINT !== undefined) return e.CLUSTER_ENDPOINT;
  const host = e.KUBERNETES_SERVICE_HOST;
  if (host === undefined) return undefined;
  return `https://${host.includes(":") ? `[${host}]` : host}:${e.KUBERNETES_SERVICE_PORT}`;
}

/** A Config field computed from several variables (or from one, into a second field). */
interface Derivation<P extends ConfigPath> {
  /** The variables it reads: the README table lists the field beside each of them. */
  from: readonly EnvName[];
  value: (e: ParsedEnv, env: Env) => ConfigValue<P>;
}

/**
 * The Config fields not set by one variable's own value: the field of each combinedVariable,
 * and a few that follow from a variable without being its value.
 */
export const DERIVED = {
  ipFamily: { from: ["ENABLE_IPv4", "ENABLE_IPv6"], value: (e) => (e.ENABLE_IPv6 ? "ipv6" : "ipv4") },
  sockets: {
    from: ["AWS_VPC_CNI_RUN_DIR"],
    value: (e) => ({
      addrBroker: `${e.AWS_VPC_CNI_RUN_DIR}/addr-broker.sock`,
      poolManager: `${e.AWS_VPC_CNI_RUN_DIR}/pool-manager.sock`,
      netConfig: `${e.AWS_VPC_CNI_RUN_DIR}/net-config.sock`,
      metrics: `${e.AWS_VPC_CNI_RUN_DIR}/metrics.sock`,
      policyAgent: `${e.AWS_VPC_CNI_RUN_DIR}/policy-agent.sock`,
    }),
  },
  "network.podMtu": { from: ["POD_MTU", "AWS_VPC_ENI_MTU"], value: (e) => e.POD_MTU ?? e.AWS_VPC_ENI_MTU },
  "checkpoint.path": {
    from: ["AWS_VPC_K8S_CNI_BACKING_STORE", "AWS_VPC_CNI_RUN_DIR"],
    value: (e) => e.AWS_VPC_K8S_CNI_BACKING_STORE ?? `${e.AWS_VPC_CNI_RUN_DIR === "/" ? "" : e.AWS_VPC_CNI_RUN_DIR}/ipam.json`,
  },
  "pool.policy": { from: ["AWS_VPC_CNI_POOL_POLICY", ...UPSTREAM_TARGETS], value: poolPolicy },
  // The project's fixes to upstream: on by default, off (upstream's behaviour) under the compat
  // policy; an explicit value wins under either policy.
  "pool.coolingIpsCountAsAvailable": {
    from: ["AWS_VPC_CNI_COOLING_IPS_COUNT_AS_AVAILABLE", "AWS_VPC_CNI_POOL_POLICY", ...UPSTREAM_TARGETS],
    value: (e, env) => e.AWS_VPC_CNI_COOLING_IPS_COUNT_AS_AVAILABLE ?? poolPolicy(e, env) === "compat",
  },
  "pool.holdCoolingIps": {
    from: ["AWS_VPC_CNI_HOLD_COOLING_IPS", "AWS_VPC_CNI_POOL_POLICY", ...UPSTREAM_TARGETS],
    value: (e, env) => e.AWS_VPC_CNI_HOLD_COOLING_IPS ?? poolPolicy(e, env) !== "compat",
  },
  "pool.verifyImdsWithEc2": {
    from: ["AWS_VPC_CNI_VERIFY_IMDS_WITH_EC2", "AWS_VPC_CNI_POOL_POLICY", ...UPSTREAM_TARGETS],
    value: (e, env) => e.AWS_VPC_CNI_VERIFY_IMDS_WITH_EC2 ?? poolPolicy(e, env) !== "compat",
  },
  "pool.prefixDelegationFallbackToIps": {
    from: ["AWS_VPC_CNI_PREFIX_DELEGATION_FALLBACK_TO_IPS", "AWS_VPC_CNI_POOL_POLICY", ...UPSTREAM_TARGETS],
    value: (e, env) => e.AWS_VPC_CNI_PREFIX_DELEGATION_FALLBACK_TO_IPS ?? poolPolicy(e, env) !== "compat",
  },
  "pool.demandAware": {
    from: ["AWS_VPC_CNI_DEMAND_AWARE_POOL", "AWS_VPC_CNI_POOL_POLICY", ...UPSTREAM_TARGETS],
    value: (e, env) => e.AWS_VPC_CNI_DEMAND_AWARE_POOL ?? poolPolicy(e, env) !== "compat",
  },
  "kubernetes.apiServer": { from: ["CLUSTER_ENDPOINT", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"], value: apiServer },
  // ENABLE_IMDS_ONLY_MODE forces both, as upstream's disableENIProvisioning() and disableLeakedENICleanup() do.
  "pool.disableNetworkResourceProvisioning": {
    from: ["DISABLE_NETWORK_RESOURCE_PROVISIONING", "ENABLE_IMDS_ONLY_MODE"],
    value: (e) => e.DISABLE_NETWORK_RESOURCE_PROVISIONING || e.ENABLE_IMDS_ONLY_MODE,
  },
  "pool.disableLeakedEniCleanup": {
    from: ["DISABLE_LEAKED_ENI_CLEANUP", "ENABLE_IMDS_ONLY_MODE"],
    value: (e) => e.DISABLE_LEAKED_ENI_CLEANUP || e.ENABLE_IMDS_ONLY_MODE,
  },
  "ec2.rateLimit.buckets": { from: ["AWS_VPC_CNI_EC2_RATE_LIMIT_SCALE"], value: (e) => scaleBuckets(e.AWS_VPC_CNI_EC2_RATE_LIMIT_SCALE) },
} satisfies { [P in ConfigPath]?: Derivation<P> };

// Compile-time checks: every Config field is set (by one variable's own value or by DERIVED),
// and every combined variable's field is derived. A failure names the fields.
type Declared = (typeof VARIABLES)[EnvName];
type OwnSets = Extract<Declared, { combined: false }>["sets"];
type CombinedSets = Extract<Declared, { combined: true }>["sets"];
type Covered = OwnSets | keyof typeof DERIVED;
type Unset = Exclude<LeafPathsOf<Config>, Covered | `${Covered}.${string}`>;
type NotDerived = Exclude<CombinedSets, keyof typeof DERIVED>;
const everyConfigFieldIsSet: [Unset] extends [never] ? true : Unset = true;
const everyCombinedFieldIsDerived: [NotDerived] extends [never] ? true : NotDerived = true;
void everyConfigFieldIsSet, everyCombinedFieldIsDerived;

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split(".");
  let node = target;
  for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
  node[keys[keys.length - 1]!] = value;
}

export function buildConfig(e: ParsedEnv, env: Env): { config: Config; warnings: string[] } {
  const config: Record<string, unknown> = {};
  for (const name of ENV_NAMES) {
    const { toConfig, sets } = VARIABLES[name] as Variable<unknown>;
    if (toConfig !== undefined) setPath(config, sets, toConfig(e[name]));
  }
  for (const [path, derivation] of Object.entries(DERIVED) as [ConfigPath, Derivation<ConfigPath>][]) {
    setPath(config, path, derivation.value(e, env));
  }
  return { config: config as unknown as Config, warnings: collectWarnings(e, env) };
}

const isSet = (env: Env, name: string): boolean => (env[name] ?? "").trim() !== "";

/** An operator who set an upstream target gets upstream's semantics (drop-in); else the demand policy. */
function poolPolicy(e: ParsedEnv, env: Env): "compat" | "demand" {
  if (e.AWS_VPC_CNI_POOL_POLICY !== undefined) return e.AWS_VPC_CNI_POOL_POLICY;
  return UPSTREAM_TARGETS.some((n) => isSet(env, n)) ? "compat" : "demand";
}

function collectWarnings(e: ParsedEnv, env: Env): string[] {
  const w: string[] = [];
  for (const name of ["AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS", "AWS_EXTERNAL_SERVICE_CIDRS"] as const) {
    for (const entry of e[name].skipped) w.push(`${name}: skipped ${JSON.stringify(entry)}: not a valid IPv4 CIDR`);
  }
  for (const key of e.ADDITIONAL_ENI_TAGS.dropped) {
    w.push(`ADDITIONAL_ENI_TAGS: dropped tag ${JSON.stringify(key)}: keys containing k8s.amazonaws.com are reserved`);
  }
  for (const name of ["WARM_ENI_TARGET", "WARM_IP_TARGET", "MINIMUM_IP_TARGET", "WARM_PREFIX_TARGET", "MAX_ENI"] as const) {
    const negative = e[name].ignoredNegative;
    if (negative !== undefined) {
      const meaning = name === "WARM_ENI_TARGET" ? "the default, 1" : "unset";
      w.push(`${name}=${negative}: a negative value means ${meaning}`);
    }
  }
  if (e.MINIMUM_IP_TARGET.value !== undefined && e.WARM_IP_TARGET.value === undefined) {
    w.push("MINIMUM_IP_TARGET is set without WARM_IP_TARGET: no address beyond the minimum will be allocated ahead of pods; set WARM_IP_TARGET > 0");
  }
  if (poolPolicy(e, env) === "demand") {
    for (const name of ["WARM_ENI_TARGET", "WARM_PREFIX_TARGET"] as const) {
      if (isSet(env, name)) w.push(`${name} is ignored with AWS_VPC_CNI_POOL_POLICY=demand (WARM_IP_TARGET and MINIMUM_IP_TARGET act as floors); unset AWS_VPC_CNI_POOL_POLICY or set it to compat for upstream's semantics`);
    }
  }
  if (env.AWS_VPC_K8S_CNI_CONFIGURE_RPFILTER !== undefined && env.AWS_VPC_K8S_CNI_CONFIGURE_RPFILTER.trim() !== "") {
    w.push("AWS_VPC_K8S_CNI_CONFIGURE_RPFILTER is deprecated and has no effect: rp_filter on the primary interface is always set to loose");
  }
  if (env.ENABLE_NFTABLES !== undefined && env.ENABLE_NFTABLES.trim() !== "") {
    w.push("ENABLE_NFTABLES is deprecated and has no effect: the iptables mode is detected from the rules the node already has");
  }
  if (e.IP_COOLDOWN_PERIOD === 0) {
    w.push("IP_COOLDOWN_PERIOD=0: a released address may be handed to a new pod before kube-proxy has forgotten it");
  }
  if (e.AWS_VPC_K8S_CNI_EXTERNALSNAT && e.AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS.cidrs.length > 0) {
    w.push("AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS has no effect while AWS_VPC_K8S_CNI_EXTERNALSNAT=true");
  }
  return w;
}
