/**
 * Command lines as Go's `flag` package reads them, for the services whose upstream counterpart
 * is a Go binary (the policy agent, the policy controller), so a manifest written for upstream
 * runs unchanged: `-name` or `--name`, the value after `=` or as the next argument, a boolean
 * flag alone meaning true (and never taking the next argument), booleans spelled as Go's
 * strconv.ParseBool spells them. An unknown flag, a missing or malformed value, or a stray
 * argument is an error naming the flag. Pure; no I/O.
 */

export type GoFlagKind = "bool" | "int" | "string";

export class GoFlagError extends Error {
  readonly code = "BAD_FLAG";
}

/** strconv.ParseBool's spellings. */
const TRUE = new Set(["1", "t", "T", "true", "TRUE", "True"]);
const FALSE = new Set(["0", "f", "F", "false", "FALSE", "False"]);

/** A value as Go's ParseBool reads it; anything else is an error naming the flag. */
export function goBool(flag: string, value: string): boolean {
  if (TRUE.has(value)) return true;
  if (FALSE.has(value)) return false;
  throw new GoFlagError(`--${flag}: expected true or false, got ${JSON.stringify(value)}`);
}

/** A decimal integer within min..max. */
export function goInt(flag: string, text: string, min: number, max: number): number {
  if (!/^\d{1,15}$/.test(text) || Number(text) < min || Number(text) > max) throw new GoFlagError(`--${flag}: must be an integer ${min}..${max}, got ${JSON.stringify(text)}`);
  return Number(text);
}

/** A Go duration as such flags take them (500ms, 1s, 1.5s, 2m), in milliseconds, at most maxMs. */
export function goDurationMs(flag: string, text: string, maxMs = 600_000): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text);
  if (!match) throw new GoFlagError(`--${flag}: must be a duration like 500ms, 1s or 2m, got ${JSON.stringify(text)}`);
  const value = Number(match[1]) * (match[2] === "ms" ? 1 : match[2] === "s" ? 1000 : 60_000);
  if (value > maxMs) throw new GoFlagError(`--${flag}: at most ${maxMs / 1000}s, got ${JSON.stringify(text)}`);
  return value;
}

/** A `[host]:port` listen address (`:8080` is every address; port 0 any free port). */
export function goBind(flag: string, text: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:.]+\]|[0-9.]*|[A-Za-z0-9.-]*):(\d+)$/.exec(text);
  if (!match) throw new GoFlagError(`--${flag}: must be [host]:port, got ${JSON.stringify(text)}`);
  return { host: (match[1] ?? "").replace(/^\[|\]$/g, "") || "0.0.0.0", port: goInt(flag, match[2]!, 0, 65535) };
}

export interface GoFlagsParsed<N extends string> {
  /** The last value given for each flag (a bare boolean flag: "true"); absent when not given. */
  values: Partial<Record<N, string>>;
  /** Every flag given, in order, with its value. */
  given: Array<{ name: N; value: string }>;
}

/**
 * Reads argv against the known flags and their kinds. Values are checked for their kind
 * (bool, int) here; ranges and meanings are the caller's.
 */
export function parseGoFlags<N extends string>(argv: readonly string[], known: Record<N, GoFlagKind>, example = "--flag=value"): GoFlagsParsed<N> {
  const parsed: GoFlagsParsed<N> = { values: {}, given: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--?([A-Za-z0-9][A-Za-z0-9._-]*)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new GoFlagError(`unexpected argument ${JSON.stringify(arg)} (flags look like ${example})`);
    const name = m[1]! as N;
    const kind = Object.hasOwn(known, name) ? known[name] : undefined;
    if (!kind) throw new GoFlagError(`--${name}: unknown flag (known: ${Object.keys(known).join(", ")})`);
    let value = m[2];
    if (value === undefined) {
      if (kind === "bool") value = "true";
      else {
        value = argv[++i];
        if (value === undefined) throw new GoFlagError(`--${name}: a value is required`);
      }
    }
    if (kind === "bool") goBool(name, value);
    if (kind === "int" && !/^\d{1,15}$/.test(value)) throw new GoFlagError(`--${name}: expected a non-negative integer, got ${JSON.stringify(value)}`);
    parsed.values[name] = value;
    parsed.given.push({ name, value });
  }
  return parsed;
}
