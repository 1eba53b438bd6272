// The CNI plugin on the host: where it is installed, what the conflist chains, network policy.
import { boolField, enumField, pathField } from "../fields.ts";
import { variable } from "../declaration.ts";

export const CNI_VARIABLES = {
  HOST_CNI_BIN_PATH: variable(pathField("/host/opt/cni/bin"), {
    about: "Where the CNI binaries are installed (as mounted in this container).",
    sets: "cni.binDir",
  }),
  HOST_CNI_CONFDIR_PATH: variable(pathField("/host/etc/cni/net.d"), {
    about: "Where the conflist is written (as mounted in this container).",
    sets: "cni.confDir",
  }),
  ENABLE_BANDWIDTH_PLUGIN: variable(boolField(false), {
    about: "Chain the bandwidth plugin in the conflist.",
    sets: "cni.bandwidthPlugin",
  }),
  DISABLE_POD_V6: variable(boolField(false), {
    about: "Chain the tuning plugin to turn IPv6 off in every new pod's network namespace.",
    sets: "cni.disablePodV6",
  }),
  ENABLE_V6_EGRESS: variable(boolField(false), {
    about: "IPv4 mode: give pods an IPv6 egress interface (fd00::ac:00/118), SNATed to the node's IPv6 address.",
    sets: "cni.v6Egress",
  }),
  ENABLE_V4_EGRESS: variable(boolField(true), {
    about: "IPv6 mode: give pods an IPv4 egress interface (169.254.172.0/22), SNATed to the node's IPv4 address.",
    sets: "cni.v4Egress",
  }),
  NETWORK_POLICY_ENFORCING_MODE: variable(enumField(["none", "standard", "strict"], "none", { differs: "an unknown mode is rejected; unset or none: addr-broker never calls the policy agent (upstream sends none to the agent)" }), {
    about: "none (or unset): the CNI does not call the policy agent; standard: a new pod may talk until its policies apply; strict: it is blocked until a policy selects it.",
    sets: "networkPolicy.enforcingMode",
  }),
};
