/**
 * A minimal Kubernetes API for tests that run addr-broker in a node namespace: serves GET of
 * a pod and a watch of one pod (fieldSelector metadata.name) from a JSON file the test
 * rewrites (`{"<namespace>/<name>": <Pod>}`); a watch sends MODIFIED when the pod's object in
 * the file changes. Run as `bun fake-kube-api.ts <pods file> <port>`, listening on 127.0.0.1
 * of its own namespace only.
 */
const [podsFile, portText] = process.argv.slice(2);
if (!podsFile || !portText || !/^\d{4,5}$/.test(portText)) throw new Error("usage: fake-kube-api.ts <pods file> <port>");

async function pods(): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await Bun.file(podsFile!).text()) as Record<string, unknown>;
  } catch {
    return {};
  }
}

const POD = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/;
const LIST = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/;

Bun.serve({
  hostname: "127.0.0.1",
  port: Number(portText),
  idleTimeout: 0,
  async fetch(req) {
    const url = new URL(req.url);
    const one = POD.exec(url.pathname);
    if (req.method === "GET" && one) {
      const pod = (await pods())[`${decodeURIComponent(one[1]!)}/${decodeURIComponent(one[2]!)}`];
      return pod ? Response.json(pod) : Response.json({ kind: "Status", code: 404, reason: "NotFound" }, { status: 404 });
    }
    const list = LIST.exec(url.pathname);
    const name = url.searchParams.get("fieldSelector")?.replace(/^metadata\.name=/, "");
    if (req.method === "GET" && list && url.searchParams.get("watch") === "true" && name) {
      const key = `${decodeURIComponent(list[1]!)}/${name}`;
      let last = JSON.stringify((await pods())[key] ?? null);
      const enc = new TextEncoder();
      let timer: ReturnType<typeof setInterval> | undefined;
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          timer = setInterval(async () => {
            const now = (await pods())[key];
            const text = JSON.stringify(now ?? null);
            if (text === last || now === undefined) return;
            last = text;
            try {
              controller.enqueue(enc.encode(JSON.stringify({ type: "MODIFIED", object: now }) + "\n"));
            } catch {
              clearInterval(timer);
            }
          }, 20);
        },
        cancel() {
          clearInterval(timer);
        },
      });
      return new Response(stream, { headers: { "Content-Type": "application/json" } });
    }
    return Response.json({ kind: "Status", code: 404 }, { status: 404 });
  },
});
