/**
 * addr-broker inside the test process, with settings the configuration does not offer yet
 * (ENABLE_MULTI_NIC=true is refused at start-up until the feature is complete), serving the
 * same socket, checkpoint and peers the spawned one would.
 */
import { join } from "node:path";
import type { UnixServer } from "../../shared/ipc/server.ts";
import { serveUnix } from "../../shared/ipc/server.ts";
import { FileCheckpointStore } from "../../services/addr-broker/src/adapters/checkpoint-store.ts";
import { ipKernelScan } from "../../services/addr-broker/src/adapters/kernel-scan.ts";
import { netConfigClient, poolManagerClient } from "../../services/addr-broker/src/adapters/peers.ts";
import { createAddrBroker, type AddrBroker } from "../../services/addr-broker/src/app/app.ts";
import { DEFAULT_SETTINGS, type BrokerSettings } from "../../services/addr-broker/src/app/settings-from-config.ts";

export interface InProcessBroker {
  svc: AddrBroker;
  stop(): Promise<void>;
}

export async function startInProcessBroker(runDir: string, checkpointPath: string, overrides: Partial<BrokerSettings>): Promise<InProcessBroker> {
  const settings: BrokerSettings = {
    ...DEFAULT_SETTINGS,
    runDir,
    socketPath: join(runDir, "addr-broker.sock"),
    poolManagerSocket: join(runDir, "pool-manager.sock"),
    netConfigSocket: join(runDir, "net-config.sock"),
    checkpointPath,
    capacityWaitMs: 1_000,
    ...overrides,
  };
  const kernel = ipKernelScan();
  const svc = createAddrBroker(settings, {
    store: new FileCheckpointStore(checkpointPath),
    kernel,
    netConfig: netConfigClient(settings.netConfigSocket, { kernel, vethPrefix: settings.vethPrefix }),
    pool: poolManagerClient(settings.poolManagerSocket),
  });
  const server: UnixServer = await serveUnix(svc.frame.app, settings.socketPath);
  await svc.start();
  // Ready as the spawned one is awaited: with pool-manager's capacity.
  for (let i = 0; i < 500 && !svc.broker.capacity; i++) await Bun.sleep(10);
  if (!svc.broker.capacity) throw new Error("in-process addr-broker: no capacity from the fake pool-manager after 5 s");
  return {
    svc,
    async stop() {
      svc.stop();
      await server.stop();
    },
  };
}
