/**
 * A route contract: method, path and the zod schemas of both ends. The server and the
 * client are both built from it, so the two can never disagree about a body's shape.
 */
import type { z } from "../zod.ts";

export type Method = "GET" | "POST" | "PUT" | "DELETE";

export interface RouteContract<Req extends z.ZodMiniType, Res extends z.ZodMiniType> {
  method: Method;
  path: string;
  request: Req;
  response: Res;
}

export function route<Req extends z.ZodMiniType, Res extends z.ZodMiniType>(
  method: Method,
  path: string,
  request: Req,
  response: Res,
): RouteContract<Req, Res> {
  return { method, path, request, response };
}
