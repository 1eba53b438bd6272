// The minimal Kubernetes API server as a hono app: discovery, the verbs on every resource of
// resources.ts, watches, Tables for kubectl, optional bearer token, and fault switches.
import { Hono } from "hono";
import type { Context } from "hono";
import { coreVersions, groupDocument, groupList, resourceList, SERVER_VERSION } from "./discovery.ts";
import { bindPod } from "./binding.ts";
import { deleteObject, parseDeleteOptions } from "./deletion.ts";
import { createObject, getObject, listObjects, patchObject, selectorFilter, updateObject } from "./operations.ts";
import type { Target } from "./operations.ts";
import { openApiGroupVersion, openApiRoot } from "./openapi.ts";
import { ResourceRegistry } from "./registry.ts";
import { apiVersionOf } from "./resources.ts";
import { badRequest, KubeError } from "./status.ts";
import type { KubeStore } from "./store.ts";
import { toTable, wantsTable } from "./table.ts";
import { watchResponse } from "./watch.ts";

export interface KubeFaults {
  /** Answer every request 503 (open watches are ended by `closeWatches`). */
  unavailable: boolean;
  /** Added before every answer. */
  latencyMs: number;
}

export interface KubeAppOptions {
  /** When set, requests must carry `Authorization: Bearer <token>` (else 401). */
  token?: string;
  /** Interval of watch bookmarks (default 5000 ms; clients time out idle watches at 30 s). */
  bookmarkIntervalMs?: number;
  faults?: KubeFaults;
}

export interface KubeApp {
  app: Hono;
  fetch: (request: Request) => Response | Promise<Response>;
  faults: KubeFaults;
  /** Ends every open watch stream, as a restarting API server does. */
  closeWatches: () => void;
}

interface ResourcePath {
  target: Target;
  name: string | undefined;
  subresource: string | undefined;
}

function statusResponse(error: KubeError): Response {
  return Response.json(error.toStatus(), { status: error.code });
}

function notFoundPath(path: string): KubeError {
  return new KubeError("NotFound", `the server could not find the requested resource (${path})`);
}

/** `/api/v1/...` or `/apis/<group>/<version>/...` split into resource, namespace, name, subresource. */
function parseResourcePath(registry: ResourceRegistry, segments: string[]): ResourcePath | undefined {
  let group: string;
  let version: string;
  let rest: string[];
  if (segments[0] === "api" && segments.length >= 3) {
    [group, version, rest] = ["", segments[1] ?? "", segments.slice(2)];
  } else if (segments[0] === "apis" && segments.length >= 4) {
    [group, version, rest] = [segments[1] ?? "", segments[2] ?? "", segments.slice(3)];
  } else {
    return undefined;
  }
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subresource, ...extra] = rest;
  const def = plural === undefined ? undefined : registry.find(group, version, plural);
  if (def === undefined || extra.length > 0) return undefined;
  if (namespace !== undefined && !def.namespaced) return undefined;
  if (def.namespaced && namespace === undefined && name !== undefined) return undefined;
  if (subresource !== undefined && !(subresource === "status" && def.hasStatus) && !(subresource === "binding" && def.isPod)) return undefined;
  return { target: { def, namespace }, name, subresource };
}

async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  const contentType = c.req.header("content-type") ?? "application/json";
  if (/yaml/i.test(contentType)) {
    throw new KubeError("UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: application/json (got ${contentType})`);
  }
  try {
    return text === "" ? undefined : JSON.parse(text);
  } catch (error) {
    throw badRequest(`the body of the request is not valid JSON: ${(error as Error).message}`);
  }
}

function isDryRun(c: Context, body?: unknown): boolean {
  if (c.req.queries("dryRun")?.includes("All")) return true;
  const fromBody = (body as { dryRun?: unknown } | undefined)?.dryRun;
  return Array.isArray(fromBody) && fromBody.includes("All");
}

