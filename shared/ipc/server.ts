/**
 * A hono app served on a Unix socket: stale socket removed first, mode 0600 (0660 with a
 * group), removed on shutdown; SIGTERM stops accepting, lets in-flight requests finish and
 * exits 0.
 */
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import type { Context, Hono } from "hono";
import type { z } from "../zod.ts";
import type { RouteContract } from "./contract.ts";
import { ServiceError, validationError } from "./errors.ts";

export interface UnixServer {
  path: string;
  /** Stop accepting, wait for in-flight requests, remove the socket file. */
  stop(): Promise<void>;
}

export interface ServeOptions {
  /** Group owning the socket; when set the mode is 0660, else 0600. */
  gid?: number;
  /** How long stop() lets in-flight requests finish before closing them (default 2 s). */
  stopGraceMs?: number;
}

/** True when something answers on the socket (another instance is alive). */
async function socketAnswers(path: string): Promise<boolean> {
  try {
    await fetch("http://localhost/healthz", { unix: path, signal: AbortSignal.timeout(500) });
    return true;
  } catch {
    return false;
  }
}

export async function serveUnix(app: Hono, path: string, opts: ServeOptions = {}): Promise<UnixServer> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  if (existsSync(path)) {
    if (!lstatSync(path).isSocket()) {
      throw new ServiceError("SOCKET_PATH_IN_USE", `${path} exists and is not a socket`, 500, "path");
    }
    if (await socketAnswers(path)) {
      throw new ServiceError("SOCKET_IN_USE", `another process is serving ${path}`, 500, "path");
    }
    unlinkSync(path);
  }
  const mode = opts.gid === undefined ? 0o600 : 0o660;
  // Bind under a tight umask so the socket is never reachable with looser permissions.
  const previous = process.umask(0o777 & ~mode);
  let server: ReturnType<typeof Bun.serve>;
  try {
    // Bun's 10 s idle timeout does not cut Unix-socket requests (long polls; see ipc.test.ts).
    server = Bun.serve({ unix: path, fetch: app.fetch });
  } finally {
    process.umask(previous);
  }
  if (opts.gid !== undefined) chownSync(path, 0, opts.gid);
  chmodSync(path, mode);
  let stopped: Promise<void> | undefined;
  return {
    path,
    stop() {
      stopped ??= (async () => {
        // In-flight requests may finish, but not for longer than the grace: a long poll
        // would otherwise hold the shutdown for its whole wait.
        const graceful = server.stop(false);
        const timedOut = await Promise.race([graceful.then(() => false), Bun.sleep(opts.stopGraceMs ?? 2000).then(() => true)]);
        if (timedOut) await server.stop(true);
        try {
          unlinkSync(path);
        } catch {
          // already gone
        }
      })();
      return stopped;
    },
  };
}

/** Turns any thrown error into a JSON error body with a stable code. */
export function errorResponse(c: Context, err: unknown): Response {
  if (err instanceof ServiceError) return c.json(err.toJSON(), err.status as 400);
  const message = err instanceof Error ? err.message : String(err);
  return c.json({ error: { code: "INTERNAL", message } }, 500);
}

/**
 * Registers a contract's handler: the request is validated (400 naming the field), the
 * handler runs, and its answer is validated against the response schema before it leaves.
 */
export function handle<Req extends z.ZodMiniType, Res extends z.ZodMiniType>(
  app: Hono,
  contract: RouteContract<Req, Res>,
  handler: (body: z.output<Req>, c: Context) => Promise<z.input<Res>> | z.input<Res>,
): void {
  const method = contract.method.toLowerCase() as "get" | "post" | "put" | "delete";
  app[method](contract.path, async (c) => {
    try {
      let raw: unknown = {};
      if (contract.method === "GET" || contract.method === "DELETE") {
        raw = c.req.query();
      } else {
        const text = await c.req.text();
        if (text.length > 0) {
          try {
            raw = JSON.parse(text);
          } catch {
            throw new ServiceError("INVALID_JSON", `${contract.path}: body is not valid JSON`, 400, "(body)");
          }
        }
      }
      const parsed = contract.request.safeParse(raw);
      if (!parsed.success) throw validationError("INVALID_REQUEST", parsed.error, contract.path);
      const answer = await handler(parsed.data, c);
      const checked = contract.response.safeParse(answer);
      if (!checked.success) throw validationError("INVALID_RESPONSE", checked.error, contract.path);
      return c.json(checked.data as object);
    } catch (err) {
      return errorResponse(c, err);
    }
  });
}

/**
 * Graceful shutdown on SIGTERM/SIGINT: run every stop function (servers first, in order),
 * then exit 0. A second signal exits at once.
 */
export function onShutdown(stops: Array<() => Promise<void> | void>, exit: (code: number) => void = process.exit): void {
  let shuttingDown = false;
  const run = async () => {
    if (shuttingDown) return exit(1);
    shuttingDown = true;
    for (const stop of stops) {
      try {
        await stop();
      } catch {
        // keep stopping the rest
      }
    }
    exit(0);
  };
  process.on("SIGTERM", run);
  process.on("SIGINT", run);
}

