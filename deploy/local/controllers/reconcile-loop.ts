// Level-triggered reconciliation: a controller's whole pass runs soon after any change it
// watches (a burst of changes is one pass), again when the pass asks to (a time-based wait
// such as minReadySeconds), and after a failure with a growing delay.
export interface ControllerLog {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

export const SILENT_LOG: ControllerLog = { info: () => {}, warn: () => {}, error: () => {} };

/** A pass returns the milliseconds after which it wants to run again, if it does. */
export type Pass = () => number | undefined;

const MAX_RETRY_MS = 30_000;

/** Subscribes `onChange` to the changes a controller watches; returns the unsubscribe. */
export type Subscribe = (onChange: () => void) => () => void;

export class ReconcileLoop {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #due = 0;
  #failures = 0;
  #stopped = false;
  #unsubscribe: (() => void) | undefined;

  constructor(
    private readonly name: string,
    private readonly pass: Pass,
    private readonly log: ControllerLog,
  ) {}

  /** Runs the pass after `delayMs` at the latest (an earlier request wins). */
  trigger(delayMs = 0): void {
    if (this.#stopped) return;
    const due = Date.now() + delayMs;
    if (this.#timer !== undefined && this.#due <= due) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#due = due;
    this.#timer = setTimeout(() => this.#run(), delayMs);
  }

  /** Runs a pass now and after every change `subscribe` reports, until `stop`. */
  start(subscribe: Subscribe): void {
    this.#unsubscribe ??= subscribe(() => this.trigger());
    this.trigger();
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #run(): void {
    this.#timer = undefined;
    if (this.#stopped) return;
    try {
      const again = this.pass();
      this.#failures = 0;
      if (again !== undefined) this.trigger(Math.max(0, again));
    } catch (error) {
      this.#failures += 1;
      const retryMs = Math.min(MAX_RETRY_MS, 100 * 2 ** this.#failures);
      this.log.error({ controller: this.name, error: String(error), retryMs }, "reconcile pass failed");
      this.trigger(retryMs);
    }
  }
}
