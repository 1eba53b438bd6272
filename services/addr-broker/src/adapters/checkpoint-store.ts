/**
 * Where the checkpoint text lives. One port, two implementations (file, memory), one
 * contract suite (checkpoint-store.contract.ts) that both run.
 */
import { open, rename, rm, stat } from "node:fs/promises";
import { mkdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";

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

/** tmp + fsync + rename + fsync of the directory: after write() returns, a crash keeps the new text. */
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
    const tmp = join(dirname(this.location), `.${basename(this.location)}.tmp-${process.pid}-${this.seq++}`);
    try {
      const fh = await open(tmp, "w", 0o600);
      try {
        await fh.writeFile(text);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.location);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw err;
    }
    const dir = await open(dirname(this.location), "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
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
