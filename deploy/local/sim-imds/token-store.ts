// IMDSv2 session tokens: issued per instance with a TTL, checked against a caller-given clock.

export const TOKEN_TTL_MIN_SECONDS = 1;
export const TOKEN_TTL_MAX_SECONDS = 21600;

export type TokenCheck = "valid" | "expired" | "unknown" | "other-instance";

interface IssuedToken {
  instanceId: string;
  expiresAtMs: number;
}

/** Parses the TTL header; undefined when missing, not an integer, or outside [1, max]. */
export function parseTokenTtl(header: string | undefined, maxSeconds = TOKEN_TTL_MAX_SECONDS): number | undefined {
  if (header === undefined || !/^\d+$/.test(header.trim())) return undefined;
  const seconds = Number(header.trim());
  return seconds >= TOKEN_TTL_MIN_SECONDS && seconds <= maxSeconds ? seconds : undefined;
}

export class TokenStore {
  readonly #tokens = new Map<string, IssuedToken>();

  issue(instanceId: string, ttlSeconds: number, nowMs: number): string {
    this.#prune(nowMs);
    const token = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
    this.#tokens.set(token, { instanceId, expiresAtMs: nowMs + ttlSeconds * 1000 });
    return token;
  }

  check(token: string, instanceId: string, nowMs: number): TokenCheck {
    const issued = this.#tokens.get(token);
    if (issued === undefined) return "unknown";
    if (nowMs >= issued.expiresAtMs) return "expired";
    return issued.instanceId === instanceId ? "valid" : "other-instance";
  }

  get size(): number {
    return this.#tokens.size;
  }

  #prune(nowMs: number): void {
    for (const [token, issued] of this.#tokens) {
      if (nowMs >= issued.expiresAtMs) this.#tokens.delete(token);
    }
  }
}
