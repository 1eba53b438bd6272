// One IMDS listener per instance: everything arriving on this host:port is that instance.
import { createImdsApp, createImdsFaults } from "./app.ts";
import type { ImdsAppOptions, ImdsFaults } from "./app.ts";

export interface ServeImdsOptions extends Omit<ImdsAppOptions, "identify" | "now" | "faults"> {
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  instanceId: string;
  now?: () => number;
  faults?: ImdsFaults;
}

export interface ServedImds {
  /** Base URL, e.g. http://127.0.0.1:40123 (what MetadataService takes as endpoint). */
  url: string;
  port: number;
  faults: ImdsFaults;
  stop: () => Promise<void>;
}

export function serveImds(options: ServeImdsOptions): ServedImds {
  const { hostname, port, instanceId, ...rest } = options;
  const faults = options.faults ?? createImdsFaults();
  const app = createImdsApp({
    ...rest,
    faults,
    now: options.now ?? Date.now,
    identify: () => instanceId,
  });
  const server = Bun.serve({ hostname, port, fetch: app.fetch });
  const boundPort = server.port ?? port;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    url: `http://${host}:${boundPort}`,
    port: boundPort,
    faults,
    stop: () => server.stop(true),
  };
}
