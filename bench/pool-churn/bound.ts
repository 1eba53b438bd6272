/**
 * A lower bound on the idle addresses any pool policy can reach on a trace with a given
 * number of address calls, to read the benchmark's idle figures against what is possible.
 *
 * With no pod waiting, the addresses held are at least those assigned or cooling, A(t),
 * which the trace alone fixes. Held addresses change only at an EC2 call; between two calls
 * they are at least the largest A of that interval, so the idle ones add up to at least
 * ∫ (max A − A) over it. The cheapest way to cut the day into K + 1 such intervals bounds
 * the idle area of every policy with K calls (any call may add or release any number of
 * addresses here: real calls do less, one ENI each, so real policies do worse). Solved by
 * dynamic programming over time bins with a price per call (the Lagrangian relaxation:
 * area(K) ≥ L(μ) − μK for every μ, the best μ taken), so the bound stays a bound.
 * Bins: A is averaged within a bin and calls fall on bin edges, which makes the bound a
 * close approximation rather than a strict one at the bin's scale (2 s).
 */
import type { TracePod } from "./trace.ts";

export interface IdleBound {
  /** Time-weighted mean of cooling addresses (idle under any policy). */
  meanCooling: number;
  /** Least mean of free (not cooling) addresses reachable with `calls` address calls. */
  meanFree: number;
}

/** A(t) per bin: the mean of assigned + cooling addresses, and of cooling alone. */
function demandBins(pods: TracePod[], cooldownMs: number, endMs: number, binMs: number): { a: Float64Array; cooling: Float64Array } {
  const n = Math.ceil(endMs / binMs);
  const a = new Float64Array(n);
  const cooling = new Float64Array(n);
  // Adds `w` over [from, to) to the bins, pro rata.
  const add = (arr: Float64Array, from: number, to: number, w = 1) => {
    const lo = Math.max(from, 0);
    const hi = Math.min(to, endMs);
    for (let b = Math.floor(lo / binMs); b < n && b * binMs < hi; b++) {
      const overlap = Math.min(hi, (b + 1) * binMs) - Math.max(lo, b * binMs);
      if (overlap > 0) arr[b]! += (w * overlap) / binMs;
    }
  };
  for (const p of pods) {
    if (p.endAt <= p.addAt) continue;
    add(a, p.addAt, p.endAt + cooldownMs);
    add(cooling, p.endAt, p.endAt + cooldownMs);
  }
  return { a, cooling };
}

/** min over cuts of Σ intervals (max A − A) + μ × cuts, and the cut count of that minimum. */
function priced(a: Float64Array, mu: number): { value: number; cuts: number } {
  const n = a.length;
  const best = new Float64Array(n + 1);
  const cuts = new Int32Array(n + 1);
  for (let j = 1; j <= n; j++) {
    let max = 0;
    let sum = 0;
    let v = Infinity;
    let c = 0;
    for (let i = j - 1; i >= 0; i--) {
      const x = a[i]!;
      if (x > max) max = x;
      sum += x;
      const area = max * (j - i) - sum;
      // Past this point the interval's own area alone exceeds the best found: no better start.
      if (area >= v) break;
      const cand = (i === 0 ? 0 : best[i]! + mu) + area;
      if (cand < v) {
        v = cand;
        c = i === 0 ? 0 : cuts[i]! + 1;
      }
    }
    best[j] = v;
    cuts[j] = c;
  }
  return { value: best[n]!, cuts: cuts[n]! };
}

export function idleLowerBound(pods: TracePod[], cooldownMs: number, endMs: number, calls: number, binMs = 2_000): IdleBound {
  const { a, cooling } = demandBins(pods, cooldownMs, endMs, binMs);
  const n = a.length;
  const meanCooling = cooling.reduce((s, x) => s + x, 0) / n;
  // area(K) ≥ L(μ) − μK for every price μ (in address-bins per call); search μ for the best.
  let bestArea = 0;
  let lo = 0;
  let hi = 1e6;
  for (let step = 0; step < 40; step++) {
    const mu = (lo + hi) / 2;
    const r = priced(a, mu);
    bestArea = Math.max(bestArea, r.value - mu * calls);
    if (r.cuts > calls) lo = mu;
    else hi = mu;
  }
  return { meanCooling, meanFree: bestArea / n };
}
