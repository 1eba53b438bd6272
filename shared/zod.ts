/**
 * The zod of the services: zod/mini (zod's functional API: the same parser, the same issues,
 * schemas without a method table each) with zod's English messages. Every service builds
 * its contracts and its configuration's fields with it.
 *
 * Why not `import { z } from "zod"`: the classic API costs every service memory it never
 * uses. Probe (a bundle of each, as services/build.ts makes them, started with
 * SERVICE_RUNTIME_ENV, USS after Bun.gc(true), medians of 3; bench/README.md): 30 small
 * objects built with the classic API 7.0 MiB, with zod/mini and these messages 5.3 MiB
 * (a bare Bun 2.3).
 *
 * zod/mini loads no locale: without `en` an issue's message would be "Invalid input" where
 * the classic API says what was expected ("Too small: expected string to have >=1
 * characters"), and the services' errors name the field and quote that message.
 */
import * as z from "zod/mini";
import en from "zod/v4/locales/en.js";

z.config(en());

export { z };

/** An integer number (the classic API's `z.number().int()`). */
export const int = () => z.number().check(z.int());

/**
 * A schema built the first time it is used. A module's schemas are built when the module
 * is imported, so a service that imports a contract module for one route pays for every
 * schema in it (addr-broker imports policy.ts for the agent's two routes, not for the
 * PolicyEndpoint object it never reads). The result stands for the built schema everywhere:
 * `.safeParse`, `.shape`, inside other schemas, `z.infer`.
 */
export function lazy<T extends object>(build: () => T): T {
  let built: T | undefined;
  const schema = (): T => (built ??= build());
  return new Proxy({} as T, {
    get: (_, key) => Reflect.get(schema(), key, schema()),
    has: (_, key) => Reflect.has(schema(), key),
    ownKeys: () => Reflect.ownKeys(schema()),
    getOwnPropertyDescriptor: (_, key) => {
      const d = Reflect.getOwnPropertyDescriptor(schema(), key);
      return d ? { ...d, configurable: true } : undefined;
    },
    getPrototypeOf: () => Reflect.getPrototypeOf(schema()),
  });
}
