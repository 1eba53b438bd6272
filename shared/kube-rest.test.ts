// shared/kube-rest.ts: the kubeconfig as client-node reads it, credentials (token file
// refresh, exec plugins through client-node), TLS with the cluster CA, a server name and a
// client certificate, requests and the watch, against Bun.serve servers on 127.0.0.1.
// The certificates in shared/testdata/kube-tls (valid to 2126) were made with openssl: an EC
// P-256 CA, `server` for IP 127.0.0.1, `named` for DNS kube.test only, `client` for clientAuth.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Cluster, User } from "@kubernetes/client-node/dist/config_types.js";
import { KubeApiError, KubeRest, kubeRestFrom, kubeTargetFrom, needsClientNodeAuth, readKubeconfig, SERVICE_ACCOUNT_DIR, staticCredentials } from "./kube-rest.ts";

const TLS_DIR = join(import.meta.dir, "testdata/kube-tls");
const pem = (name: string) => readFileSync(join(TLS_DIR, name), "utf8");
const dir = mkdtempSync(join(tmpdir(), `kube-rest-${process.pid}-`));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const servers: Array<{ stop: (force?: boolean) => unknown }> = [];
afterEach(() => {
  for (const s of servers.splice(0)) void s.stop(true);
});

type Handler = (req: Request) => Response | Promise<Response>;
const echo: Handler = (req) => Response.json({ auth: req.headers.get("authorization"), path: new URL(req.url).pathname });
function serve(fetch: Handler, tls?: Record<string, unknown>): string {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch, ...(tls ? { tls } : {}) });
  servers.push(s);
  return `${tls ? "https" : "http"}://127.0.0.1:${s.port}`;
}
function rest(cluster: Omit<Cluster, "name">, user: Omit<User, "name"> | null = { token: "t0" }): KubeRest {
  const c = { name: "c", ...cluster };
  return new KubeRest({ cluster: c, credentials: staticCredentials(c, user ? { name: "u", ...user } : null) });
}
function kubeconfig(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe("kubeconfig", () => {
  test("the current context's cluster and user; relative files from the kubeconfig's directory; http:// needs no TLS", () => {
    const path = kubeconfig(
      "kc.yaml",
      `apiVersion: v1
kind: Config
current-context: b
clusters:
- name: one
  cluster: { server: "https://one.example/", certificate-authority: ca.crt, tls-server-name: kube.test }
- name: two
  cluster: { server: "http://127.0.0.1:8080" }
contexts:
- { name: a, context: { cluster: one, user: alice } }
- { name: b, context: { cluster: two, user: bob } }
users:
- { name: alice, user: { token: secret } }
- { name: bob, user: { client-certificate: certs/bob.crt, client-key: /abs/bob.key, as: admin } }
`,
    );
    const { cluster, user } = readKubeconfig(path);
    expect(cluster).toMatchObject({ name: "two", server: "http://127.0.0.1:8080", skipTLSVerify: true });
    expect(user).toMatchObject({ name: "bob", certFile: join(dir, "certs/bob.crt"), keyFile: "/abs/bob.key", impersonateUser: "admin" });
    writeFileSync(path, readFileSync(path, "utf8").replace("current-context: b", "current-context: a"));
    const a = readKubeconfig(path);
    expect(a.cluster).toMatchObject({ server: "https://one.example", caFile: join(dir, "ca.crt"), tlsServerName: "kube.test", skipTLSVerify: false });
    expect(a.user).toMatchObject({ name: "alice", token: "secret" });
  });

  test("refused as client-node refuses: an entry without a server, no current context", () => {
    const bad = kubeconfig("bad.yaml", `{"clusters":[{"name":"x","cluster":{}}],"contexts":[],"users":[],"current-context":"y"}`);
    expect(() => readKubeconfig(bad)).toThrow("clusters[0].cluster.server is missing");
    const none = kubeconfig("none.yaml", `{"clusters":[{"name":"x","cluster":{"server":"https://x"}}],"contexts":[{"name":"c","context":{"cluster":"x"}}],"users":[]}`);
    expect(() => readKubeconfig(none)).toThrow("No active cluster!");
  });

  test("in-cluster: the service account's CA and token file; nothing configured: no client", () => {
    const k = { kubeconfig: undefined, apiServer: "https://10.100.0.1:443", clusterEndpoint: undefined, nodeName: "n1", annotatePodIp: false };
    const t = kubeTargetFrom(k)!;
    expect(t.cluster).toMatchObject({ server: "https://10.100.0.1:443", caFile: `${SERVICE_ACCOUNT_DIR}/ca.crt`, skipTLSVerify: false });
    expect(kubeRestFrom({ ...k, apiServer: undefined })).toBeUndefined();
    // An http:// CLUSTER_ENDPOINT (the local deployment's API server) is used as it is: no TLS, no CA.
    const plain = kubeTargetFrom({ ...k, apiServer: "http://169.254.1.1:8080" })!;
    expect(plain.cluster).toEqual({ name: "inCluster", server: "http://169.254.1.1:8080", skipTLSVerify: true });
  });

  test("exec plugins and auth providers go to client-node; tokens, token files and certificates do not", () => {
    expect(needsClientNodeAuth(null)).toBe(false);
    expect(needsClientNodeAuth({ name: "u", token: "t" })).toBe(false);
    expect(needsClientNodeAuth({ name: "u", authProvider: { name: "tokenFile", config: { tokenFile: "/t" } } })).toBe(false);
    expect(needsClientNodeAuth({ name: "u", exec: { command: "aws" } })).toBe(true);
    expect(needsClientNodeAuth({ name: "u", authProvider: { name: "oidc", config: {} } })).toBe(true);
  });
});

describe("credentials", () => {
  test("a token file is read again once its last read is over 60 s old (client-node's FileAuth)", async () => {
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "first");
    let now = 1_000_000;
    const creds = staticCredentials({ name: "c", server: "https://x", skipTLSVerify: false }, { name: "u", authProvider: { name: "tokenFile", config: { tokenFile } } }, () => now);
    expect((await creds()).headers.Authorization).toBe("Bearer first");
    writeFileSync(tokenFile, "rotated");
    now += 59_000;
    expect((await creds()).headers.Authorization).toBe("Bearer first");
    now += 2_000;
    expect((await creds()).headers.Authorization).toBe("Bearer rotated");
  });

  test("a static token over the token file over basic auth; impersonation; http:// refused while TLS verification is on", async () => {
    const tokenFile = join(dir, "token2");
    writeFileSync(tokenFile, "from-file");
    const cluster = { name: "c", server: "https://x", skipTLSVerify: false };
    const user = { name: "u", username: "me", password: "pw", authProvider: { name: "tokenFile", config: { tokenFile } }, impersonateUser: "admin" };
    expect((await staticCredentials(cluster, { ...user, token: "static" })()).headers).toEqual({ Authorization: "Bearer static", "Impersonate-User": "admin" });
    expect((await staticCredentials(cluster, user)()).headers.Authorization).toBe("Bearer from-file");
    expect((await staticCredentials(cluster, { name: "u", username: "me", password: "pw" })()).headers.Authorization).toBe(`Basic ${btoa("me:pw")}`);
    await expect(staticCredentials({ ...cluster, server: "http://x" }, user)()).rejects.toThrow("HTTP protocol is not allowed");
  });

  test("an exec plugin's token, through client-node's KubeConfig", async () => {
    const url = serve(echo);
    const credential = JSON.stringify({ apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", status: { token: "exec-token" } });
    const path = kubeconfig(
      "exec.json",
      JSON.stringify({
        clusters: [{ name: "c", cluster: { server: url } }],
        contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
        users: [{ name: "u", user: { exec: { apiVersion: "client.authentication.k8s.io/v1", command: process.execPath, args: ["-e", `console.log(${JSON.stringify(credential)})`] } } }],
        "current-context": "x",
      }),
    );
    const api = kubeRestFrom({ kubeconfig: path, apiServer: undefined, clusterEndpoint: undefined, nodeName: "n1", annotatePodIp: false })!;
    expect(await api.request("GET", "/api/v1/nodes/n1")).toEqual({ auth: "Bearer exec-token", path: "/api/v1/nodes/n1" });
  });
});

describe("TLS", () => {
  const server = () => serve(echo, { cert: pem("server.crt"), key: pem("server.key") });

  test("the cluster CA from a file verifies the server; without it the server is refused; skip-verify connects", async () => {
    const url = server();
    writeFileSync(join(dir, "ca.crt"), pem("ca.crt"));
    expect(await rest({ server: url, caFile: join(dir, "ca.crt"), skipTLSVerify: false }).request("GET", "/api/v1/nodes/n1")).toEqual({ auth: "Bearer t0", path: "/api/v1/nodes/n1" });
    await expect(rest({ server: url, skipTLSVerify: false }).request("GET", "/x")).rejects.toThrow();
    expect(await rest({ server: url, skipTLSVerify: true }).request("GET", "/x")).toMatchObject({ auth: "Bearer t0" });
  });

  test("inline CA data and tls-server-name: a certificate for another name is accepted only under that name", async () => {
    const url = serve(echo, { cert: pem("named.crt"), key: pem("named.key") });
    const caData = Buffer.from(pem("ca.crt")).toString("base64");
    expect(await rest({ server: url, caData, tlsServerName: "kube.test", skipTLSVerify: false }).request("GET", "/x")).toMatchObject({ path: "/x" });
    await expect(rest({ server: url, caData, skipTLSVerify: false }).request("GET", "/x")).rejects.toThrow();
  });

  test("a client certificate from the kubeconfig's user reaches a server that requires one", async () => {
    const url = serve(echo, { cert: pem("server.crt"), key: pem("server.key"), ca: pem("ca.crt"), requestCert: true, rejectUnauthorized: true });
    const cluster = { server: url, caData: Buffer.from(pem("ca.crt")).toString("base64"), skipTLSVerify: false };
    const certData = Buffer.from(pem("client.crt")).toString("base64");
    const keyData = Buffer.from(pem("client.key")).toString("base64");
    expect(await rest(cluster, { certData, keyData }).request("GET", "/x")).toMatchObject({ auth: null, path: "/x" });
    await expect(rest(cluster, null).request("GET", "/x")).rejects.toThrow();
  });
});

describe("proxy-url", () => {
  test("an http proxy gets the request (with the API server's URL); a SOCKS one is refused", async () => {
    const proxy = serve((req) => Response.json({ proxied: req.url, auth: req.headers.get("authorization") }));
    const api = rest({ server: "http://kube.invalid:6443", proxyUrl: proxy, skipTLSVerify: true });
    expect(await api.request("GET", "/api/v1/nodes/n1")).toEqual({ proxied: "http://kube.invalid:6443/api/v1/nodes/n1", auth: "Bearer t0" });
    expect(() => rest({ server: "https://x", proxyUrl: "socks5://127.0.0.1:1080", skipTLSVerify: false })).toThrow("only http:// and https:// proxies");
  });
});

describe("requests and the watch", () => {
  test("query, JSON body, merge patch; an answer outside 2xx is a KubeApiError with its code and body", async () => {
    const seen: string[] = [];
    const url = serve(async (req) => {
      const u = new URL(req.url);
      seen.push(`${req.method} ${u.pathname}${u.search} ${req.headers.get("content-type") ?? "-"} ${req.method === "GET" ? "" : await req.text()}`.trim());
      return u.pathname === "/missing" ? Response.json({ kind: "Status", message: "not found", code: 404 }, { status: 404 }) : Response.json({ ok: true });
    });
    const api = rest({ server: `${url}/`, skipTLSVerify: true });
    await api.request("GET", "/api/v1/pods", { query: { fieldSelector: "spec.nodeName=n1", none: undefined } });
    await api.request("POST", "/api/v1/namespaces/default/events", { body: { a: 1 } });
    await api.request("PATCH", "/api/v1/nodes/n1", { body: { b: 2 }, merge: true });
    expect(seen).toEqual([
      "GET /api/v1/pods?fieldSelector=spec.nodeName%3Dn1 -",
      'POST /api/v1/namespaces/default/events application/json {"a":1}',
      'PATCH /api/v1/nodes/n1 application/merge-patch+json {"b":2}',
    ]);
    const err = await api.request("GET", "/missing").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({ code: 404 });
    expect(JSON.parse((err as KubeApiError).body).message).toBe("not found");
  });

  test("events split across chunks, a line that is not JSON skipped, the server's close ends it cleanly", async () => {
    let query = "";
    const url = serve((req) => {
      query = new URL(req.url).search;
      const enc = new TextEncoder();
      const parts = ['{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n{"type":"MOD', 'IFIED","object":{"metadata":{"name":"a"}}}\nnot json\n', '{"type":"ERROR","object":{"code":410}}'];
      return new Response(new ReadableStream({ async pull(c) { const p = parts.shift(); if (p === undefined) c.close(); else c.enqueue(enc.encode(p)); } }));
    });
    const events: string[] = [];
    const ended = await new Promise<unknown>((resolve) => {
      void rest({ server: url, skipTLSVerify: true }).watch("/api/v1/pods", { fieldSelector: "x=y", resourceVersion: "7" }, (t, o) => events.push(`${t} ${JSON.stringify(o)}`), resolve);
    });
    expect(ended).toBeNull();
    expect(query).toBe("?fieldSelector=x%3Dy&resourceVersion=7&watch=true");
    expect(events).toEqual(['ADDED {"metadata":{"name":"a"}}', 'MODIFIED {"metadata":{"name":"a"}}', 'ERROR {"code":410}']);
  });

  test("a refused watch carries the HTTP status; one that goes quiet ends with a TimeoutError; abort ends it once", async () => {
    const gone = serve(() => new Response("gone", { status: 410, statusText: "Gone" }));
    const refused = await new Promise<unknown>((resolve) => void rest({ server: gone, skipTLSVerify: true }).watch("/w", {}, () => {}, resolve));
    expect(refused).toMatchObject({ statusCode: 410, message: "Gone" });

    // Answers 200 and one empty line, then nothing more.
    const quiet = serve(() => {
      let sent = false;
      return new Response(new ReadableStream({ pull: (c) => (sent ? new Promise(() => {}) : ((sent = true), c.enqueue(new TextEncoder().encode("\n")))) }));
    });
    const c = { name: "c", server: quiet, skipTLSVerify: true };
    const idle = new KubeRest({ cluster: c, credentials: staticCredentials(c, null) }, 100);
    const timedOut = await new Promise<unknown>((resolve) => void idle.watch("/w", {}, () => {}, resolve));
    expect((timedOut as DOMException).name).toBe("TimeoutError");

    let calls = 0;
    let ctl: AbortController | undefined;
    const done = new Promise<void>((resolve) => {
      void rest({ server: quiet, skipTLSVerify: true })
        .watch("/w", {}, () => {}, () => (calls++, resolve()))
        .then((x) => (ctl = x));
    });
    while (!ctl) await Bun.sleep(10);
    ctl.abort();
    await done;
    await Bun.sleep(50);
    expect(calls).toBe(1);
  });
});
