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