export function createKubeApp(store: KubeStore, options: KubeAppOptions = {}): KubeApp {
  const faults = options.faults ?? { unavailable: false, latencyMs: 0 };
  const bookmarkIntervalMs = options.bookmarkIntervalMs ?? 5000;
  const closers = new Set<() => void>();
  const app = new Hono();
  const registry = new ResourceRegistry(store);

  app.onError((error) => {
    if (error instanceof KubeError) return statusResponse(error);
    return statusResponse(new KubeError("BadRequest", `internal error: ${error.message}`));
  });

  app.use(async (c, next) => {
    if (faults.latencyMs > 0) await Bun.sleep(faults.latencyMs);
    if (faults.unavailable) return statusResponse(new KubeError("ServiceUnavailable", "the API server is unavailable"));
    if (options.token !== undefined && c.req.header("authorization") !== `Bearer ${options.token}`) {
      return statusResponse(new KubeError("Unauthorized", "Unauthorized"));
    }
    await next();
  });

  app.get("/version", (c) => c.json(SERVER_VERSION));
  app.get("/healthz", (c) => c.text("ok"));
  app.get("/readyz", (c) => c.text("ok"));
  app.get("/api", (c) => c.json(coreVersions(new URL(c.req.url).host)));
  app.get("/apis", (c) => c.json(groupList(registry.all())));
  app.get("/openapi/v3", (c) => c.json(openApiRoot(registry.all())));
  app.get("/openapi/v3/*", (c) => {
    const document = openApiGroupVersion(registry.all(), c.req.path.slice("/openapi/v3/".length));
    if (document === undefined) throw notFoundPath(c.req.path);
    return c.json(document);
  });

  app.all("*", async (c) => {
    const path = new URL(c.req.url).pathname;
    const segments = path.split("/").filter((segment) => segment !== "");
    if (c.req.method === "GET") {
      if (segments.length === 2 && segments[0] === "api") {
        const list = resourceList(registry.all(), "", segments[1] ?? "");
        if (list) return c.json(list);
      }
      if (segments.length === 2 && segments[0] === "apis") {
        const group = groupDocument(registry.all(), segments[1] ?? "");
        if (group) return c.json(group);
      }
      if (segments.length === 3 && segments[0] === "apis") {
        const list = resourceList(registry.all(), segments[1] ?? "", segments[2] ?? "");
        if (list) return c.json(list);
      }
    }
    const resource = parseResourcePath(registry, segments);
    if (resource === undefined) throw notFoundPath(path);
    return handleResource(c, resource);
  });

  async function handleResource(c: Context, { target, name, subresource }: ResourcePath): Promise<Response> {
    const method = c.req.method;
    const query = (key: string) => c.req.query(key);
    if (name === undefined) {
      if (method === "GET") {
        const filter = selectorFilter(target.def, query("labelSelector"), query("fieldSelector"));
        const watch = query("watch");
        if (watch === "true" || watch === "1") {
          const timeout = query("timeoutSeconds");
          return watchResponse(store, {
            target,
            filter,
            resourceVersion: query("resourceVersion"),
            allowWatchBookmarks: query("allowWatchBookmarks") === "true",
            timeoutSeconds: timeout === undefined ? undefined : Number(timeout),
            bookmarkIntervalMs,
            signal: c.req.raw.signal,
          }, closers);
        }
        const items = listObjects(store, target, filter);
        if (wantsTable(c.req.header("accept"))) {
          return c.json(toTable(target.def, items, store.resourceVersion, store.now(), query("includeObject")));
        }
        return c.json({
          kind: `${target.def.kind}List`,
          apiVersion: apiVersionOf(target.def),
          metadata: { resourceVersion: store.resourceVersion },
          items,
        });
      }
      if (method === "POST") {
        if (target.def.namespaced && target.namespace === undefined) throw notFoundPath(c.req.path);
        const body = await readJson(c);
        return c.json(createObject(store, target, body, isDryRun(c)), 201);
      }
      if (method === "DELETE") {
        const body = await readJson(c);
        const options = parseDeleteOptions(body, query, isDryRun(c, body));
        const doomed = listObjects(store, target, selectorFilter(target.def, query("labelSelector"), query("fieldSelector")));
        const items = doomed.map((object) => deleteObject(store, { def: target.def, namespace: object.metadata.namespace }, object.metadata.name ?? "", options));
        return c.json({ kind: `${target.def.kind}List`, apiVersion: apiVersionOf(target.def), metadata: { resourceVersion: store.resourceVersion }, items });
      }
      throw new KubeError("MethodNotAllowed", `the server does not allow this method on the requested resource`);
    }

    if (subresource === "binding") {
      if (method !== "POST") throw new KubeError("MethodNotAllowed", "the server does not allow this method on the requested resource");
      const body = await readJson(c);
      return c.json(bindPod(store, target, name, body, isDryRun(c, body)), 201);
    }
    switch (method) {
      case "GET": {
        const object = getObject(store, target, name);
        if (wantsTable(c.req.header("accept"))) {
          return c.json(toTable(target.def, [object], store.resourceVersion, store.now(), query("includeObject")));
        }
        return c.json(object);
      }
      case "PUT":
        return c.json(updateObject(store, target, name, await readJson(c), subresource, isDryRun(c)));
      case "PATCH":
        return c.json(patchObject(store, target, name, c.req.header("content-type") ?? "", await readJson(c), subresource, isDryRun(c)));
      case "DELETE": {
        if (subresource !== undefined) break;
        const body = await readJson(c);
        return c.json(deleteObject(store, target, name, parseDeleteOptions(body, query, isDryRun(c, body))));
      }
    }
    throw new KubeError("MethodNotAllowed", `the server does not allow this method on the requested resource`);
  }

  return {
    app,
    fetch: (request) => app.fetch(request),
    faults,
    closeWatches: () => {
      for (const close of [...closers]) close();
    },
  };
}
