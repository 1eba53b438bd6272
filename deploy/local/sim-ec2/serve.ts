/** Serves the simulated EC2: the Query API on TCP, the control API on a Unix socket (0600). */
import { chmodSync, existsSync, unlinkSync } from "node:fs";
import { controlApp } from "./control.ts";
import type { FaultPatch } from "./faults.ts";
import { SimEc2Service } from "./service.ts";
import type { Ec2Model } from "./state.ts";

export interface SimEc2Server {
  /** The bound TCP port (useful with port 0). */
  port: number;
  /** http://host:port, for EC2Client's `endpoint`. */
  endpoint: string;
  service: SimEc2Service;
  stop(): Promise<void>;
}

export function serveSimEc2(opts: { host: string; port: number; controlSocket: string; model: Ec2Model; faults?: FaultPatch }): SimEc2Server {
  const service = new SimEc2Service(opts.model, opts.faults);
  const api = Bun.serve({ hostname: opts.host, port: opts.port, fetch: service.app.fetch });
  if (existsSync(opts.controlSocket)) unlinkSync(opts.controlSocket);
  let control: ReturnType<typeof Bun.serve>;
  try {
    control = Bun.serve({ unix: opts.controlSocket, fetch: controlApp(service).fetch });
    chmodSync(opts.controlSocket, 0o600);
  } catch (e) {
    api.stop(true);
    throw e;
  }
  const port = api.port ?? opts.port;
  return {
    port,
    endpoint: `http://${opts.host.includes(":") ? `[${opts.host}]` : opts.host}:${port}`,
    service,
    async stop() {
      service.stop();
      await Promise.all([api.stop(true), control.stop(true)]);
      if (existsSync(opts.controlSocket)) unlinkSync(opts.controlSocket);
    },
  };
}
