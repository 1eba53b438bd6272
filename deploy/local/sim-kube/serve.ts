// Serves the Kubernetes API on a TCP host:port, with an "unreachable" switch, and writes a
// kubeconfig that points kubectl and the client library at it.
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { createKubeApp } from "./app.ts";
import type { KubeApp, KubeAppOptions, KubeFaults } from "./app.ts";
import { KubeStore } from "./store.ts";

export interface ServeKubeOptions extends KubeAppOptions {
  hostname: string;
  /** 0 picks a free port; a restart after "refuse" reuses the port first bound. */
  port: number;
  store?: KubeStore;
  /** Namespaces created at start (default: default, kube-system). */
  namespaces?: string[];
}

/** false: normal; "503": every request answered 503; "refuse": the listener is closed. */
export type Reachability = false | "503" | "refuse";

export interface ServedKube {
  url: string;
  port: number;
  store: KubeStore;
  faults: KubeFaults;
  kube: KubeApp;
  setUnreachable: (mode: Reachability) => void;
  stop: () => Promise<void>;
}

function listen(hostname: string, port: number, kube: KubeApp) {
  // idleTimeout 0: watches are long-lived and their bookmarks pace themselves
  return Bun.serve({ hostname, port, idleTimeout: 0, fetch: kube.fetch });
}

export function serveKube(options: ServeKubeOptions): ServedKube {
  const store = options.store ?? new KubeStore();
  for (const name of options.namespaces ?? ["default", "kube-system"]) {
    if (store.get("namespaces", undefined, name) === undefined) {
      store.create("namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name }, status: { phase: "Active" } });
    }
  }
  const kube = createKubeApp(store, options);
  let server: ReturnType<typeof listen> | undefined = listen(options.hostname, options.port, kube);
  const port = server.port ?? options.port;
  const host = options.hostname.includes(":") ? `[${options.hostname}]` : options.hostname;

  const setUnreachable = (mode: Reachability) => {
    kube.faults.unavailable = mode === "503";
    if (mode !== false) kube.closeWatches();
    if (mode === "refuse" && server !== undefined) {
      void server.stop(true);
      server = undefined;
    } else if (mode !== "refuse" && server === undefined) {
      server = listen(options.hostname, port, kube);
    }
  };

  return {
    url: `http://${host}:${port}`,
    port,
    store,
    faults: kube.faults,
    kube,
    setUnreachable,
    stop: async () => {
      kube.closeWatches();
      await server?.stop(true);
      server = undefined;
    },
  };
}

/**
 * A kubeconfig with one cluster, user and context ("sim"), as JSON (valid YAML). kubectl
 * (client-go) sends no bearer token to an http:// server, so a server that kubectl must use
 * is started without `token`; @kubernetes/client-node does send it.
 */
export function kubeconfigText(url: string, token = "sim-token"): string {
  return `${JSON.stringify(
    {
      apiVersion: "v1",
      kind: "Config",
      // client-node 2.x refuses plain HTTP unless TLS verification is explicitly off.
      clusters: [{ name: "sim", cluster: { server: url, "insecure-skip-tls-verify": url.startsWith("http:") } }],
      users: [{ name: "sim", user: { token } }],
      contexts: [{ name: "sim", context: { cluster: "sim", user: "sim", namespace: "default" } }],
      "current-context": "sim",
      preferences: {},
    },
    null,
    2,
  )}\n`;
}

export async function writeKubeconfig(path: string, url: string, token = "sim-token"): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, kubeconfigText(url, token), { mode: 0o600 });
}
