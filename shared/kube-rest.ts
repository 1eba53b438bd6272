/**
 * A small Kubernetes REST client on Bun's fetch, for pool-manager's few calls and its pod
 * watch and addr-broker's pod annotations (docs/ARCHITECTURE.md section 1b). Why not
 * @kubernetes/client-node's generated API classes and Watch, which this project otherwise
 * uses (and still uses here for what it reads of a kubeconfig and for exotic credentials):
 * - Memory. Importing them loads every generated model, the ObjectSerializer and the
 *   Observable/Promise API layers, the proxy agents and the auth plugins: ≈ 8 MiB private
 *   in pool-manager (bench/README.md, "2026-12-04 — memory margin"), the largest single
 *   item in the node's 100 MiB budget.
 * - TLS. Under Bun, client-node's `undici` import is Bun's built-in stand-in whose `Agent` is
 *   a stub, so the cluster CA, client certificates and `tls-server-name` it puts on its
 *   dispatcher never reach the connection: against an API server certified by a private CA
 *   (every in-cluster service account) requests fail with "unable to verify the first
 *   certificate". Bun's fetch takes them as its `tls` option.
 *
 * What it keeps of client-node's behaviour: the kubeconfig is read with client-node's own
 * readers (`newClusters`/`newContexts`/`newUsers`: the same fields, defaults and refusals;
 * relative file paths resolved from the kubeconfig's directory, as `loadFromFile` does);
 * an http:// server is refused unless TLS verification is off (readKubeconfig turns it off
 * for a kubeconfig's http:// server, as shared/kube-config.ts does); a token file (the in-cluster projected
 * service-account token) is read again when the last read is over 60 s old, as FileAuth
 * does; a static token, basic auth and impersonation as client-node sends them; the CA and
 * client certificate files read again at most every 60 s (client-node read them per request).
 * Credentials from an `exec` plugin or an `auth-provider` (OIDC, GCP, Azure, ...) are left to
 * client-node: its KubeConfig is loaded then, on first use, and asked for the headers and TLS
 * material of each request. A cluster's http(s) `proxy-url` is used (under Bun client-node
 * ignored it); a SOCKS one is refused. Errors: an HTTP answer outside 2xx throws
 * KubeApiError with `code` and the body text (as client-node's ApiException); the watch
 * follows client-node's Watch: 30 s without data ends it with a TimeoutError, a non-200
 * answer is an Error with `statusCode`, each line is one event, unparsable lines are skipped.
 */
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { newClusters, newContexts, newUsers, type Cluster, type User } from "@kubernetes/client-node/dist/config_types.js";
import type { Config } from "./config/types.ts";

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** Token and certificate files are read again when older than this (client-node's FileAuth: 60 s). */
export const FILE_REFRESH_MS = 60_000;
/** A watch that receives nothing for this long is ended (client-node's Watch: 30 s). */
export const WATCH_IDLE_MS = 30_000;

export class KubeApiError extends Error {
  constructor(
    readonly code: number,
    readonly body: string,
    what: string,
  ) {
    super(`${what}: HTTP ${code}${body ? ` ${body.slice(0, 200)}` : ""}`);
    this.name = "KubeApiError";
  }
}

type Tls = NonNullable<BunFetchRequestInit["tls"]>;
/** What one request carries: headers (auth, impersonation) and TLS material. */
export interface RequestCredentials {
  headers: Record<string, string>;
  tls: Tls;
}
export type Credentials = () => Promise<RequestCredentials>;
export type WatchDone = (err: unknown) => void;

/** Reads a file at most once per FILE_REFRESH_MS; a failed read is not kept (tried again next time). */
function fileReader(now: () => number) {
  const cache = new Map<string, { at: number; text: string }>();
  return (path: string): string => {
    const hit = cache.get(path);
    if (hit && now() - hit.at <= FILE_REFRESH_MS) return hit.text;
    const text = readFileSync(path, "utf8");
    cache.set(path, { at: now(), text });
    return text;
  };
}

/** client-node delegates these users to an authenticator plugin; so does this client. */
export function needsClientNodeAuth(user: User | null | undefined): boolean {
  if (!user) return false;
  if (user.exec) return true;
  const p = user.authProvider as { name?: unknown; config?: { tokenFile?: unknown } } | null | undefined;
  return !!p && !(p.name === "tokenFile" && typeof p.config?.tokenFile === "string");
}

/** Headers and TLS from the kubeconfig's own fields (token, token file, basic, client certificate, CA). */
export function staticCredentials(cluster: Cluster, user: User | null | undefined, now: () => number = Date.now): Credentials {
  const read = fileReader(now);
  const refuseHttp = () => {
    // client-node's rule, checked after the files are read (a missing CA file is reported first, as there).
    if (cluster.server.startsWith("http:") && !cluster.skipTLSVerify) throw new Error("HTTP protocol is not allowed when skipTLSVerify is not set or false");
  };
  return async () => {
    const headers: Record<string, string> = {};
    const tls: Tls = {};
    if (cluster.skipTLSVerify) tls.rejectUnauthorized = false;
    if (cluster.tlsServerName) tls.serverName = cluster.tlsServerName;
    const ca = cluster.caFile ? read(cluster.caFile) : cluster.caData ? Buffer.from(cluster.caData, "base64").toString() : undefined;
    if (ca) tls.ca = ca;
    if (!user) {
      refuseHttp();
      return { headers, tls };
    }
    const cert = user.certFile ? read(user.certFile) : user.certData ? Buffer.from(user.certData, "base64").toString() : undefined;
    const key = user.keyFile ? read(user.keyFile) : user.keyData ? Buffer.from(user.keyData, "base64").toString() : undefined;
    if (cert) tls.cert = cert;
    if (key) tls.key = key;
    if (user.impersonateUser != null) headers["Impersonate-User"] = user.impersonateUser;
    // client-node's order: basic auth, then the token file's token, then a static token, each over the one before.
    if (user.username) headers.Authorization = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString("base64")}`;
    const tokenFile = (user.authProvider as { config?: { tokenFile?: string } } | undefined)?.config?.tokenFile;
    if (tokenFile) {
      const token = read(tokenFile);
      if (token) headers.Authorization = `Bearer ${token}`;
    }
    if (user.token) headers.Authorization = `Bearer ${user.token}`;
    refuseHttp();
    return { headers, tls };
  };
}

/** Credentials from client-node's KubeConfig (exec plugins, auth providers), loaded on first use. */
export function clientNodeCredentials(k: Config["kubernetes"]): Credentials {
  let kc: Promise<import("@kubernetes/client-node").KubeConfig> | undefined;
  return async () => {
    kc ??= import("./kube-config.ts").then(({ kubeConfigFrom }) => kubeConfigFrom(k)!);
    const opts: import("node:https").RequestOptions = {};
    await (await kc).applyToHTTPSOptions(opts);
    const headers: Record<string, string> = {};
    for (const [name, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[name] = String(v);
    if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString("base64")}`;
    const tls: Tls = {};
    const text = (b: unknown) => (b === undefined || b === null ? undefined : String(b));
    if (opts.ca) tls.ca = text(opts.ca);
    if (opts.cert) tls.cert = text(opts.cert);
    if (opts.key) tls.key = text(opts.key);
    if (opts.rejectUnauthorized === false) tls.rejectUnauthorized = false;
    if (opts.servername) tls.serverName = opts.servername;
    return { headers, tls };
  };
}

