/**
 * Where the checkpoint text lives. One port, two implementations (file, memory), one
 * contract suite (checkpoint-store.contract.ts) that both run.
 */
import { rename, stat } from "node:fs/promises";
import { closeSync, fsync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** fsync(2) on the thread pool (not util.promisify: node:util costs every importer ~0.4 MiB). */
const fsyncAsync = (fd: number): Promise<void> => new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));

export interface CheckpointStore {
  /** Human-readable location, for logs and /debug. */
  readonly location: string;
  /** The current text, or undefined when there is none (a fresh node). */
  read(): Promise<string | undefined>;
  /** Replaces the text atomically and durably; on failure the previous text is intact. */
  write(text: string): Promise<void>;
  /** Moves the current text aside (a corrupt file kept for a human); returns where it went. */
  setAside(suffix: string): Promise<string | undefined>;
}

/**
 * tmp + fsync + rename + fsync of the directory: after write() returns, a crash keeps the new
 * text. Only the two fsyncs go to the thread pool; open, write, close and rename are quick
 * page-cache and metadata calls made in place (each async call is a hop to a pool thread and
 * back: eight hops cost ~0.7 ms more per write than two here, and the write is on every ADD's path).
 */
export class FileCheckpointStore implements CheckpointStore {
  private seq = 0;
  constructor(readonly location: string) {
    mkdirSync(dirname(location), { recursive: true, mode: 0o755 });
  }

  async read(): Promise<string | undefined> {
    const f = Bun.file(this.location);
    if (!(await f.exists())) return undefined;
    return await f.text();
  }

  async write(text: string): Promise<void> {
    const dir = dirname(this.location);
    const tmp = join(dir, `.${basename(this.location)}.tmp-${process.pid}-${this.seq++}`);
    try {
      const fd = openSync(tmp, "w", 0o600);
      try {
        const bytes = Buffer.from(text);
        for (let off = 0; off < bytes.length; ) {
          const n = writeSync(fd, bytes, off);
          if (n <= 0) throw new Error(`${tmp}: short write (${off} of ${bytes.length} bytes)`);
          off += n;
        }
        await fsyncAsync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.location);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
    const dirFd = openSync(dir, "r");
    try {
      await fsyncAsync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }

  async setAside(suffix: string): Promise<string | undefined> {
    const target = `${this.location}.${suffix}`;
    try {
      await stat(this.location);
    } catch {
      return undefined;
    }
    await rename(this.location, target);
    return target;
  }
}

/** In memory, with injectable write failures for tests of the undo path. */
export class MemoryCheckpointStore implements CheckpointStore {
  readonly location = "memory";
  text: string | undefined;
  aside = new Map<string, string>();
  /** Number of upcoming writes that fail (as a full disk would). */
  failWrites = 0;
  writes = 0;

  constructor(initial?: string) {
    this.text = initial;
  }
  async read(): Promise<string | undefined> {
    return this.text;
  }
  async write(text: string): Promise<void> {
    if (this.failWrites > 0) {
      this.failWrites--;
      throw new Error("ENOSPC: no space left on device (injected)");
    }
    this.writes++;
    this.text = text;
  }
  async setAside(suffix: string): Promise<string | undefined> {
    if (this.text === undefined) return undefined;
    const name = `memory.${suffix}`;
    this.aside.set(name, this.text);
    this.text = undefined;
    return name;
  }
}
