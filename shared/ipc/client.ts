/**
 * A typed client for a service on a Unix socket, built from the same route contracts as
 * the server. The request is validated before it leaves and the answer when it arrives.
 */
import type { z } from "../zod.ts";
import type { RouteContract } from "./contract.ts";
import { ServiceError, validationError, type ErrorBody } from "./errors.ts";

export interface ClientOptions {
  /** Per-request timeout; long polls pass their own. */
  timeoutMs?: number;
}

export class UnixClient {
  constructor(
    readonly socketPath: string,
    private readonly opts: ClientOptions = {},
  ) {}

  async call<Req extends z.ZodMiniType, Res extends z.ZodMiniType>(
    contract: RouteContract<Req, Res>,
    body: z.input<Req>,
    params: { pathParams?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<z.output<Res>> {
    const checked = contract.request.safeParse(body);
    if (!checked.success) throw validationError("INVALID_REQUEST", checked.error, contract.path);
    let path = contract.path;
    for (const [k, v] of Object.entries(params.pathParams ?? {})) path = path.replace(`:${k}`, encodeURIComponent(v));
    const init: RequestInit & { unix: string } = {
      method: contract.method,
      unix: this.socketPath,
      // A fresh connection per call. A pooled one that the peer closed (Bun.serve drops idle
      // keep-alive connections after 10 s) while this process's event loop was busy is reused
      // unseen and the call fails ECONNRESET: two ADDs of a 64-pod burst failed so. A Unix
      // connect costs ~0.04 ms.
      keepalive: false,
      signal: AbortSignal.timeout(params.timeoutMs ?? this.opts.timeoutMs ?? 10_000),
    };
    if (contract.method === "GET" || contract.method === "DELETE") {
      const query = new URLSearchParams();
      for (const [k, v] of Object.entries((checked.data ?? {}) as Record<string, unknown>)) {
        if (v !== undefined) query.set(k, String(v));
      }
      const qs = query.toString();
      if (qs) path += `?${qs}`;
    } else {
      init.body = JSON.stringify(checked.data);
      init.headers = { "content-type": "application/json" };
    }
    let res: Response;
    try {
      res = await fetch(`http://localhost${path}`, init);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new ServiceError("UNREACHABLE", `cannot reach ${this.socketPath}: ${why}`, 503, "socket");
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      // An error status keeps its meaning without a JSON body: a route the peer does not serve is a 404.
      if (!res.ok) throw new ServiceError(`HTTP_${res.status}`, `${contract.path}: HTTP ${res.status} (${text.slice(0, 80)})`, res.status);
      throw new ServiceError("INVALID_RESPONSE", `${contract.path}: answer is not JSON (HTTP ${res.status})`, 502);
    }
    if (!res.ok) {
      const e = (json as Partial<ErrorBody>).error;
      throw new ServiceError(e?.code ?? "HTTP_" + res.status, e?.message ?? `HTTP ${res.status}`, res.status, e?.field, e?.details);
    }
    const parsed = contract.response.safeParse(json);
    if (!parsed.success) throw validationError("INVALID_RESPONSE", parsed.error, contract.path);
    return parsed.data;
  }
}
