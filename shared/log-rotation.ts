/**
 * Log files rotated by size, as upstream rotates ipamd.log and plugin.log: past 100 MB the file
 * is renamed to `<name>-<UTC time>.log`, gzipped in the background, and a new file is started;
 * at most 5 rotated files are kept, none older than 30 days. Without it a node's log directory
 * grows until the disk is full.
 *
 * Two writers use it: the services' log destination (`rotatingDestination`) and addr-broker's
 * plugin.log appender (`RotationTracker` directly). Rotation is by this process's count of the
 * bytes it wrote since the file's size at open; another process appending to the same file is
 * counted from the next open (the shim's rare fallback lines).
 */
import { closeSync, createReadStream, createWriteStream, existsSync, fstatSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { basename, dirname, extname, join } from "node:path";

export interface RotationPolicy {
  maxBytes: number;
  maxBackups: number;
  maxAgeDays: number;
  compress: boolean;
}

/** Upstream's: lumberjack with MaxSize 100 (MB), MaxBackups 5, MaxAge 30, Compress true. */
export const LOG_ROTATION: RotationPolicy = { maxBytes: 100 * 1024 * 1024, maxBackups: 5, maxAgeDays: 30, compress: true };

/** `ipamd.log` rotated at that instant: `ipamd-2026-12-03T21-10-00.123.log` (lumberjack's naming). */
export function rotatedName(file: string, at: Date): string {
  const ext = extname(file);
  const stem = basename(file, ext);
  const stamp = at.toISOString().replace(/:/g, "-").replace(/Z$/, "");
  return join(dirname(file), `${stem}-${stamp}${ext}`);
}

/** The rotated files of `file` (compressed or not), newest first. */
export function backupsOf(file: string): string[] {
  const ext = extname(file);
  const stem = basename(file, ext);
  const pattern = new RegExp(`^${stem.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-\\d{4}-\\d{2}-\\d{2}T\\d{2}-\\d{2}-\\d{2}\\.\\d{3}${ext.replace(".", "\\.")}(\\.gz)?$`);
  let names: string[];
  try {
    names = readdirSync(dirname(file));
  } catch {
    return [];
  }
  return names.filter((n) => pattern.test(n)).sort().reverse().map((n) => join(dirname(file), n));
}

/** Counts the bytes written to one file and rotates it when the policy says so. */
export class RotationTracker {
  private size: number;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    readonly file: string,
    readonly policy: RotationPolicy = LOG_ROTATION,
    private readonly now: () => Date = () => new Date(),
    sizeAtOpen?: number,
  ) {
    this.size = sizeAtOpen ?? fileSize(file);
  }

  /** Records a write; true when the file is now due for rotation. */
  wrote(bytes: number): boolean {
    this.size += bytes;
    return this.size >= this.policy.maxBytes;
  }

  /**
   * Renames the file aside (the caller reopens its path afterwards) and, in the background,
   * compresses it and prunes old backups. A writer that may still be writing to the renamed
   * file passes `written`, which settles once its last write has landed: compression waits for
   * it. `whenSettled()` waits for the background work.
   */
  rotate(written: Promise<unknown> = Promise.resolve()): void {
    // Two rotations within one millisecond must not overwrite each other's file.
    let at = this.now().getTime();
    while (existsSync(rotatedName(this.file, new Date(at))) || existsSync(`${rotatedName(this.file, new Date(at))}.gz`)) at++;
    const rotated = rotatedName(this.file, new Date(at));
    try {
      renameSync(this.file, rotated);
    } catch {
      return; // already gone (another writer rotated it): start counting again
    } finally {
      this.size = 0;
    }
    this.pending = this.pending
      .then(() => written)
      .then(() => this.compressAndPrune(rotated))
      .catch(() => {});
  }

  whenSettled(): Promise<void> {
    return this.pending;
  }

  private async compressAndPrune(rotated: string): Promise<void> {
    if (this.policy.compress) {
      // Loaded on the first rotation only: every service logs, few ever rotate (~0.5 MiB each otherwise).
      const [{ pipeline }, { createGzip }] = await Promise.all([import("node:stream/promises"), import("node:zlib")]);
      await pipeline(createReadStream(rotated), createGzip(), createWriteStream(`${rotated}.gz`));
      rmSync(rotated, { force: true });
    }
    const oldest = this.now().getTime() - this.policy.maxAgeDays * 86_400_000;
    for (const [i, backup] of backupsOf(this.file).entries()) {
      let old = false;
      try {
        old = statSync(backup).mtimeMs < oldest;
      } catch {
        continue;
      }
      if (i >= this.policy.maxBackups || old) rmSync(backup, { force: true });
    }
  }
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * Writes a log line to a descriptor at once (one write(2)); false when the write failed, which
 * is reported on stderr the first time only (the line is dropped: a log must not stop a service).
 */
export function lineWriter(file: string): (fd: number, line: string) => boolean {
  let failed = false;
  return (fd, line) => {
    try {
      writeSync(fd, line);
      return true;
    } catch (error) {
      if (!failed) process.stderr.write(`log file ${file} cannot be written: ${(error as Error).message}\n`);
      failed = true;
      return false;
    }
  };
}

/**
 * A log destination appending to `fd` (opened on `file`), rotated per the policy. Each line is
 * written at once (shared/log.ts); at rotation a new file is opened, renamed onto the path, and
 * the old descriptor closed (it is on the rotated file), which compression then waits for.
 */
export function rotatingDestination(file: string, fd: number, policy: RotationPolicy = LOG_ROTATION, now?: () => Date): { write(line: string): void; flush(cb?: (err?: Error) => void): void; flushSync(): void; rotation: RotationTracker } {
  let current = fd;
  const writeLine = lineWriter(file);
  const rotation = new RotationTracker(file, policy, now, fstatSync(fd).size);
  return {
    rotation,
    write(line: string) {
      if (!writeLine(current, line)) return;
      if (!rotation.wrote(Buffer.byteLength(line))) return;
      let next: number;
      try {
        next = openSync(`${file}.next`, "a", 0o640);
      } catch (error) {
        process.stderr.write(`log file ${file} cannot be rotated (${(error as Error).message}); still writing to it\n`);
        return;
      }
      // the file aside first (the old descriptor is on it), then the new one onto the path
      const old = current;
      closeSync(old);
      rotation.rotate();
      renameSync(`${file}.next`, file);
      current = next;
    },
    // nothing is buffered
    flush: (cb?: (err?: Error) => void) => cb?.(),
    flushSync: () => undefined,
  };
}