export interface KubeTarget {
  cluster: Cluster;
  credentials: Credentials;
}

/** The current context's cluster and user of a kubeconfig file, read as client-node's loadFromFile reads it. */
export function readKubeconfig(path: string): { cluster: Cluster; user: User | null } {
  const obj = (Bun.YAML.parse(readFileSync(path, "utf8")) ?? {}) as Record<string, unknown>;
  const root = dirname(path);
  const abs = (f: string | undefined) => (f && !isAbsolute(f) ? join(root, f) : f);
  // Every entry is checked (an invalid one throws, as client-node's loadFromString), not only the current ones.
  const [clusters, contexts, users] = [newClusters(obj.clusters), newContexts(obj.contexts), newUsers(obj.users)];
  const context = contexts.find((c) => c.name === obj["current-context"]);
  const found = context && clusters.find((c) => c.name === context.cluster);
  if (!found) throw new Error("No active cluster!");
  // client-node refuses plain http unless skipTLSVerify is set; for an http:// server there is no TLS to verify.
  const cluster = { ...found, caFile: abs(found.caFile), ...(found.server.startsWith("http://") ? { skipTLSVerify: true } : {}) };
  const u = context.user ? users.find((x) => x.name === context.user) : undefined;
  return { cluster, user: u ? { ...u, certFile: abs(u.certFile), keyFile: abs(u.keyFile) } : null };
}

