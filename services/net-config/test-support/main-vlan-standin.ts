/**
 * net-config as main.ts runs it, except that branch-ENI pods' `vlan.eth.<id>` is made as a
 * macvlan (same name, parent, MAC; untagged) when the kernel has no 802.1Q links, as this
 * project's Firecracker test machines lack CONFIG_VLAN_8021Q. Used by
 * tests/cni/branch-eni.root.test.ts only when the kernel cannot make a VLAN.
 */
import { bootstrap } from "../../../shared/bootstrap.ts";
import { runNetConfig } from "../run.ts";

await runNetConfig(bootstrap("net-config"), { branchLinkKind: "macvlan" });
