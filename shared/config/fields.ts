// Field parsers: each turns one environment variable (a string or undefined) into a typed
// value, or says what is accepted. An unset or empty variable takes its default, as
// `os.Getenv(...) == ""` does upstream. Plain functions, not zod schemas: every service reads
// every variable once at start, and a zod schema per variable (a string, an optional, a
// transform and their pipe) cost each service about 1 MiB it kept for nothing (bench/README.md,
// "every service's frame"). zod stays for the contracts between services.

/** Where a variable comes from, for the docs table. */
export type VariableSource = "upstream" | "upstream-code" | "project" | "standard";

export interface VariableDoc {
  /** Default as an operator would write it ("" when there is none). */
  default: string;
  /** What is accepted: also the error message of an invalid value. */
  accepted: string;
  source: VariableSource;
  /** Where this project's handling differs from upstream, and why. */
  differs?: string;
}

const INVALID: unique symbol = Symbol("invalid");
type Invalid = typeof INVALID;
export { INVALID };

export interface FieldOptions<T> {
  accepted: string;
  default: T;
  defaultText: string;
  source?: VariableSource;
  differs?: string;
  /** Parse a trimmed, non-empty value; return INVALID (or a message) when not accepted. */
  parse: (value: string) => T | Invalid | { invalid: string };
  /** Value of an empty (but set) variable; defaults to `default`. */
  empty?: T;
}

/** A variable's value, or the problem: what is accepted (with why, when the parser says). */
export type FieldResult<T> = { ok: true; value: T } | { ok: false; message: string };

/** One environment variable's parser and its documentation. */
export interface EnvField<T> {
  readonly doc: VariableDoc;
  read(raw: string | undefined): FieldResult<T>;
}

/** One environment variable: unset or empty → default; otherwise parsed or a problem. */
export function envField<T>(options: FieldOptions<T>): EnvField<T> {
  const doc: VariableDoc = {
    default: options.defaultText,
    accepted: options.accepted,
    source: options.source ?? "upstream",
    ...(options.differs !== undefined ? { differs: options.differs } : {}),
  };
  const read = (raw: string | undefined): FieldResult<T> => {
    if (raw === undefined) return { ok: true, value: options.default };
    const value = raw.trim();
    if (value === "") return { ok: true, value: options.empty !== undefined ? options.empty : options.default };
    const parsed = options.parse(value);
    if (parsed === INVALID) return { ok: false, message: options.accepted };
    if (isInvalidWithMessage(parsed)) return { ok: false, message: `${parsed.invalid}; accepted: ${options.accepted}` };
    return { ok: true, value: parsed };
  };
  return { doc, read };
}

function isInvalidWithMessage(value: unknown): value is { invalid: string } {
  return typeof value === "object" && value !== null && "invalid" in value && Object.keys(value).length === 1;
}

type Extra = { source?: VariableSource; differs?: string };

// ---------- booleans ----------

const BOOL_ACCEPTED = '"true" or "false" (any letter case)';

function parseBool(v: string): boolean | Invalid {
  const lower = v.toLowerCase();
  if (lower === "true") return true;
  if (lower === "false") return false;
  return INVALID;
}

/**
 * Upstream parses most booleans with Go's strconv.ParseBool (which also takes 1/0/t/f) and
 * compares a few with `== "true"`, falling back to the default on anything else. A value
 * such as "1" therefore means different things to different upstream readers; this project
 * accepts exactly true/false (any case) and rejects the rest instead of guessing.
 */
export function boolField(defaultValue: boolean, extra: Extra = {}) {
  return envField<boolean>({
    accepted: BOOL_ACCEPTED,
    default: defaultValue,
    defaultText: String(defaultValue),
    ...(extra.source === undefined || extra.source.startsWith("upstream")
      ? { differs: 'only true/false; 1, 0, t, f and anything else are rejected (upstream mixes ParseBool and == "true" and falls back to the default)' }
      : {}),
    ...extra,
    parse: parseBool,
  });
}

/**
 * A boolean whose default depends on other variables (build.ts's DERIVED decides it):
 * unset or empty is `undefined`; a value is true/false as boolField takes it.
 */
export function optionalBoolField(defaultText: string, extra: Extra = {}) {
  return envField<boolean | undefined>({
    accepted: BOOL_ACCEPTED,
    default: undefined,
    defaultText,
    ...extra,
    parse: parseBool,
  });
}

// ---------- integers ----------

const DECIMAL = /^[+-]?\d+$/;

export function parseDecimal(v: string): number | Invalid {
  if (!DECIMAL.test(v)) return INVALID;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : INVALID;
}

