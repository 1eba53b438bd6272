/**
 * The agent's per-pod series (setup and teardown latency, labelled by the pod's name and
 * namespace) of pods deleted at least `retainMs` ago are removed. Upstream's agent keeps them for
 * its whole life, so its /metrics and its memory grow with every pod the node ever ran; here a
 * deleted pod's series stay long enough for scrapes to see its teardown (default 10 min), and a
 * pod of the same name added again in the meantime (a StatefulSet's) keeps them.
 */
export interface PodLabels {
  name: string;
  namespace: string;
}

interface Removable {
  remove(labels: PodLabels): boolean;
}

export const POD_SERIES_RETAIN_MS = 10 * 60_000;

export class RetiredPodSeries {
  /** Deleted pods by namespace/name, oldest first. */
  private readonly retired = new Map<string, { labels: PodLabels; at: number }>();

  constructor(
    private readonly metrics: readonly Removable[],
    private readonly retainMs = POD_SERIES_RETAIN_MS,
  ) {}

  /** The pod was deleted at `now` (ms): its series go once `retainMs` has passed. */
  deleted(labels: PodLabels, now: number): void {
    const key = `${labels.namespace}/${labels.name}`;
    this.retired.delete(key); // re-inserted: the map stays ordered by deletion time
    this.retired.set(key, { labels: { name: labels.name, namespace: labels.namespace }, at: now });
    this.prune(now);
  }

  /** A pod of this name was added: its series are current again. */
  added(labels: PodLabels): void {
    this.retired.delete(`${labels.namespace}/${labels.name}`);
  }

  /** Removes the series of pods deleted `retainMs` or more before `now`; returns how many pods. */
  prune(now: number): number {
    let pruned = 0;
    for (const [key, r] of this.retired) {
      if (now - r.at < this.retainMs) break;
      for (const m of this.metrics) m.remove(r.labels);
      this.retired.delete(key);
      pruned++;
    }
    return pruned;
  }

  /** Deleted pods whose series are still kept. */
  get size(): number {
    return this.retired.size;
  }
}
