// One probe of one running container on its schedule: the first run initialDelaySeconds after
// the container started, then every periodSeconds (a run never overlaps the previous one),
// each result counted against the thresholds. The owner hears every result and whether it
// flipped the probe's outcome.
import type { Probe } from "./pod-types.ts";
import { ProbeCounter, type ProbeKind, type ProbeTiming } from "./probe-state.ts";
import { runProbe, type ProbeOutcome, type ProbeTarget } from "./probes.ts";

export interface ProbeReport {
  kind: ProbeKind;
  outcome: ProbeOutcome;
  /** The probe's result after this run (true: success). */
  result: boolean | undefined;
  changed: boolean;
}

export class ProbeLoop {
  readonly counter: ProbeCounter;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private n = 0;
  private stopped = false;

  constructor(
    readonly kind: ProbeKind,
    private readonly probe: Probe,
    readonly timing: ProbeTiming,
    private readonly target: ProbeTarget,
    private readonly field: string,
    private readonly onReport: (r: ProbeReport) => void,
  ) {
    this.counter = new ProbeCounter(kind, timing);
  }

  start(startedMs: number): void {
    this.schedule(startedMs);
  }

  private schedule(startedMs: number): void {
    if (this.stopped) return;
    const due = ProbeCounter.dueAt(this.timing, startedMs, this.n);
    this.timer = setTimeout(() => void this.tick(startedMs), Math.max(0, due - Date.now()));
  }

  private async tick(startedMs: number): Promise<void> {
    if (this.stopped) return;
    let outcome: ProbeOutcome;
    try {
      outcome = await runProbe(this.probe, this.target, this.timing.timeoutMs, this.field);
    } catch (err) {
      outcome = { ok: false, message: (err as Error).message };
    }
    if (this.stopped) return;
    const changed = this.counter.record(outcome.ok);
    this.onReport({ kind: this.kind, outcome, result: this.counter.result, changed });
    // The next run is due a period after the previous due time, or now if this one overran.
    this.n = Math.max(this.n + 1, Math.ceil((Date.now() - startedMs - this.timing.initialDelayMs) / this.timing.periodMs));
    this.schedule(startedMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
