/** The one mapping from the project's Config (shared/config) to net-config's settings. */
import type { Config } from "../../../../shared/config/index.ts";
import { checkSettings, type NetConfigSettings } from "../core/settings.ts";

export function settingsFromConfig(c: Config): NetConfigSettings {
  return checkSettings({
    vethPrefix: c.network.vethPrefix,
    podMtu: c.network.podMtu,
    eniMtu: c.network.eniMtu,
    ipv6: c.enableIPv6,
    externalSnat: c.snat.external,
    randomizeSnat: c.snat.randomize,
    excludeSnatCidrs: c.snat.excludeCidrs,
    nodePortSupport: c.network.nodePortSupport,
    connmark: c.snat.connmark,
    externalServiceCidrs: c.network.externalServiceCidrs,
    disableTcpEarlyDemux: c.network.disableTcpEarlyDemux,
    podEni: c.eni.podEni,
    podSgEnforcingMode: c.eni.podSecurityGroupEnforcingMode,
    reconcileIntervalMs: c.network.reconcileIntervalSeconds * 1000,
  });
}
