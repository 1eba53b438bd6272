/**
 * A small state of addr-broker's own kept in a file of its own (tmp + fsync + rename through
 * a CheckpointStore): loaded once, changed one at a time, on disk before a change counts.
 * A file that cannot be read as ours is set aside and the reason logged.
 */
import type { CheckpointStore } from "../adapters/checkpoint-store.ts";
import type { Log } from "../core/ports.ts";

export interface BookCodec<S> {
  /** What the file holds, in words for the log. */
  what: string;
  empty: S;
  decode(text: string): S;
  encode(state: S): string;
}

export class RecordBook<S> {
  private current: S;
  private loading: Promise<void> | undefined;
  private lock: Promise<unknown> = Promise.resolve();

  constructor(
    readonly store: CheckpointStore,
    protected readonly log: Log,
    private readonly codec: BookCodec<S>,
  ) {
    this.current = codec.empty;
  }

  get state(): S {
    return this.current;
  }

  /** Reads the file (once). */
  load(): Promise<void> {
    this.loading ??= (async () => {
      const text = await this.store.read();
      if (text === undefined) return;
      try {
        this.current = this.codec.decode(text);
      } catch (err) {
        const aside = await this.store.setAside(`corrupt-${Date.now()}`);
        this.log.error({ err: String(err), aside }, `${this.codec.what} file is not readable: set aside, starting empty`);
      }
    })();
    return this.loading;
  }

  /** Runs `fn` alone, after the load; `fn` returns the next state (written before it counts) and a value. */
  change<T>(fn: (s: S) => { next?: S; value: T }): Promise<T> {
    const run = this.lock.then(async () => {
      await this.load();
      const { next, value } = fn(this.current);
      if (next && next !== this.current) {
        await this.store.write(this.codec.encode(next));
        this.current = next;
      }
      return value;
    });
    this.lock = run.catch(() => undefined);
    return run;
  }
}
