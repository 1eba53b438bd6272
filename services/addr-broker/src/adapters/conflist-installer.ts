/**
 * Installs the node's CNI network configuration (`10-aws.conflist`) into the host's CNI conf
 * dir. A runtime treats the node's network as ready as soon as a conflist is there, so it is
 * written only when addr-broker can serve ADDs, and crash-safe: written to a temporary name,
 * fsynced, renamed over the target, and the directory fsynced, so a crash leaves either no file
 * or the whole file. An identical file is left untouched (runtimes watch the directory).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { CapacitySnapshot } from "../../../../shared/contracts/capacity.ts";

export const CONFLIST_NAME = "10-aws.conflist";

export interface ConflistPort {
  /** Where the file goes (for /debug and logs). */
  readonly path: string;
  /** Writes the file (for the node the capacity describes); true when it changed. Throws when it cannot be written. */
  install(capacity?: CapacitySnapshot): boolean;
}

/** `conflist` is the file's content, or made from the capacity (egress-cni needs the node's addresses). */
export function conflistInstaller(confDir: string, conflist: Record<string, unknown> | ((capacity?: CapacitySnapshot) => Record<string, unknown>)): ConflistPort {
  const path = join(confDir, CONFLIST_NAME);
  return {
    path,
    install(capacity) {
      const content = JSON.stringify(typeof conflist === "function" ? conflist(capacity) : conflist, null, 2) + "\n";
      try {
        if (readFileSync(path, "utf8") === content) return false;
      } catch {
        // absent or unreadable: write it
      }
      mkdirSync(confDir, { recursive: true });
      const tmp = join(confDir, `.${CONFLIST_NAME}.tmp-${process.pid}`);
      try {
        const fd = openSync(tmp, "w", 0o644);
        try {
          writeSync(fd, content);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        renameSync(tmp, path);
      } catch (err) {
        rmSync(tmp, { force: true });
        throw err;
      }
      const dir = openSync(confDir, "r");
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
      return true;
    },
  };
}
