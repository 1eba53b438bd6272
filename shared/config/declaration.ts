// The shape of one variable's declaration, and the Config paths it may name. Every fact
// about a variable is written once, in its declaration (variables/*.ts); the schema, the
// Config built from it, describeConfig and the README table are derived from it.
import type { EnvField, VariableDoc } from "./fields.ts";
import type { Config } from "./types.ts";

/** Every dotted path into an object type, at any depth: "pool", "pool.warmIpTarget", ... */
export type PathsOf<T> = T extends readonly unknown[]
  ? never
  : T extends object
    ? { [K in keyof T & string]: K | `${K}.${PathsOf<NonNullable<T[K]>>}` }[keyof T & string]
    : never;

/** Paths of the values a Config holds, down to the leaves (an index signature's keys as `${string}`). */
export type LeafPathsOf<T> = T extends readonly unknown[]
  ? never
  : T extends object
    ? { [K in keyof T & string]: NonNullable<T[K]> extends readonly unknown[] ? K : NonNullable<T[K]> extends object ? `${K}.${LeafPathsOf<NonNullable<T[K]>>}` : K }[keyof T & string]
    : never;

/** The type at a dotted path. */
export type ValueAt<T, P extends string> = P extends `${infer K}.${infer Rest}`
  ? K extends keyof T
    ? ValueAt<T[K], Rest>
    : never
  : P extends keyof T
    ? T[P]
    : never;

export type ConfigPath = PathsOf<Config>;
export type ConfigValue<P extends ConfigPath> = ValueAt<Config, P>;

interface Common<P extends ConfigPath> {
  /** What the variable does, in one or two sentences (the README table's second column). */
  about: string;
  /** The Config field that holds the variable's effective value. */
  sets: P;
  /** The effective value as an operator would write it; by default the value at `sets`, formatted by its type. */
  show?: (config: Config) => string;
}

/** How the parsed value reaches Config: as it is (when its type is the field's), or through `toConfig`. */
export type Declaration<T, P extends ConfigPath> = Common<P> &
  ({ toConfig: (own: T) => ConfigValue<P> } | ([T] extends [ConfigValue<P>] ? { toConfig?: never } : never));

export interface Variable<T, P extends ConfigPath = ConfigPath, Combined extends boolean = boolean> {
  readonly field: EnvField<T>;
  readonly about: string;
  readonly sets: P;
  readonly doc: VariableDoc;
  /** Undefined for a combined variable: build.ts (DERIVED) computes the value at `sets`. */
  readonly toConfig: Combined extends true ? undefined : (own: T) => unknown;
  readonly combined: Combined;
  readonly show: ((config: Config) => string) | undefined;
}

/** One variable: its field (parser, default, accepted values, source) and where its value lands. */
export function variable<T, const P extends ConfigPath>(
  field: EnvField<T>,
  declaration: Declaration<T, P>,
): Variable<T, P, false> {
  const { about, sets, show } = declaration;
  const toConfig = declaration.toConfig ?? ((own: T) => own);
  return { field, about, sets, doc: field.doc, toConfig, combined: false, show };
}

/**
 * A variable whose Config value also depends on other variables (POD_MTU defaults to
 * AWS_VPC_ENI_MTU, ...): build.ts's DERIVED computes the value at `sets`, naming every
 * variable it reads.
 */
export function combinedVariable<T, const P extends ConfigPath>(
  field: EnvField<T>,
  declaration: Common<P>,
): Variable<T, P, true> {
  const { about, sets, show } = declaration;
  return { field, about, sets, doc: field.doc, toConfig: undefined, combined: true, show };
}

/** The parsed type of a declaration's field. */
export type OwnValue<V> = V extends Variable<infer T, ConfigPath, boolean> ? T : never;
