// net-config with pod ENIs on (on.ts, imported first) and its macvlan stand-in for kernels without 802.1Q.
import "./on.ts";
import "../../../services/net-config/test-support/main-vlan-standin.ts";
