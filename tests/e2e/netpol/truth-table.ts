/**
 * Truth tables: which pod reaches which, per port and protocol, as a map from probe to
 * verdict; the expected one from the model, printable as grids (rows: source, columns:
 * target) so a mismatch reads at a glance. Pure.
 */
import { allowed, type Probe, type Protocol, type World } from "./model.ts";

export interface Target {
  port: number;
  protocol: Protocol;
}

/** Probe → reached, keyed by probeKey. */
export type Matrix = Map<string, boolean>;

export const probeKey = (p: Probe): string => `${p.from}>${p.to}:${p.port}/${p.protocol}`;

/** Every source × target × port/protocol, a pod not probing itself (its own traffic never leaves it). */
export function allProbes(pods: readonly string[], targets: readonly Target[]): Probe[] {
  const out: Probe[] = [];
  for (const from of pods) for (const to of pods) if (from !== to) for (const t of targets) out.push({ from, to, port: t.port, protocol: t.protocol });
  return out;
}

export function expectedMatrix(world: World, probes: readonly Probe[]): Matrix {
  return new Map(probes.map((p) => [probeKey(p), allowed(world, p)]));
}

export function sameMatrix(a: Matrix, b: Matrix): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

export function differences(expected: Matrix, actual: Matrix): string[] {
  return [...expected].filter(([k, v]) => actual.get(k) !== v).map(([k, v]) => `${k}: expected ${v ? "allowed" : "denied"}, got ${actual.get(k) === undefined ? "no answer" : actual.get(k) ? "allowed" : "denied"}`);
}

/**
 * One grid per port/protocol: `.` reached, `X` not, `-` the pod itself; with `against`, a cell
 * that differs from it is bracketed.
 */
export function grid(matrix: Matrix, pods: readonly string[], targets: readonly Target[], against?: Matrix): string {
  const width = Math.max(...pods.map((p) => p.length)) + 1;
  const pad = (s: string) => s.padEnd(width);
  const cell = (s: string, wrong: boolean) => (wrong ? `[${s}]` : ` ${s} `).padEnd(width);
  const blocks: string[] = [];
  for (const t of targets) {
    const lines = [`${t.port}/${t.protocol}`, pad("from\\to") + pods.map(pad).join("")];
    for (const from of pods) {
      const row = pods.map((to) => {
        if (from === to) return cell("-", false);
        const k = probeKey({ from, to, port: t.port, protocol: t.protocol });
        const v = matrix.get(k);
        const s = v === undefined ? "?" : v ? "." : "X";
        return cell(s, against !== undefined && against.get(k) !== v);
      });
      lines.push(pad(from) + row.join(""));
    }
    blocks.push(lines.join("\n"));
  }
  return blocks.join("\n\n");
}
