// Runs one async job again and again, never two at once: `kick()` asks for a run (a run
// asked for while one is under way happens right after it), `wakeAt(ms)` asks for one at a
// time (the earliest asked for wins), `close()` stops asking. A pod worker's syncs.

export class SerialRunner {
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Infinity;

  constructor(
    private readonly job: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.job();
        } catch (err) {
          this.onError(err);
        }
      } while (this.again && !this.closed);
      this.running = undefined;
    })();
  }

  wakeAt(ms: number): void {
    if (this.closed || ms >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = ms;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.kick();
    }, Math.max(0, ms - Date.now()));
  }

  /** Resolves when no run is under way. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
