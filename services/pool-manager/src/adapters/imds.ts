/**
 * The IMDS port over @aws-sdk/ec2-metadata-service: IMDSv2 (a session token from
 * PUT /latest/api/token, reused until shortly before its TTL ends, fetched again on 401;
 * IMDSv1 when the token route answers 403/404/405, as the SDK does), a per-request timeout
 * and a few retries with backoff (never for 400/403/404). A missing leaf (404, e.g.
 * ipv4-prefix on an ENI without prefixes) is "none".
 *
 * The SDK's MetadataService builds a new keep-alive http.Agent for every request (and
 * another for every token) and never closes it: used as is, every read left two sockets
 * open (246 after a 110-pod bench run). So the token is fetched here and cached for its TTL
 * (the SDK's own fetch per request is off), and every read asks the server to close the
 * connection (`connection: close`): one socket per token renewal (every ~6 h), none per read.
 */
import { MetadataService } from "@aws-sdk/ec2-metadata-service";
import type { ImdsInterface, ImdsPort } from "../core/ports.ts";

export interface ImdsAdapterOptions {
  /** e.g. http://169.254.169.254 (default) or the simulated IMDS. */
  endpoint?: string;
  timeoutMs?: number;
  retries?: number;
  /** Seconds a session token lives (x-aws-ec2-metadata-token-ttl-seconds). */
  tokenTtlSeconds?: number;
}

/** An IMDS answer other than 200, or no answer; `status` is undefined for a timeout or a refused connection. */
export class ImdsError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "ImdsError";
  }
}

const NO_RETRY = new Set([400, 403, 404]);

/** The SDK's token fetch reports the status only in its message ("… status code 404"). */
function statusFromMessage(e: unknown): number | undefined {
  const m = /status code:? (\d{3})/i.exec(String((e as Error)?.message ?? ""));
  return m ? Number(m[1]) : undefined;
}
/** Each ENI's interfaces() reads eleven leaves at once; more in flight only opens more idle connections. */
const MAX_IN_FLIGHT = 4;

export class SdkImds implements ImdsPort {
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly ttl: number;
  /** undefined: none yet; null: IMDSv1 (the token route is not there). */
  private token: { value: string | null; until: number } | undefined;

  constructor(o: ImdsAdapterOptions = {}) {
    this.base = (o.endpoint ?? "http://169.254.169.254").replace(/\/+$/, "");
    this.timeoutMs = o.timeoutMs ?? 5_000;
    this.retries = o.retries ?? 3;
    this.ttl = o.tokenTtlSeconds ?? 21_600;
  }

  /** Requests in flight, at most MAX_IN_FLIGHT (each holds a connection until it is answered). */
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  private sdk?: MetadataService;

  /** The SDK client: no token fetch of its own, no retries of its own (this adapter does both). */
  private client(): MetadataService {
    this.sdk ??= new MetadataService({ endpoint: this.base, httpOptions: { timeout: this.timeoutMs }, disableFetchToken: true, ec2MetadataV1Disabled: false, retries: 0, tokenTtl: this.ttl });
    return this.sdk;
  }

  private async send(method: "GET" | "PUT", path: string, headers: Record<string, string>): Promise<{ status: number; ok: boolean; body: string }> {
    while (this.inFlight >= MAX_IN_FLIGHT) await new Promise<void>((r) => this.waiting.push(r));
    this.inFlight++;
    try {
      const body =
        method === "PUT"
          ? await this.client().fetchMetadataToken()
          : await this.client().request(path, { method, headers: { ...headers, connection: "close" } });
      return { status: 200, ok: true, body };
    } catch (e) {
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? statusFromMessage(e);
      if (status !== undefined) return { status, ok: false, body: String((e as Error)?.message ?? "") };
      const msg = String((e as Error)?.message ?? e);
      const why = /timeout|timed out/i.test(msg) ? `no answer within ${this.timeoutMs} ms` : msg;
      throw new ImdsError(`IMDS ${method} ${path}: ${why}`);
    } finally {
      this.inFlight--;
      this.waiting.shift()?.();
    }
  }

  private async sessionToken(): Promise<string | null> {
    if (this.token && Date.now() < this.token.until) return this.token.value;
    const res = await this.send("PUT", "/latest/api/token", { "x-aws-ec2-metadata-token-ttl-seconds": String(this.ttl) });
    const body = res.body;
    if (res.status === 403 || res.status === 404 || res.status === 405) {
      this.token = { value: null, until: Date.now() + 60_000 };
    } else if (res.ok) {
      // Renewed a minute before it expires (or halfway, for short test TTLs).
      this.token = { value: body.trim(), until: Date.now() + Math.max(this.ttl * 500, this.ttl * 1000 - 60_000) };
    } else {
      throw new ImdsError(`IMDS PUT /latest/api/token: HTTP ${res.status} ${body.slice(0, 200)}`.trim(), res.status);
    }
    return this.token.value;
  }

