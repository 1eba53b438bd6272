/**
 * The agent's own record of the node's pods (`<run dir>/policy-agent-pods.json`): after a
 * restart of the agent (or of addr-broker) the pods' rules are programmed again without any
 * ADD. Written atomically (temporary file, fsync, rename) after every change.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { podBookFile } from "../core/local-pods.ts";
import type { LocalPod } from "../core/resolve.ts";

export interface PodBook {
  readonly location: string;
  load(): LocalPod[];
  save(pods: readonly LocalPod[]): void;
}

export class FilePodBook implements PodBook {
  constructor(readonly location: string) {}

  /** The recorded pods; [] when there is no file. Throws naming the file when it is unreadable or malformed. */
  load(): LocalPod[] {
    let text: string;
    try {
      text = readFileSync(this.location, "utf8");
    } catch (err) {
      if ((err as { code?: string }).code === "ENOENT") return [];
      throw new Error(`${this.location}: cannot read: ${(err as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`${this.location}: not JSON`);
    }
    const parsed = podBookFile.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new Error(`${this.location}: ${issue.path.join(".") || "(file)"}: ${issue.message}`);
    }
    return parsed.data.pods;
  }

  save(pods: readonly LocalPod[]): void {
    const tmp = `${this.location}.tmp`;
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, JSON.stringify({ version: 1, pods }));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.location);
  }
}

/** In memory (tests). */
export class MemoryPodBook implements PodBook {
  readonly location = "(memory)";
  saved: LocalPod[] = [];
  load(): LocalPod[] {
    return this.saved.map((p) => ({ ...p, addresses: [...p.addresses] }));
  }
  save(pods: readonly LocalPod[]): void {
    this.saved = pods.map((p) => ({ ...p, addresses: [...p.addresses] }));
  }
}
