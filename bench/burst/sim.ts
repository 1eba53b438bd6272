/**
 * A discrete-event clock for benchmarks: every wait (`sleep`) is a timer on one simulated
 * timeline, and `run` jumps from timer to timer, letting every promise chain settle in
 * between. Many pool-managers, pods and one EC2 share it; nothing sleeps for real.
 */
import type { SimClock } from "../pool-churn/model-ports.ts";

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

/** A binary min-heap of timers, ordered by time then by insertion. */
class TimerHeap {
  private readonly a: Timer[] = [];
  get size(): number {
    return this.a.length;
  }
  peek(): Timer | undefined {
    return this.a[0];
  }
  private less(i: number, j: number): boolean {
    const x = this.a[i]!;
    const y = this.a[j]!;
    return x.at < y.at || (x.at === y.at && x.seq < y.seq);
  }
  private swap(i: number, j: number): void {
    const t = this.a[i]!;
    this.a[i] = this.a[j]!;
    this.a[j] = t;
  }
  push(t: Timer): void {
    this.a.push(t);
    for (let i = this.a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): Timer | undefined {
    const top = this.a[0];
    const last = this.a.pop();
    if (this.a.length > 0 && last) {
      this.a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.a.length && this.less(l, m)) m = l;
        if (r < this.a.length && this.less(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

/** Lets every pending promise reaction run (a macrotask comes after all microtasks). */
const settle = () => new Promise<void>((r) => setImmediate(r));

export class Sim {
  t = 0;
  steps = 0;
  private seq = 0;
  private readonly timers = new TimerHeap();

  /** `quantumMs` > 1 rounds every timer up to a multiple of it: fewer steps for big runs. */
  constructor(private readonly quantumMs = 1) {}

  at(t: number, fn: () => void): void {
    const q = this.quantumMs;
    const at = Math.max(t, this.t);
    this.timers.push({ at: q > 1 ? Math.ceil(at / q) * q : at, seq: this.seq++, fn });
  }

  after(ms: number, fn: () => void): void {
    this.at(this.t + Math.max(ms, 0), fn);
  }

  sleep = (ms: number): Promise<void> => new Promise((resolve) => this.after(ms, resolve));

  now = (): number => this.t;

  /** Runs timers in time order until `until` or until `done()` holds. */
  async run(until: number, done: () => boolean = () => false): Promise<void> {
    for (;;) {
      await settle();
      if (done()) return;
      const next = this.timers.peek();
      if (!next || next.at > until) {
        this.t = Math.max(this.t, until);
        return;
      }
      this.t = next.at;
      while (this.timers.peek()?.at === this.t) {
        this.steps++;
        this.timers.pop()!.fn();
      }
    }
  }

  /** The SimClock the pool-churn model ports expect. */
  clock(): SimClock {
    const sim = this;
    return {
      get t() {
        return sim.t;
      },
      set t(_v: number) {
        // time only moves through timers
      },
      advance: (ms: number) => sim.sleep(ms),
    };
  }
}

/** A seeded PRNG (mulberry32): runs are reproducible per seed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
