/**
 * Deletes retired host veths off the request path. Deleting a veth costs the kernel ~17-30 ms
 * inside the RTM_DELLINK call; on net-config's one JS thread that serialised parallel DELs
 * (64 pods: ~1.6 s against ~0.6 s for Debian's ptp). So unwire takes the host veth down and
 * renames it to a retired name (two quick netlink calls: the pod is cut off, its routes and
 * rules are already gone, and the name is free for a new pod of the same name at once), and
 * an `ip link del` child process here deletes the pair shortly after, outside the JS thread.
 * Retired links a crash left behind are found by their prefix and deleted at start.
 */
export const RETIRED_PREFIX = "awsdel";
const MAX_IFNAME = 15;

export interface VethReaperOptions {
  /** Children running at once (the kernel serialises the deletions anyway). */
  concurrency?: number;
  /** argv before the link name; default `ip link del dev`. */
  command?: string[];
  log?: (msg: string, fields: Record<string, unknown>) => void;
}

export class VethReaper {
  private readonly queue: string[] = [];
  private running = 0;
  private seq = 0;
  private readonly stem: string;
  private idleWaiters: Array<() => void> = [];
  /** Deletions that failed (kept for /debug). */
  readonly failures: Array<{ link: string; error: string }> = [];
  deleted = 0;

  constructor(private readonly opts: VethReaperOptions = {}) {
    this.stem = `${RETIRED_PREFIX}${process.pid.toString(36)}x`;
  }

  /** A fresh retired name (≤ 15 characters), unique within this process for a long while. */
  retiredName(): string {
    const room = MAX_IFNAME - this.stem.length;
    const n = this.seq++ % 36 ** room;
    return this.stem + n.toString(36);
  }

  static isRetired(name: string): boolean {
    return name.startsWith(RETIRED_PREFIX);
  }

  /** Deletes `link` (a retired name) soon. */
  enqueue(link: string): void {
    if (!VethReaper.isRetired(link) || link.length > MAX_IFNAME || !/^[A-Za-z0-9]+$/.test(link)) throw new Error(`veth reaper: not a retired link name: ${JSON.stringify(link)}`);
    this.queue.push(link);
    this.pump();
  }

  pending(): number {
    return this.queue.length + this.running;
  }

  /** Resolves once every queued deletion has run. */
  idle(): Promise<void> {
    if (this.pending() === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private pump(): void {
    const limit = this.opts.concurrency ?? 2;
    while (this.running < limit && this.queue.length > 0) {
      const link = this.queue.shift()!;
      this.running++;
      void this.remove(link).finally(() => {
        this.running--;
        this.pump();
        if (this.pending() === 0) for (const w of this.idleWaiters.splice(0)) w();
      });
    }
  }

  private async remove(link: string): Promise<void> {
    try {
      const p = Bun.spawn([...(this.opts.command ?? ["ip", "link", "del", "dev"]), link], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
      const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
      if (code === 0 || /Cannot find device/.test(err)) {
        this.deleted++;
        return;
      }
      this.fail(link, err.trim() || `exit ${code}`);
    } catch (e) {
      this.fail(link, String((e as Error)?.message ?? e));
    }
  }

  private fail(link: string, error: string): void {
    this.failures.push({ link, error });
    if (this.failures.length > 20) this.failures.shift();
    this.opts.log?.("could not delete a retired veth (reconcile or the next start deletes it)", { link, error });
  }
}
