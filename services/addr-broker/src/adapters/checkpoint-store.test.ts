import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkpointStoreContract } from "./checkpoint-store.contract.ts";
import { FileCheckpointStore, MemoryCheckpointStore } from "./checkpoint-store.ts";

checkpointStoreContract("memory", () => ({ store: new MemoryCheckpointStore(), cleanup: () => undefined }));

checkpointStoreContract("file", () => {
  const dir = mkdtempSync(join(tmpdir(), "ckpt-"));
  return { store: new FileCheckpointStore(join(dir, "ipam.json")), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
});

test("file: no temporary file is left behind, mode 0600, a stray tmp from a crash is ignored", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ckpt-"));
  try {
    const s = new FileCheckpointStore(join(dir, "ipam.json"));
    await s.write("first");
    writeFileSync(join(dir, ".ipam.json.tmp-1-0"), "half-writ");
    expect(await s.read()).toBe("first");
    await s.write("second");
    expect(readdirSync(dir).filter((f) => f.startsWith(".ipam.json.tmp-") && f !== ".ipam.json.tmp-1-0")).toEqual([]);
    expect(statSync(join(dir, "ipam.json")).mode & 0o777).toBe(0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("file: a write that cannot complete throws and leaves no temporary file", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ckpt-"));
  try {
    const path = join(dir, "ipam.json");
    const s = new FileCheckpointStore(path);
    await s.write("good");
    // The checkpoint path is turned into a non-empty directory: rename onto it fails.
    rmSync(path);
    const blocker = join(path, "x");
    mkdirSync(path);
    writeFileSync(blocker, "");
    await expect(s.write("new")).rejects.toThrow();
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
