/**
 * TEMPORARY, local deployment only (deploy/local/pod-eni.ts starts it on `up --pod-eni` nodes):
 * runs one service's ordinary entry with pod ENIs on in its typed configuration, because
 * ENABLE_POD_ENI=true is still refused at start-up. No variable reaches this; it is deleted
 * together with the refusal.
 *   bun deploy/local/pod-eni-override.ts net-config|pool-manager|addr-broker [--vlan-standin]
 * --vlan-standin (net-config): the macvlan stand-in for kernels without 802.1Q.
 */
import { localPodEniOverride } from "../../shared/bootstrap.ts";

const ENTRIES: Record<string, string> = {
  "net-config": "../../services/net-config/main.ts",
  "pool-manager": "../../services/pool-manager/main.ts",
  "addr-broker": "../../services/addr-broker/main.ts",
};
const STANDIN = "../../services/net-config/test-support/main-vlan-standin.ts";

const [service, ...flags] = process.argv.slice(2);
const entry = service !== undefined ? ENTRIES[service] : undefined;
const standin = flags.length === 1 && flags[0] === "--vlan-standin" && service === "net-config";
if (!entry || (flags.length > 0 && !standin)) {
  process.stderr.write(`usage: pod-eni-override.ts ${Object.keys(ENTRIES).join("|")} [--vlan-standin (net-config only)]; got ${JSON.stringify(process.argv.slice(2))}\n`);
  process.exit(2);
}
localPodEniOverride.on = true;
await import(standin ? STANDIN : entry);
