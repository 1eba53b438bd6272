/** net-config and addr-broker over their Unix sockets, through the shared typed client. */
import { listAssignments } from "../../../../shared/contracts/assignments.ts";
import { setupEni, setupHost, teardownEni } from "../../../../shared/contracts/netconfig.ts";
import { drain, getUsage } from "../../../../shared/contracts/usage.ts";
import { UnixClient } from "../../../../shared/ipc/client.ts";
import type { BrokerPort, NetConfigPort } from "../app/service-ports.ts";

export function netConfigClient(socketPath: string): NetConfigPort {
  const c = new UnixClient(socketPath, { timeoutMs: 30_000 });
  return {
    setupHost: async (h) => void (await c.call(setupHost, h)),
    setupEni: async (e) => void (await c.call(setupEni, e)),
    teardownEni: async (e) => void (await c.call(teardownEni, e)),
  };
}

export function brokerClient(socketPath: string): BrokerPort {
  const c = new UnixClient(socketPath, { timeoutMs: 10_000 });
  return {
    getUsage: () => c.call(getUsage, {}),
    drain: (cidrs, releaseCooling = false) => c.call(drain, { cidrs, releaseCooling }),
    assignments: async () => (await c.call(listAssignments, {})).assignments,
  };
}
