// The node's networking: IP family, MTUs, host links and rules, SNAT.
import { boolField, enumField, envField, intField, parseDecimal } from "../fields.ts";
import { cidrListField, connmarkField, vethPrefixField } from "../network-fields.ts";
import { combinedVariable, variable } from "../declaration.ts";

const MTU_ACCEPTED = "an integer from 576 to 9001 (IPv4) or 1280 to 9001 (IPv6)";

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

export const NETWORK_VARIABLES = {
  ENABLE_IPv4: variable(boolField(true), {
    about: "IPv4 mode: pods get IPv4 addresses (exactly one of ENABLE_IPv4, ENABLE_IPv6 is true).",
    sets: "enableIPv4",
  }),
  ENABLE_IPv6: variable(boolField(false), {
    about: "IPv6 mode: pods get IPv6 addresses out of /80 prefixes (needs prefix delegation).",
    sets: "enableIPv6",
  }),
  AWS_VPC_ENI_MTU: variable(mtuField("AWS_VPC_ENI_MTU", 9001, "9001"), {
    about: "MTU of the ENIs this CNI attaches.",
    sets: "network.eniMtu",
  }),
  POD_MTU: combinedVariable(mtuField("POD_MTU", undefined, "AWS_VPC_ENI_MTU"), {
    about: "MTU of the pods' interfaces.",
    sets: "network.podMtu",
  }),
  AWS_VPC_K8S_CNI_VETHPREFIX: variable(vethPrefixField(), {
    about: "Prefix of the host-side veth names.",
    sets: "network.vethPrefix",
  }),
  AWS_VPC_CNI_NODE_PORT_SUPPORT: variable(boolField(true), {
    about: "Make NodePort services reachable on the primary ENI (extra iptables rules, loose rp_filter).",
    sets: "network.nodePortSupport",
  }),
  AWS_EXTERNAL_SERVICE_CIDRS: variable(cidrListField(), {
    about: "Destinations routed through the main table (the primary ENI) from every pod.",
    sets: "network.externalServiceCidrs",
    toConfig: (list) => list.cidrs,
  }),
  AWS_VPC_K8S_CNI_CONFIGURE_RPFILTER: variable(
    boolField(true, { differs: "deprecated upstream and a no-op there and here; setting it raises a warning" }),
    { about: "Deprecated, no effect: rp_filter on the primary interface is always loose.", sets: "network.configureRpFilter" },
  ),
  DISABLE_TCP_EARLY_DEMUX: variable(boolField(false), {
    about: "Turn TCP early demux off, so the kubelet can reach pods behind branch ENIs.",
    sets: "network.disableTcpEarlyDemux",
  }),
  ENABLE_NFTABLES: variable(boolField(false, { differs: "deprecated upstream (v1.13.2+); kept as a hint for net-config" }), {
    about: "Deprecated: use iptables-nft rather than iptables-legacy.",
    sets: "network.enableNftables",
  }),
  AWS_VPC_CNI_RECONCILE_INTERVAL_SECONDS: variable(intField({ default: 60, min: 0, max: 3600, source: "project", accepted: "an integer from 0 (only at start) to 3600" }), {
    about: "How often net-config reconciles pod veths, routes and rules and ENI tables with the desired state.",
    sets: "network.reconcileIntervalSeconds",
  }),
  AWS_VPC_K8S_CNI_EXTERNALSNAT: variable(boolField(false), {
    about: "Leave SNAT of traffic leaving the VPC to something else (a NAT gateway); no SNAT rule on the node.",
    sets: "snat.external",
  }),
  AWS_VPC_K8S_CNI_RANDOMIZESNAT: variable(
    enumField(["hashrandom", "prng", "none"], "prng", {
      differs: "values are accepted in any letter case; an unknown value is rejected (upstream uses prng)",
    }),
    { about: "Source port choice of the SNAT rule: prng (--random-fully), hashrandom (--random) or none.", sets: "snat.randomize" },
  ),
  AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: variable(cidrListField(), {
    about: "Destinations outside the VPC that pods reach without SNAT.",
    sets: "snat.excludeCidrs",
    toConfig: (list) => list.cidrs,
  }),
  AWS_VPC_K8S_CNI_CONNMARK: variable(connmarkField(), {
    about: "The connection mark that keeps replies to SNATed traffic on the primary ENI.",
    sets: "snat.connmark",
    show: (c) => `0x${c.snat.connmark.toString(16)}`,
  }),
};
