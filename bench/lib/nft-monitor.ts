/**
 * The kernel's own notification of nftables rule changes: `nft monitor rules` in a network
 * namespace, one line per rule added or deleted, stamped with performance.now() as it arrives.
 * A bench waits for the first line matching a pattern after a moment: the time a rule became
 * visible in the kernel, exact to the pipe's latency, with no polling (a poll of `nft list`
 * costs a process and reads the whole table). `close()` ends the monitor.
 */
const NETNS_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

interface Waiter {
  pattern: RegExp;
  after: number;
  resolve: (at: number) => void;
}

export class NftMonitor {
  private readonly proc: ReturnType<typeof Bun.spawn>;
  private readonly lines: Array<{ at: number; text: string }> = [];
  private waiters: Waiter[] = [];
  private readonly done: Promise<void>;

  constructor(netns: string) {
    if (!NETNS_NAME.test(netns)) throw new Error(`netns: ${JSON.stringify(netns)} is not a network namespace name`);
    this.proc = Bun.spawn(["nsenter", `--net=/run/netns/${netns}`, "nft", "monitor", "rules"], { stdout: "pipe", stderr: "ignore", stdin: "ignore" });
    this.done = this.read();
  }

  private async read(): Promise<void> {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of this.proc.stdout as ReadableStream<Uint8Array>) {
      const at = performance.now();
      rest += decoder.decode(chunk, { stream: true });
      const parts = rest.split("\n");
      rest = parts.pop()!;
      for (const text of parts) {
        // only rule additions are waited for; keep a bounded tail for late waiters
        if (!text.startsWith("add rule")) continue;
        this.lines.push({ at, text });
        if (this.lines.length > 50_000) this.lines.splice(0, 25_000);
        this.waiters = this.waiters.filter((w) => {
          if (at < w.after || !w.pattern.test(text)) return true;
          w.resolve(at);
          return false;
        });
      }
    }
  }

  /** performance.now() of the first added rule matching `pattern` seen at or after `after`. */
  waitFor(pattern: RegExp, after: number, timeoutMs = 30_000): Promise<number> {
    const seen = this.lines.find((l) => l.at >= after && pattern.test(l.text));
    if (seen) return Promise.resolve(seen.at);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no rule matching ${pattern} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = { pattern, after, resolve: (at) => (clearTimeout(timer), resolve(at)) };
      this.waiters.push(waiter);
    });
  }

  /** Waits until the monitor is listening (its first event can be observed). */
  async ready(probe: () => Promise<void>, pattern: RegExp): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const t = performance.now();
      await probe();
      try {
        await this.waitFor(pattern, t, 500);
        return;
      } catch {
        // not listening yet
      }
    }
    throw new Error("nft monitor never reported a rule");
  }

  async close(): Promise<void> {
    this.proc.kill();
    await this.done.catch(() => undefined);
  }
}
