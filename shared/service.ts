/**
 * The frame every service runs in: a hono app with /livez (the process is alive and serving:
 * the liveness probe), /healthz (it can do its job: the readiness probe), /metrics
 * (Prometheus text from the service's own registry, shared/metrics), /debug (its config and
 * state as JSON) and /debug/memory (where its memory is: shared/service-gc.ts), served on its
 * Unix socket, stopped gracefully on SIGTERM.
 */
import { Hono } from "hono";
import { Registry, collectProcessMetrics } from "./metrics/index.ts";
import { onShutdown, serveUnix, type UnixServer } from "./ipc/server.ts";
import { IdleGc, memoryReport, type IdleGcOptions } from "./service-gc.ts";
import { socketPath, type ServiceName } from "./sockets.ts";

export interface ServiceFrame {
  name: ServiceName;
  app: Hono;
  registry: Registry;
  /** Collects garbage once the service is quiet (shared/service-gc.ts); runFrame starts it. */
  idleGc: IdleGc;
}

export interface FrameOptions {
  name: ServiceName;
  /** JSON-safe state for /debug; called per request. */
  debug: () => unknown;
  /** Healthy means: serving and able to do its job (e.g. start-up finished). */
  healthy?: () => { ok: boolean; reason?: string };
  /** Collect process metrics (memory, CPU) under the project prefix. */
  processMetrics?: boolean;
  /** Tuning of the idle collection (defaults in shared/service-gc.ts). */
  idleGc?: IdleGcOptions;
}

export function createFrame(opts: FrameOptions): ServiceFrame {
  const app = new Hono();
  const registry = new Registry();
  const idleGc = new IdleGc(opts.idleGc);
  // Every request marks the service busy (registered first, so it wraps every route added later).
  app.use(async (_c, next) => {
    idleGc.touch(true);
    try {
      await next();
    } finally {
      idleGc.touch();
    }
  });
  if (opts.processMetrics !== false) collectProcessMetrics({ register: registry, prefix: `awscni_${opts.name.replace("-", "_")}_` });
  // Liveness answers from the event loop alone: a service waiting for EC2 or IMDS is alive, not restarted.
  app.get("/livez", (c) => c.json({ ok: true }));
  app.get("/healthz", (c) => {
    const h = opts.healthy?.() ?? { ok: true };
    return c.json(h, h.ok ? 200 : 503);
  });
  app.get("/metrics", async (c) => c.text(await registry.metrics(), 200, { "content-type": registry.contentType }));
  app.get("/debug", (c) => c.json({ service: opts.name, pid: process.pid, ...(opts.debug() as object) }));
  app.get("/debug/memory", (c) => c.json({ service: opts.name, pid: process.pid, ...memoryReport(idleGc) }));
  return { name: opts.name, app, registry, idleGc };
}

export interface RunOptions {
  runDir: string;
  gid?: number;
  /** Called after the socket is closed, before exit (flush logs, stop loops). */
  onStop?: () => Promise<void> | void;
}

/**
 * Serves the frame on `<runDir>/<name>.sock`, installs SIGTERM/SIGINT handling and starts the
 * idle collection (start-up garbage goes once the service is first quiet).
 */
export async function runFrame(frame: ServiceFrame, opts: RunOptions): Promise<UnixServer> {
  const server = await serveUnix(frame.app, socketPath(opts.runDir, frame.name), { gid: opts.gid });
  frame.idleGc.start();
  onShutdown([
    () => server.stop(),
    async () => {
      frame.idleGc.stop();
      await opts.onStop?.();
    },
  ]);
  return server;
}
