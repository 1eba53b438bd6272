// The simulated instance metadata service as a hono app: IMDSv2 tokens, optional IMDSv1,
// answers per calling instance, and injectable latency and 500s.
import { Hono } from "hono";
import type { Context } from "hono";
import { answerMetadata, identityDocument, normalizeImdsPath } from "./metadata-tree.ts";
import type { ImdsInstanceView } from "./metadata-tree.ts";
import { parseTokenTtl, TOKEN_TTL_MAX_SECONDS, TokenStore } from "./token-store.ts";

export type { ImdsInstanceView, ImdsInterfaceView } from "./metadata-tree.ts";

/** Mutable fault switches; change the fields of the object you passed in at any time. */
export interface ImdsFaults {
  /** Added before every answer, tokens included. */
  latencyMs: number;
  /** When true every request is answered 500, as IMDS does when it is unhealthy. */
  error500: boolean;
}

export interface ImdsAppOptions {
  /** What IMDS shows for that instance at that moment; undefined for an unknown instance. */
  view: (instanceId: string, nowMs: number) => ImdsInstanceView | undefined;
  /** Maps the caller to an instance id (by arrival port, a header the deployment sets, ...). */
  identify: (request: Request) => string | undefined;
  now: () => number;
  /** Upper bound of the token TTL header (default 21600, the real limit). */
  tokenTtlMax?: number;
  /** Whether a GET without a token is answered (IMDSv1). Default true. */
  allowV1?: boolean;
  faults?: ImdsFaults;
}

export const TOKEN_PATH = "/latest/api/token";
export const TOKEN_TTL_HEADER = "x-aws-ec2-metadata-token-ttl-seconds";
export const TOKEN_HEADER = "x-aws-ec2-metadata-token";
const META_DATA_PREFIX = "/latest/meta-data";
const IDENTITY_DOCUMENT_PATH = "/latest/dynamic/instance-identity/document";

export function createImdsFaults(): ImdsFaults {
  return { latencyMs: 0, error500: false };
}

function plain(c: Context, status: 200 | 400 | 401 | 403 | 404 | 405 | 500, body: string, type = "text/plain"): Response {
  return c.body(body, status, { "content-type": type });
}

export function createImdsApp(options: ImdsAppOptions): Hono {
  const tokens = new TokenStore();
  const faults = options.faults ?? createImdsFaults();
  const allowV1 = options.allowV1 ?? true;
  const tokenTtlMax = options.tokenTtlMax ?? TOKEN_TTL_MAX_SECONDS;
  const app = new Hono();

  app.use(async (c, next) => {
    if (faults.latencyMs > 0) await Bun.sleep(faults.latencyMs);
    if (faults.error500) return plain(c, 500, "Internal Server Error\n");
    await next();
  });

  app.all("*", (c) => {
    const path = normalizeImdsPath(new URL(c.req.url).pathname);
    const instanceId = options.identify(c.req.raw);
    if (instanceId === undefined) return plain(c, 404, "Not Found: caller is not a known instance\n");
    const nowMs = options.now();

    if (path === TOKEN_PATH) {
      if (c.req.method !== "PUT") return plain(c, 405, "Method Not Allowed\n");
      // Real IMDS refuses token requests that went through a proxy.
      if (c.req.header("x-forwarded-for") !== undefined) return plain(c, 403, "Forbidden\n");
      const ttl = parseTokenTtl(c.req.header(TOKEN_TTL_HEADER), tokenTtlMax);
      if (ttl === undefined) return plain(c, 400, `Bad Request: ${TOKEN_TTL_HEADER} must be an integer in 1..${tokenTtlMax}\n`);
      const token = tokens.issue(instanceId, ttl, nowMs);
      return c.body(token, 200, { "content-type": "text/plain", [TOKEN_TTL_HEADER]: String(ttl) });
    }

    if (c.req.method !== "GET" && c.req.method !== "HEAD") return plain(c, 405, "Method Not Allowed\n");
    const token = c.req.header(TOKEN_HEADER);
    if (token === undefined ? !allowV1 : tokens.check(token, instanceId, nowMs) !== "valid") {
      return plain(c, 401, "Unauthorized\n");
    }

    const view = options.view(instanceId, nowMs);
    if (view === undefined) return plain(c, 404, "Not Found\n");
    if (path === IDENTITY_DOCUMENT_PATH) return plain(c, 200, identityDocument(view), "application/json");
    if (path !== META_DATA_PREFIX && !path.startsWith(`${META_DATA_PREFIX}/`)) return plain(c, 404, "Not Found\n");
    const answer = answerMetadata(view, path.slice(META_DATA_PREFIX.length + 1));
    return answer.found ? plain(c, 200, answer.body, answer.contentType) : plain(c, 404, "Not Found\n");
  });

  return app;
}
