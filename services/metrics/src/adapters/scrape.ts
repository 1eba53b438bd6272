/**
 * Scrapes a service's /metrics over its Unix socket, on a fresh connection each time: a
 * pooled one would sit idle between scrapes past the server's 10 s idle timeout (see
 * shared/ipc/client.ts).
 */
export interface ScrapeResult {
  service: string;
  ok: boolean;
  text: string;
  error?: string;
  ms: number;
}

export async function scrape(service: string, socket: string, timeoutMs = 2000): Promise<ScrapeResult> {
  const started = performance.now();
  try {
    const res = await fetch("http://localhost/metrics", { unix: socket, keepalive: false, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    if (!res.ok) return { service, ok: false, text: "", error: `HTTP ${res.status}`, ms: performance.now() - started };
    return { service, ok: true, text, ms: performance.now() - started };
  } catch (err) {
    return { service, ok: false, text: "", error: (err as Error).message, ms: performance.now() - started };
  }
}
