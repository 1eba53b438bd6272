// A watch: a chunked stream of `{"type":..,"object":..}` lines, starting from a snapshot or
// from a resourceVersion, with periodic bookmarks so clients' idle timeouts never fire.
import type { ObjectFilter, Target } from "./operations.ts";
import { apiVersionOf, resourceKey } from "./resources.ts";
import { badRequest, KubeError } from "./status.ts";
import type { KubeStore, StoredChange } from "./store.ts";
import type { KubeObject } from "./validate.ts";

export interface WatchRequest {
  target: Target;
  filter: ObjectFilter;
  resourceVersion: string | undefined;
  allowWatchBookmarks: boolean;
  timeoutSeconds: number | undefined;
  bookmarkIntervalMs: number;
  signal: AbortSignal;
}

type WatchEvent = { type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR"; object: unknown };

/** What a watcher with this target and filter sees of one stored change, if anything. */
export function eventFor(target: Target, filter: ObjectFilter, change: StoredChange): WatchEvent | undefined {
  if (change.resource !== resourceKey(target.def)) return undefined;
  if (target.namespace !== undefined && change.object.metadata.namespace !== target.namespace) return undefined;
  const matchesNow = filter(change.object);
  if (change.type !== "MODIFIED" || change.previous === undefined) {
    return matchesNow ? { type: change.type, object: change.object } : undefined;
  }
  const matchedBefore = filter(change.previous);
  if (matchedBefore && matchesNow) return { type: "MODIFIED", object: change.object };
  if (matchesNow) return { type: "ADDED", object: change.object };
  if (matchedBefore) return { type: "DELETED", object: change.object };
  return undefined;
}

function parseResourceVersion(text: string | undefined): number | undefined {
  if (text === undefined || text === "" || text === "0") return undefined;
  if (!/^\d+$/.test(text)) throw badRequest(`resourceVersion: Invalid value: "${text}": must be a non-negative integer`);
  return Number(text);
}

/** Opens the stream; `closers` lets the server end every open watch at once. */
export function watchResponse(store: KubeStore, request: WatchRequest, closers: Set<() => void>): Response {
  const startAt = parseResourceVersion(request.resourceVersion);
  const { target, filter } = request;
  const encoder = new TextEncoder();
  let cleanup = () => {};

  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      let open = true;
      let sent = 0;
      const send = (event: WatchEvent) => {
        if (!open) return;
        controller.enqueue(encoder.encode(`${JSON.stringify(event)}\n`));
        sent += 1;
      };
      const close = () => {
        if (!open) return;
        open = false;
        cleanup();
        try {
          controller.close();
        } catch {
          // already closed by the client going away
        }
      };

      if (startAt === undefined) {
        for (const object of store.list(resourceKey(target.def), target.namespace)) {
          if (filter(object)) send({ type: "ADDED", object });
        }
      } else {
        const changes = store.changesSince(startAt);
        if (changes === undefined) {
          const gone = new KubeError("Expired", `too old resource version: ${startAt} (${store.resourceVersion})`);
          send({ type: "ERROR", object: gone.toStatus() });
          open = false;
          controller.close();
          return;
        }
        for (const change of changes) {
          const event = eventFor(target, filter, change);
          if (event) send(event);
        }
      }

      // The response's headers go out with its first bytes: without an event to send yet, a
      // bare newline (skipped by JSON-lines readers) lets the client see the watch open now.
      if (sent === 0) controller.enqueue(encoder.encode("\n"));
      const unsubscribe = store.subscribe((change) => {
        const event = eventFor(target, filter, change);
        if (event) send(event);
      });
      const bookmarkObject = (): KubeObject => ({
        kind: target.def.kind,
        apiVersion: apiVersionOf(target.def),
        metadata: { resourceVersion: store.resourceVersion },
      });
      // Without bookmarks allowed, a bare newline keeps the connection from looking idle;
      // JSON-lines readers skip it.
      const heartbeat = setInterval(() => {
        if (request.allowWatchBookmarks) send({ type: "BOOKMARK", object: bookmarkObject() });
        else if (open) controller.enqueue(encoder.encode("\n"));
      }, request.bookmarkIntervalMs);
      const timeout = request.timeoutSeconds === undefined ? undefined : setTimeout(close, request.timeoutSeconds * 1000);
      cleanup = () => {
        unsubscribe();
        clearInterval(heartbeat);
        if (timeout !== undefined) clearTimeout(timeout);
        closers.delete(close);
        request.signal.removeEventListener("abort", close);
      };
      closers.add(close);
      request.signal.addEventListener("abort", close);
    },
    cancel() {
      cleanup();
    },
  });

  return new Response(stream, {
    status: 200,
    headers: { "content-type": "application/json", "cache-control": "no-cache, private" },
  });
}
