/** Percentiles and the printing conventions the benches share (ratios first, absolutes second, command last). */

export function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

export interface Summary {
  n: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
}

export function summarize(xs: number[]): Summary {
  const mean = xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
  return { n: xs.length, p50: pct(xs, 50), p99: pct(xs, 99), mean, max: xs.length ? Math.max(...xs) : NaN };
}

export const ms = (x: number, digits = 1) => (Number.isFinite(x) ? `${x.toFixed(digits)} ms` : "n/a");
export const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

/** "0.52x (target ≤ 0.6: met)" */
export function ratio(ours: number, base: number, target?: number): string {
  const r = ours / base;
  if (!Number.isFinite(r)) return "n/a";
  const t = target === undefined ? "" : ` (target ≤ ${target}: ${r <= target ? "met" : "NOT met"})`;
  return `${r.toFixed(2)}x${t}`;
}

/** The command that reproduces the run, as the user typed it through the dispatcher. */
export function command(name: string, args: string[]): string {
  return `npm run bench -- ${[name, ...args].join(" ")}`;
}

export function requireRoot(bench: string): void {
  if (process.getuid?.() !== 0) {
    console.error(`bench ${bench} needs root (network namespaces, the local deployment)`);
    process.exit(1);
  }
}