/** An integer in [min, max]. */
export function intField(
  options: { default: number; min: number; max: number; accepted?: string } & Extra,
) {
  return envField<number>({
    accepted: options.accepted ?? `an integer from ${options.min} to ${options.max}`,
    default: options.default,
    defaultText: String(options.default),
    ...(options.source ? { source: options.source } : {}),
    ...(options.differs ? { differs: options.differs } : {}),
    parse: (v) => {
      const n = parseDecimal(v);
      if (n === INVALID || n < options.min || n > options.max) return INVALID;
      return n;
    },
  });
}

/** Result of an integer target: the value, or why it was ignored. */
export interface TargetValue {
  value: number | undefined;
  /** The value was negative and therefore ignored (a warning is raised). */
  ignoredNegative?: number;
}

/**
 * WARM_IP_TARGET, MINIMUM_IP_TARGET, WARM_PREFIX_TARGET, MAX_ENI: any integer; a
 * non-positive value is the same as unset (upstream README). Not an integer: rejected
 * (upstream logs and uses the default).
 */
export function targetField(extra: Extra = {}) {
  return envField<TargetValue>({
    accepted: "an integer (0 or less means unset)",
    default: { value: undefined },
    defaultText: "",
    differs: "a value that is not an integer is rejected (upstream logs it and uses the default)",
    ...extra,
    parse: (v) => {
      const n = parseDecimal(v);
      if (n === INVALID) return INVALID;
      if (n < 0) return { value: undefined, ignoredNegative: n };
      return { value: n > 0 ? n : undefined };
    },
  });
}

// ---------- strings ----------

export function enumField<const T extends string>(values: readonly T[], defaultValue: T, extra: Extra = {}) {
  return envField<T>({
    accepted: `one of ${values.join(", ")} (any letter case)`,
    default: defaultValue,
    defaultText: defaultValue,
    ...extra,
    parse: (v) => values.find((x) => x.toLowerCase() === v.toLowerCase()) ?? INVALID,
  });
}

const CONTROL = /[\u0000-\u001f\u007f]/;
const ABSOLUTE_PATH = /^\/[^\u0000]*$/;

export function isAbsolutePath(v: string): boolean {
  return ABSOLUTE_PATH.test(v) && !CONTROL.test(v) && v.length <= 4096;
}

export function pathField(defaultValue: string, extra: Extra = {}) {
  return envField<string>({
    accepted: "an absolute path",
    default: defaultValue,
    defaultText: defaultValue,
    ...extra,
    parse: (v) => (isAbsolutePath(v) ? v : INVALID),
  });
}

/** Optional absolute path: undefined when unset. */
export function optionalPathField(extra: Extra & { accepted?: string } = {}) {
  return envField<string | undefined>({
    accepted: extra.accepted ?? "an absolute path",
    default: undefined,
    defaultText: "",
    ...extra,
    parse: (v) => (isAbsolutePath(v) ? v : INVALID),
  });
}

// DNS-1123 subdomain (for prefixes of label/annotation keys and node names).
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME_PART = /^(?=.{1,63}$)[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export function isDnsSubdomain(v: string): boolean {
  return DNS_SUBDOMAIN.test(v);
}

/** Kubernetes label/annotation key: `[prefix/]name`. */
export function isQualifiedName(v: string): boolean {
  const slash = v.indexOf("/");
  if (slash === -1) return QUALIFIED_NAME_PART.test(v);
  const prefix = v.slice(0, slash);
  const name = v.slice(slash + 1);
  return isDnsSubdomain(prefix) && QUALIFIED_NAME_PART.test(name);
}

export function qualifiedNameField(defaultValue: string) {
  return envField<string>({
    accepted: "a Kubernetes label/annotation key ([dns-prefix/]name, name at most 63 characters)",
    default: defaultValue,
    defaultText: defaultValue,
    parse: (v) => (isQualifiedName(v) ? v : INVALID),
  });
}

/** An http(s) URL; a value without a scheme gets https:// (as the AWS SDK for Go does). */
export function parseHttpUrl(v: string): string | Invalid {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? v : `https://${v}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return INVALID;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return INVALID;
  if (url.hostname === "" || url.username !== "" || url.password !== "") return INVALID;
  return withScheme.replace(/\/+$/, "");
}

export function urlField(extra: Extra = {}) {
  return envField<string | undefined>({
    accepted: "an http:// or https:// URL (a bare host[:port] means https://host[:port])",
    default: undefined,
    defaultText: "",
    ...extra,
    parse: parseHttpUrl,
  });
}