/** KUBECONFIG when set, else the in-cluster service account when an API server is known; else undefined. */
export function kubeTargetFrom(k: Config["kubernetes"]): KubeTarget | undefined {
  if (k.kubeconfig) {
    const { cluster, user } = readKubeconfig(k.kubeconfig);
    return { cluster, credentials: needsClientNodeAuth(user) ? clientNodeCredentials(k) : staticCredentials(cluster, user) };
  }
  if (!k.apiServer) return undefined;
  // An http:// endpoint (CLUSTER_ENDPOINT) has no TLS to verify, as for a kubeconfig's http:// server.
  const cluster: Cluster = k.apiServer.startsWith("http://")
    ? { name: "inCluster", server: k.apiServer, skipTLSVerify: true }
    : { name: "inCluster", server: k.apiServer, caFile: `${SERVICE_ACCOUNT_DIR}/ca.crt`, skipTLSVerify: false };
  const user: User = { name: "inClusterUser", authProvider: { name: "tokenFile", config: { tokenFile: `${SERVICE_ACCOUNT_DIR}/token` } } };
  return { cluster, credentials: staticCredentials(cluster, user) };
}

export class KubeRest {
  readonly server: string;
  private readonly proxy: string | undefined;

  constructor(
    private readonly target: KubeTarget,
    private readonly watchIdleMs = WATCH_IDLE_MS,
  ) {
    this.server = target.cluster.server.replace(/\/$/, "");
    const proxy = target.cluster.proxyUrl;
    if (proxy && !/^https?:\/\//.test(proxy)) throw new Error(`kubeconfig proxy-url ${proxy}: only http:// and https:// proxies are supported`);
    this.proxy = proxy;
  }

  private url(path: string, query: Record<string, string | boolean | undefined> = {}): URL {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  private async init(method: string, headers: Record<string, string>, signal?: AbortSignal): Promise<BunFetchRequestInit> {
    const c = await this.target.credentials();
    return { method, headers: { Accept: "application/json", ...c.headers, ...headers }, tls: c.tls, ...(this.proxy ? { proxy: this.proxy } : {}), ...(signal ? { signal } : {}) };
  }

  /** One request; the parsed JSON answer. `merge`: a JSON merge patch. */
  async request<T = unknown>(method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE", path: string, o: { query?: Record<string, string | undefined>; body?: unknown; merge?: boolean } = {}): Promise<T> {
    const type: Record<string, string> = o.body === undefined ? {} : { "Content-Type": o.merge ? "application/merge-patch+json" : "application/json" };
    const init = await this.init(method, type);
    const res = await fetch(this.url(path, o.query), { ...init, ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }) });
    const text = await res.text();
    if (res.status < 200 || res.status > 299) throw new KubeApiError(res.status, text, `${method} ${path}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /**
   * A watch of `path` (client-node's Watch.watch): `onEvent(type, object)` per event, `done`
   * once (null: the server closed the stream). Resolves with the controller that ends it.
   */
  async watch(path: string, query: Record<string, string | boolean | undefined>, onEvent: (type: string, obj: unknown) => void, done: WatchDone): Promise<AbortController> {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let timedOut = false;
    let finished = false;
    const timeoutError = () => new DOMException("The operation was aborted due to timeout", "TimeoutError");
    const finish = (err: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      controller.abort();
      done(err && timedOut ? timeoutError() : err);
    };
    const idle = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort(timeoutError());
      }, this.watchIdleMs);
      timer.unref?.();
    };
    try {
      idle();
      const res = await fetch(this.url(path, { ...query, watch: "true" }), await this.init("GET", {}, controller.signal));
      if (res.status !== 200) {
        const err = Object.assign(new Error(res.statusText || `HTTP ${res.status}`), { statusCode: res.status });
        void res.body?.cancel().catch(() => {});
        throw err;
      }
      idle();
      void this.readLines(res, idle, onEvent).then(() => finish(null), finish);
    } catch (err) {
      finish(err);
    }
    return controller;
  }

  private async readLines(res: Response, idle: () => void, onEvent: (type: string, obj: unknown) => void): Promise<void> {
    if (!res.body) return;
    const decoder = new TextDecoder();
    let rest = "";
    const line = (l: string) => {
      if (!l.trim()) return;
      try {
        const data = JSON.parse(l) as { type?: unknown; object?: unknown };
        onEvent(String(data.type), data.object);
      } catch {
        // as client-node: a line that is not JSON (or that the callback throws on) is skipped
      }
    };
    for await (const chunk of res.body) {
      idle();
      rest += decoder.decode(chunk as Uint8Array, { stream: true });
      let nl: number;
      while ((nl = rest.indexOf("\n")) >= 0) {
        line(rest.slice(0, nl));
        rest = rest.slice(nl + 1);
      }
    }
    line(rest + decoder.decode());
  }
}

/** The client for this config, or undefined when neither KUBECONFIG nor an in-cluster API server is set. */
export function kubeRestFrom(k: Config["kubernetes"]): KubeRest | undefined {
  const target = kubeTargetFrom(k);
  return target ? new KubeRest(target) : undefined;
}
