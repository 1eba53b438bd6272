/**
 * The exporter's TCP listener. An empty host (":61678", the default) means every address of
 * both families, as upstream's Go listener does: "::" accepts IPv4 too (as v4-mapped
 * addresses); on a kernel booted without IPv6 that socket cannot be made and it falls back to
 * 0.0.0.0.
 */
import type { Server } from "bun";

export type Fetch = (req: Request) => Response | Promise<Response>;

export function listenTcp(host: string, port: number, fetch: Fetch, onFallback?: (err: Error) => void): Server<undefined> {
  if (host !== "") return Bun.serve({ hostname: host, port, fetch });
  try {
    return Bun.serve({ hostname: "::", port, fetch });
  } catch (err) {
    onFallback?.(err as Error);
    return Bun.serve({ hostname: "0.0.0.0", port, fetch });
  }
}
