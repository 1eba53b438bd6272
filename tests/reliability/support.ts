/**
 * Shared pieces of the reliability suite: a seeded PRNG (every random choice of a run is
 * reproducible from the seed it prints), the suite's knobs (short form in `bun test`, long
 * form with RELIABILITY_SOAK=1 under `npm run soak`), and read-only views of a node of the
 * local deployment (service /debug, checkpoint) used by the assertions; the kernel's view
 * is tests/support/kernel-view.ts.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** The suite's own knobs (tests may read their own parameters; the product never does). */
export const SOAK = process.env.RELIABILITY_SOAK === "1";
export const SEED = Number.parseInt(process.env.RELIABILITY_SEED ?? "", 10) || 0x5eed_2026;

/** mulberry32: small, fast, good enough to drive test choices reproducibly. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (xs) => xs[Math.floor(next() * xs.length)]!,
    chance: (p) => next() < p,
  };
}

export interface Rng {
  next(): number;
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number;
  pick<T>(xs: readonly T[]): T;
  chance(p: number): boolean;
}

/** One summary line per suite, greppable: `reliability <suite>: k=v ...`. */
export function summary(suite: string, counts: Record<string, number | string>): void {
  console.log(`reliability ${suite}: ${Object.entries(counts).map(([k, v]) => `${k}=${v}`).join(" ")}`);
}

export async function debugOf(runDir: string, service: string): Promise<any> {
  const res = await fetch("http://localhost/debug", { unix: join(runDir, `${service}.sock`), signal: AbortSignal.timeout(5000) });
  return res.json();
}

export interface CheckpointAllocation {
  containerID: string;
  ifName: string;
  ipv4?: string;
  hostVeth?: string;
}

export function readCheckpoint(path: string): { allocations: CheckpointAllocation[]; cooling?: unknown[]; reserved?: unknown[] } {
  if (!existsSync(path)) return { allocations: [] };
  return JSON.parse(readFileSync(path, "utf8"));
}

/** Polls `probe` until it returns true or the deadline passes; returns the last value. */
export async function eventually(probe: () => Promise<boolean> | boolean, timeoutMs: number, stepMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await probe()) return true;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) return false;
    await Bun.sleep(stepMs);
  }
}
