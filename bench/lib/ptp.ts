/**
 * The baseline: Debian's reference ptp plugin with host-local IPAM (containernetworking-
 * plugins), configuring a dedicated node-like namespace instead of the root namespace.
 * ipMasq off (the aws-cni does no per-pod NAT rule either); host-local keeps its state in a
 * temp dir; subnet 10.99.0.0/16 (nothing else on the machine uses it inside that namespace).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { CniRuntime, type Conflist } from "../../deploy/local/cni-runtime.ts";

export const PTP_BIN_DIR = "/usr/lib/cni";

export function ptpAvailable(): boolean {
  return existsSync(join(PTP_BIN_DIR, "ptp")) && existsSync(join(PTP_BIN_DIR, "host-local"));
}

export function ptpConflist(dataDir: string, withPortmap: boolean): Conflist {
  const plugins: Conflist["plugins"] = [
    {
      type: "ptp",
      ipMasq: false,
      mtu: 9001,
      ipam: { type: "host-local", ranges: [[{ subnet: "10.99.0.0/16" }]], routes: [{ dst: "0.0.0.0/0" }], dataDir },
    },
  ];
  if (withPortmap) plugins.push({ type: "portmap", capabilities: { portMappings: true }, snat: true });
  return { cniVersion: "1.0.0", name: "ptpbench", plugins };
}

export function ptpRuntime(nodeNs: string, dataDir: string, cacheDir: string, withPortmap = false): CniRuntime {
  return new CniRuntime(ptpConflist(dataDir, withPortmap), { binDirs: [PTP_BIN_DIR], cacheDir, execPrefix: ["ip", "netns", "exec", nodeNs] });
}
