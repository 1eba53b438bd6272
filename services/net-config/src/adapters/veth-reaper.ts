/**
 * Deletes retired host veths off the request path. Deleting a veth costs the kernel ~17-30 ms
 * inside the RTM_DELLINK call; on net-config's one JS thread that serialised parallel DELs
 * (64 pods: ~1.6 s against ~0.6 s for Debian's ptp). So unwire takes the host veth down and
 * renames it to a retired name (two quick netlink calls: the pod is cut off, its routes and
 * rules are already gone, and the name is free for a new pod of the same name at once), and
 * a child process here deletes the pair shortly after, outside the JS thread. The child is
 * `ip -force -batch -`, handed every link queued by then: one process per batch, not per
 * pod (a 64-pod DEL burst spawned 64 `ip` processes, each costing CPU the next DELs and ADDs
 * wanted). Retired links a crash left behind are found by their prefix and deleted at start.
 *
 * Retired host veths are also put in link group RETIRED_GROUP, and the child's first line
 * deletes that whole group: the kernel then removes them all under one RCU grace period
 * (25 veths: 25 ms, against 454 ms one by one), so the rtnl lock that every ADD and DEL
 * needs is held once per batch, not once per link. The per-name lines that follow find
 * nothing left, or delete links retired without the group (a previous version's).
 */
export const RETIRED_PREFIX = "awsdel";
/** The link group of retired host veths ("awsd" in ASCII): no other link of a node is in it. */
export const RETIRED_GROUP = 0x61777364;
const MAX_IFNAME = 15;

/** Links handed to one child at most. */
const MAX_BATCH = 128;

export interface VethReaperOptions {
  /**
   * argv of a process that reads `link del dev <name>` lines (ip's batch syntax) on stdin and,
   * for a line that fails, prints the error and then `Command failed -:<line>` on stderr, as
   * `ip -force -batch -` does (the default).
   */
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
    // One child at a time: the kernel serialises the deletions anyway, and the next batch takes all that queued meanwhile.
    if (this.running > 0 || this.queue.length === 0) return;
    const batch = this.queue.splice(0, MAX_BATCH);
    this.running = batch.length;
    void this.remove(batch).finally(() => {
      this.running = 0;
      this.pump();
      if (this.pending() === 0) for (const w of this.idleWaiters.splice(0)) w();
    });
  }

  private async remove(links: string[]): Promise<void> {
    try {
      const script = `link del group ${RETIRED_GROUP}\n` + links.map((l) => `link del dev ${l}\n`).join("");
      const p = Bun.spawn(this.opts.command ?? ["ip", "-force", "-batch", "-"], { stdin: new TextEncoder().encode(script), stdout: "ignore", stderr: "pipe" });
      const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
      const failed = failedLines(err);
      for (const [i, link] of links.entries()) {
        const why = failed.get(i + 2); // line 1 deletes the group; with nothing in it, it fails harmlessly
        if (why === undefined && (code === 0 || failed.size > 0)) this.deleted++;
        else if (why !== undefined && /Cannot find device/.test(why)) this.deleted++;
        else this.fail(link, why || err.trim() || `exit ${code}`);
      }
    } catch (e) {
      for (const link of links) this.fail(link, String((e as Error)?.message ?? e));
    }
  }

  private fail(link: string, error: string): void {
    this.failures.push({ link, error });
    if (this.failures.length > 20) this.failures.shift();
    this.opts.log?.("could not delete a retired veth (reconcile or the next start deletes it)", { link, error });
  }
}

/**
 * The lines of an `ip -force -batch` run that failed, each with its error: ip prints the
 * error, then `Command failed -:<line>`.
 */
export function failedLines(stderr: string): Map<number, string> {
  const out = new Map<number, string>();
  let pending: string[] = [];
  for (const line of stderr.split("\n")) {
    const m = /^Command failed -:(\d+)\s*$/.exec(line);
    if (m) {
      out.set(Number(m[1]), pending.join("\n").trim());
      pending = [];
    } else if (line.trim()) pending.push(line);
  }
  return out;
}
