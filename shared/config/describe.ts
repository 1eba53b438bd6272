// describeConfig: env name → effective value, as strings an operator would write. JSON-safe;
// serves /debug and the upstream-compatible /v1/ipamd-env-settings. Each value is the one
// at the variable's `sets` path, unless its declaration says how to `show` it.
import type { Variable } from "./declaration.ts";
import { ENV_NAMES, type EnvName } from "./schema.ts";
import type { Config } from "./types.ts";
import { VARIABLES } from "./variables/index.ts";

function valueAt(config: Config, path: string): unknown {
  let node: unknown = config;
  for (const key of path.split(".")) node = (node as Record<string, unknown>)[key];
  return node;
}

/** undefined → "", booleans and numbers as written, lists comma-separated; anything else needs a `show`. */
function formatValue(name: EnvName, value: unknown): string {
  if (value === undefined) return "";
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value.join(",");
  throw new Error(`${name}: a value of this shape needs a show() in its declaration`);
}

/** Every variable's effective value as an operator would write it ("" = unset). */
export function describeConfig(config: Config): Record<EnvName, string> {
  const out = {} as Record<EnvName, string>;
  for (const name of ENV_NAMES) {
    const { show, sets } = VARIABLES[name] as Variable<unknown>;
    out[name] = show ? show(config) : formatValue(name, valueAt(config, sets));
  }
  return out;
}
