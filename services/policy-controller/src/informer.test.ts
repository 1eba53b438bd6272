// The watched cache against the simulated API server: list then watch; after the API was
// unreachable long enough for its history to move past the cache's version, the cache relists
// (410 Expired) and ends up equal to the server, with every change reported.
import { afterEach, expect, test } from "bun:test";
import { serveKube, type ServedKube } from "../../../deploy/local/sim-kube/serve.ts";
import { KubeStore } from "../../../deploy/local/sim-kube/store.ts";
import { KubeRest } from "../../../shared/kube-rest.ts";
import { Informer } from "./informer.ts";
import type { Namespace } from "./objects.ts";

let kube: ServedKube | undefined;
let informer: Informer<Namespace> | undefined;
afterEach(async () => {
  informer?.stop();
  await kube?.stop();
});

const names = (i: Informer<Namespace>) => i.values().map((n) => n.metadata.name).sort();

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await Bun.sleep(20);
  }
}

test("list, watch, and a relist once the server's history has moved past the cache", async () => {
  const store = new KubeStore({ historyLimit: 5 });
  kube = serveKube({ hostname: "127.0.0.1", port: 0, store, namespaces: ["a"] });
  const rest = new KubeRest({ cluster: { name: "sim", server: kube.url, skipTLSVerify: true }, credentials: async () => ({ headers: {}, tls: {} }) });
  const gone: string[] = [];
  informer = new Informer<Namespace>(rest, "/api/v1/namespaces", (old, current) => {
    if (current === undefined && old !== undefined) gone.push(old.metadata.name);
  }, { warn: () => {} });
  await informer.start();
  expect(names(informer)).toEqual(["a"]);
  store.create("namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "b" } });
  await until(() => names(informer!).includes("b"));

  kube.setUnreachable("503");
  // more changes than the server keeps, while the watch is down
  for (let i = 0; i < 8; i++) store.create("namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: `n${i}` } });
  store.delete("namespaces", undefined, "b");
  kube.setUnreachable(false);
  await until(() => names(informer!).length === 9 && !names(informer!).includes("b"));
  expect(names(informer)).toEqual(["a", ...Array.from({ length: 8 }, (_, i) => `n${i}`)]);
  expect(gone).toEqual(["b"]);
});
