// At most `limit` jobs at once, the others waiting in arrival order. The kubelet's container
// starts go through one: fifty `podman run`s at once on two cores all finish late together;
// a few at a time finish one after the other, in about the same total time.

export class Limiter {
  private active = 0;
  private readonly queue: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit: want an integer ≥ 1, got ${limit}`);
  }

  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.active++;
    try {
      return await job();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}