  private async once(path: string): Promise<string> {
    const token = await this.sessionToken();
    const res = await this.send("GET", path, token === null ? {} : { "x-aws-ec2-metadata-token": token });
    const body = res.body;
    if (res.status === 401) this.token = undefined; // expired or revoked: the retry fetches a new one
    if (res.status !== 200) throw new ImdsError(`IMDS GET ${path}: HTTP ${res.status} ${body.slice(0, 200)}`.trim(), res.status);
    return body;
  }

  private async get(path: string): Promise<string> {
    const full = `/latest/meta-data/${path}`;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once(full);
      } catch (e) {
        const status = e instanceof ImdsError ? e.status : undefined;
        if (attempt >= this.retries || (status !== undefined && NO_RETRY.has(status))) throw e;
        if (status !== 401) await Bun.sleep(1000 * 1.2 ** attempt); // 401: at once, with a new token
      }
    }
  }

  /** A leaf that may be absent. */
  private async optional(path: string): Promise<string[]> {
    try {
      return split(await this.get(path));
    } catch (e) {
      if (e instanceof ImdsError && e.status === 404) return [];
      throw e;
    }
  }

  instanceId = () => this.get("instance-id").then((s) => s.trim());
  instanceType = () => this.get("instance-type").then((s) => s.trim());
  availabilityZone = () => this.get("placement/availability-zone").then((s) => s.trim());
  primaryMac = () => this.get("mac").then((s) => s.trim().toLowerCase());
  localIpv4 = () => this.get("local-ipv4").then((s) => s.trim());
  localIpv6 = () => this.optional("ipv6").then((v) => v[0]);
  vpcIpv6Cidrs = (mac: string) => this.optional(`network/interfaces/macs/${checkMac(mac)}/vpc-ipv6-cidr-blocks`);

  async interfaces(): Promise<ImdsInterface[]> {
    const macs = split(await this.get("network/interfaces/macs/")).map((m) => m.replace(/\/$/, "").toLowerCase());
    return Promise.all(
      macs.map(async (mac) => {
        const p = `network/interfaces/macs/${mac}/`;
        const [dev, id, subnet, subnetCidr, vpcCidrs, sgs, v4s, prefixes, v6s, v6prefixes, card, vpcId] = await Promise.all([
          this.get(p + "device-number"),
          this.get(p + "interface-id"),
          this.get(p + "subnet-id"),
          this.optional(p + "subnet-ipv4-cidr-block"),
          this.optional(p + "vpc-ipv4-cidr-blocks"),
          this.optional(p + "security-group-ids"),
          this.optional(p + "local-ipv4s"),
          this.optional(p + "ipv4-prefix"),
          this.optional(p + "ipv6s"),
          this.optional(p + "ipv6-prefix"),
          // Only instances with several network cards have this leaf.
          this.optional(p + "network-card"),
          this.optional(p + "vpc-id"),
        ]);
        return {
          mac,
          deviceNumber: Number(dev.trim()),
          networkCard: networkCardOf(mac, card[0]),
          interfaceId: id.trim(),
          subnetId: subnet.trim(),
          subnetCidr: subnetCidr[0] ?? "",
          ...(vpcId[0] ? { vpcId: vpcId[0] } : {}),
          vpcCidrs,
          securityGroupIds: sgs,
          localIpv4s: v4s,
          ipv4Prefixes: prefixes,
          ipv6s: v6s,
          ipv6Prefixes: v6prefixes,
        };
      }),
    );
  }
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** A MAC that becomes part of an IMDS path. */
function checkMac(mac: string): string {
  if (!MAC.test(mac)) throw new Error(`mac: not a MAC address: ${JSON.stringify(mac)}`);
  return mac;
}

/** IMDS `network-card`: absent on single-card instances (card 0), else a card index. */
function networkCardOf(mac: string, leaf: string | undefined): number {
  if (leaf === undefined) return 0;
  if (!/^\d{1,3}$/.test(leaf)) throw new ImdsError(`IMDS network/interfaces/macs/${mac}/network-card: not a network card index: ${JSON.stringify(leaf.slice(0, 40))}`);
  return Number(leaf);
}

function split(s: string): string[] {
  return s
    .split("\n")
    .map((x) => x.trim())
    .filter(Boolean);
}
