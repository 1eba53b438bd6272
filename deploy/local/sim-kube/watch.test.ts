// Watch semantics without sockets: resume points, expired history, selector enter/leave.
import { describe, expect, test } from "bun:test";
import { createKubeApp } from "./app.ts";
import { serveKube } from "./serve.ts";
import { KubeStore } from "./store.ts";

const pod = (name: string, nodeName: string) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: "default" },
  spec: { nodeName, containers: [{ name: "c", image: "i" }] },
});

async function firstLines(response: Response, count: number): Promise<Array<{ type: string; object: any }>> {
  const reader = response.body!.getReader();
  let text = "";
  while (text.split("\n").filter((line) => line !== "").length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  await reader.cancel();
  return text.split("\n").filter((line) => line !== "").slice(0, count).map((line) => JSON.parse(line));
}

describe("watch", () => {
  test("a resourceVersion older than the kept history gets an ERROR event with 410 Expired", async () => {
    const store = new KubeStore({ historyLimit: 2 });
    const { app } = createKubeApp(store);
    for (const name of ["a", "b", "c", "d"]) store.create("pods", pod(name, "n1"));
    const response = await app.request("/api/v1/pods?watch=true&resourceVersion=1");
    const [event] = await firstLines(response, 1);
    expect(event?.type).toBe("ERROR");
    expect(event?.object).toMatchObject({ kind: "Status", code: 410, reason: "Expired" });
  });

  test("resuming replays only later changes; a pod moving onto the node is ADDED, off it DELETED", async () => {
    const store = new KubeStore();
    const { app } = createKubeApp(store);
    store.create("pods", pod("before", "n1"));
    const resumeAt = store.resourceVersion;
    store.create("pods", pod("mover", "n2"));
    const moved = store.get("pods", "default", "mover")!;
    store.update("pods", { ...moved, spec: { ...(moved.spec as object), nodeName: "n1" } });
    const back = store.get("pods", "default", "mover")!;
    store.update("pods", { ...back, spec: { ...(back.spec as object), nodeName: "n2" } });
    const response = await app.request(`/api/v1/pods?watch=1&fieldSelector=spec.nodeName%3Dn1&resourceVersion=${resumeAt}`);
    const events = await firstLines(response, 2);
    expect(events.map((event) => `${event.type} ${event.object.metadata.name}`)).toEqual(["ADDED mover", "DELETED mover"]);
  });

  test("a malformed resourceVersion is 400", async () => {
    const { app } = createKubeApp(new KubeStore());
    const response = await app.request("/api/v1/pods?watch=true&resourceVersion=abc");
    expect(response.status).toBe(400);
  });

  test("over TCP, a watch with nothing to send yet answers at once (clients wait for its headers)", async () => {
    const served = serveKube({ hostname: "127.0.0.1", port: 0, bookmarkIntervalMs: 60_000 });
    const abort = new AbortController();
    try {
      const started = Date.now();
      const response = await fetch(`${served.url}/api/v1/pods?watch=true&fieldSelector=spec.nodeName%3Dnone`, { signal: abort.signal });
      expect(response.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      abort.abort();
      await served.stop();
    }
  });
});
