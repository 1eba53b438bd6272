/** Where each service listens: `<run dir>/<service>.sock`. */
import { join } from "node:path";

export const SERVICES = ["pool-manager", "addr-broker", "net-config", "metrics", "policy-agent"] as const;
export type ServiceName = (typeof SERVICES)[number];

export function socketPath(runDir: string, service: ServiceName): string {
  return join(runDir, `${service}.sock`);
}
