/**
 * The benches' command-line flags: `--name value`, `--name=value`, or a bare `--name`
 * switch. A bad value throws an error naming the flag and what it wants.
 */

/** The value given to `--name`, or undefined when the flag is absent (or has no value). */
function flagValue(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i >= 0) return argv[i + 1];
  return argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

/** Whether `--name` (or `--name=...`) was given. */
export function hasFlag(argv: readonly string[], name: string): boolean {
  return argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`));
}

/** Integer flag, at least `min`; the fallback when absent. */
export function intFlag(argv: readonly string[], name: string, fallback: number, min = 1): number {
  const raw = flagValue(argv, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: want an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

/** String flag, one of `allowed` when that is given; the fallback when absent. */
export function strFlag(argv: readonly string[], name: string, fallback: string): string;
export function strFlag<const T extends string>(argv: readonly string[], name: string, fallback: T, allowed: readonly T[]): T;
export function strFlag(argv: readonly string[], name: string, fallback: string, allowed?: readonly string[]): string {
  const raw = flagValue(argv, name);
  if (raw === undefined) return fallback;
  if (allowed && !allowed.includes(raw)) throw new Error(`--${name}: want one of ${allowed.join(", ")}, got ${JSON.stringify(raw)}`);
  return raw;
}
