/**
 * The frame every service runs in: a hono app with /healthz, /metrics (Prometheus text
 * from the service's own prom-client registry) and /debug (its config and state as JSON),
 * served on its Unix socket, stopped gracefully on SIGTERM.
 */
import { Hono } from "hono";
import { Registry, collectDefaultMetrics } from "prom-client";
import { onShutdown, serveUnix, type UnixServer } from "./ipc/server.ts";
import { socketPath, type ServiceName } from "./sockets.ts";

export interface ServiceFrame {
  name: ServiceName;
  app: Hono;
  registry: Registry;
}

export interface FrameOptions {
  name: ServiceName;
  /** JSON-safe state for /debug; called per request. */
  debug: () => unknown;
  /** Healthy means: serving and able to do its job (e.g. start-up finished). */
  healthy?: () => { ok: boolean; reason?: string };
  /** Collect process metrics (memory, CPU) under the project prefix. */
  processMetrics?: boolean;
}

export function createFrame(opts: FrameOptions): ServiceFrame {
  const app = new Hono();
  const registry = new Registry();
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: `awscni_${opts.name.replace("-", "_")}_` });
  app.get("/healthz", (c) => {
    const h = opts.healthy?.() ?? { ok: true };
    return c.json(h, h.ok ? 200 : 503);
  });
  app.get("/metrics", async (c) => c.text(await registry.metrics(), 200, { "content-type": registry.contentType }));
  app.get("/debug", (c) => c.json({ service: opts.name, pid: process.pid, ...(opts.debug() as object) }));
  return { name: opts.name, app, registry };
}

export interface RunOptions {
  runDir: string;
  gid?: number;
  /** Called after the socket is closed, before exit (flush logs, stop loops). */
  onStop?: () => Promise<void> | void;
}

/** Serves the frame on `<runDir>/<name>.sock` and installs SIGTERM/SIGINT handling. */
export async function runFrame(frame: ServiceFrame, opts: RunOptions): Promise<UnixServer> {
  const server = await serveUnix(frame.app, socketPath(opts.runDir, frame.name), { gid: opts.gid });
  onShutdown([() => server.stop(), async () => opts.onStop?.()]);
  return server;
}
