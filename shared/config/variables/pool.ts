// The warm pool: how many ENIs, addresses and prefixes the node holds ahead of its pods.
import { boolField, envField, INVALID, optionalBoolField, parseDecimal, targetField } from "../fields.ts";
import { combinedVariable, variable } from "../declaration.ts";

export const POOL_VARIABLES = {
  WARM_ENI_TARGET: variable(
    envField<{ value: number; ignoredNegative?: number }>({
      accepted: "an integer (0 keeps no spare ENI; a negative value means the default, 1)",
      default: { value: 1 },
      defaultText: "1",
      differs: "a value that is not an integer is rejected (upstream logs it and uses 1)",
      parse: (v) => {
        const n = parseDecimal(v);
        if (n === INVALID) return INVALID;
        return n < 0 ? { value: 1, ignoredNegative: n } : { value: n };
      },
    }),
    {
      about: "Whole ENIs to keep attached beyond those in use (compat policy).",
      sets: "pool.warmEniTarget",
      toConfig: (t) => t.value,
    },
  ),
  WARM_IP_TARGET: variable(targetField(), {
    about: "Free addresses to keep beyond those in use.",
    sets: "pool.warmIpTarget",
    toConfig: (t) => t.value,
  }),
  MINIMUM_IP_TARGET: variable(targetField(), {
    about: "Addresses to hold in total however few pods run.",
    sets: "pool.minimumIpTarget",
    toConfig: (t) => t.value,
  }),
  WARM_PREFIX_TARGET: variable(targetField(), {
    about: "Free prefixes to keep with prefix delegation (compat policy).",
    sets: "pool.warmPrefixTarget",
    toConfig: (t) => t.value,
  }),
  MAX_ENI: variable(targetField(), {
    about: "Most ENIs to attach; unset means the instance type's limit.",
    sets: "pool.maxEni",
    toConfig: (t) => t.value,
  }),
  ENABLE_PREFIX_DELEGATION: variable(boolField(false), {
    about: "Assign /28 prefixes (IPv6: /80) to ENIs instead of single secondary addresses.",
    sets: "pool.prefixDelegation",
  }),
  AWS_MANAGE_ENIS_NON_SCHEDULABLE: variable(boolField(false), {
    about: "Manage ENIs on a node even while it is marked unschedulable.",
    sets: "pool.manageEnisNonSchedulable",
  }),
  DISABLE_NETWORK_RESOURCE_PROVISIONING: combinedVariable(boolField(false), {
    about: "Make no EC2 change: use only the ENIs and addresses already attached (true whenever ENABLE_IMDS_ONLY_MODE is).",
    sets: "pool.disableNetworkResourceProvisioning",
  }),
  MANAGE_UNTAGGED_ENI: variable(boolField(true, { source: "upstream-code" }), {
    about: "false: an attached ENI tagged neither node.k8s.amazonaws.com/no_manage nor with this instance's node.k8s.amazonaws.com/instance_id is left alone (unmanaged), as one with no_manage=true.",
    sets: "pool.manageUntaggedEnis",
  }),
  ENABLE_IMDS_ONLY_MODE: variable(boolField(false), {
    about: "Make no EC2 call: build the pool once, at start-up, from the ENIs and addresses IMDS shows; forces DISABLE_NETWORK_RESOURCE_PROVISIONING and DISABLE_LEAKED_ENI_CLEANUP.",
    sets: "pool.imdsOnlyMode",
  }),
  IP_COOLDOWN_PERIOD: variable(
    envField<number>({
      accepted: "an integer number of seconds from 0 to 86400",
      default: 30,
      defaultText: "30",
      differs: "a negative or non-integer value is rejected (upstream uses 30)",
      parse: (v) => {
        const n = parseDecimal(v);
        return n !== INVALID && n >= 0 && n <= 86400 ? n : INVALID;
      },
    }),
    {
      about: "Seconds a released address waits before it is given to another pod.",
      sets: "pool.ipCooldownSeconds",
    },
  ),
  ENABLE_SUBNET_DISCOVERY: variable(boolField(true), {
    about: "Create ENIs in the subnet with the most free addresses among the node's own (unless tagged kubernetes.io/role/cni=0) and those tagged kubernetes.io/role/cni with any value but 0 (and, with CLUSTER_NAME, no other cluster's cni.networking.k8s.aws/cluster/ tag); ENIs in subnets tagged 0, the node's own included, give pods no address. false: the node's own only, refused when tagged 0.",
    sets: "pool.subnetDiscovery",
  }),
  ENABLE_MULTI_NIC: variable(
    boolField(false, {
      differs:
        "only true/false; cards above 0 hold IPv4 secondary addresses only (no prefix delegation; true is refused with ENABLE_IPv6 and with ENABLE_IMDS_ONLY_MODE), and an ordinary pod never takes an address on them (upstream lets it when card 0 has none)",
    }),
    {
      about:
        "Manage every eligible network card above 0 too (an ENI per card, WARM_IP_TARGET and MINIMUM_IP_TARGET fixed at 1 there, route tables 10000 + 100 × card + device, ipam-nic-N.json checkpoints) and give a pod annotated k8s.amazonaws.com/nicConfig: multi-nic-attachment one interface per managed card. false: network card 0 alone is managed, ENIs on other cards are left alone, and such a pod's ADD is refused.",
      sets: "pool.multiNic",
    },
  ),
  DISABLE_LEAKED_ENI_CLEANUP: combinedVariable(boolField(false), {
    about: "Do not delete detached ENIs this CNI created and lost track of (true whenever ENABLE_IMDS_ONLY_MODE is).",
    sets: "pool.disableLeakedEniCleanup",
  }),
  AWS_VPC_CNI_COOLING_IPS_COUNT_AS_AVAILABLE: combinedVariable(optionalBoolField("(true with the compat pool policy, as upstream; else false)", { source: "project" }), {
    about: "Count addresses in cooldown as free when sizing the pool, as upstream does.",
    sets: "pool.coolingIpsCountAsAvailable",
  }),
  AWS_VPC_CNI_HOLD_COOLING_IPS: combinedVariable(optionalBoolField("(false with the compat pool policy, as upstream; else true)", { source: "project" }), {
    about: "Return an address to EC2 only after its cooldown is over; false releases cooling addresses at once when the pool shrinks, as upstream does.",
    sets: "pool.holdCoolingIps",
  }),
  AWS_VPC_CNI_VERIFY_IMDS_WITH_EC2: combinedVariable(optionalBoolField("(false with the compat pool policy, as upstream; else true)", { source: "project" }), {
    about: "Check IMDS's view of ENIs and addresses against EC2 before using it.",
    sets: "pool.verifyImdsWithEc2",
  }),
  AWS_VPC_CNI_PREFIX_DELEGATION_FALLBACK_TO_IPS: combinedVariable(optionalBoolField("(false with the compat pool policy, as upstream; else true)", { source: "project" }), {
    about: "With prefix delegation on a fragmented subnet, fall back to single secondary addresses.",
    sets: "pool.prefixDelegationFallbackToIps",
  }),
  AWS_VPC_CNI_DEMAND_AWARE_POOL: combinedVariable(optionalBoolField("(false with the compat pool policy, as upstream; else true)", { source: "project" }), {
    about: "Grow the pool for pods already scheduled to the node, not only to the warm targets.",
    sets: "pool.demandAware",
  }),
  AWS_VPC_CNI_POOL_POLICY: combinedVariable(
    envField<"compat" | "demand" | undefined>({
      accepted:
        "compat or demand (any letter case); unset: demand unless WARM_ENI_TARGET, WARM_IP_TARGET, MINIMUM_IP_TARGET or WARM_PREFIX_TARGET is set, then compat",
      default: undefined,
      defaultText: "(demand, or compat when an upstream target is set)",
      source: "project",
      parse: (v) => (["compat", "demand"] as const).find((x) => x === v.toLowerCase()) ?? INVALID,
    }),
    {
      about: "How the pool is sized: compat (upstream's warm targets) or demand (a buffer sized from observed arrivals).",
      sets: "pool.policy",
    },
  ),
};
