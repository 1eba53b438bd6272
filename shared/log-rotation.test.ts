import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { backupsOf, rotatedName, rotatingDestination, RotationTracker, type RotationPolicy } from "./log-rotation.ts";

const dir = mkdtempSync(join(tmpdir(), "log-rotation-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function clock(start = Date.parse("2026-12-03T10:00:00.000Z")) {
  let t = start;
  return { now: () => new Date(t), advance: (ms: number) => (t += ms) };
}

describe("log rotation", () => {
  test("rotated names follow lumberjack's: stem-time.ext", () => {
    expect(rotatedName("/var/log/aws-routed-eni/ipamd.log", new Date("2026-12-03T21:10:00.123Z"))).toBe("/var/log/aws-routed-eni/ipamd-2026-12-03T21-10-00.123.log");
  });

  test("past the size a service log is renamed aside, gzipped, and writing goes on in a new file", async () => {
    const file = join(dir, "svc", "ipamd.log");
    rmSync(join(dir, "svc"), { recursive: true, force: true });
    require("node:fs").mkdirSync(join(dir, "svc"));
    const c = clock();
    const policy: RotationPolicy = { maxBytes: 1000, maxBackups: 5, maxAgeDays: 30, compress: true };
    const dest = rotatingDestination(file, openSync(file, "a"), policy, c.now);
    const line = (i: number) => JSON.stringify({ i, pad: "x".repeat(80) }) + "\n";
    for (let i = 0; i < 25; i++) dest.write(line(i)); // ~2,400 bytes: two rotations
    await new Promise<void>((resolve, reject) => dest.flush((err) => (err ? reject(err) : resolve())));
    await dest.rotation.whenSettled();
    const backups = backupsOf(file);
    expect(backups.length).toBe(2);
    expect(backups.every((b) => b.endsWith(".log.gz"))).toBe(true);
    // Every line is in exactly one file, in order.
    const lines = [...backups.reverse().map((b) => gunzipSync(readFileSync(b)).toString()), readFileSync(file, "utf8")].join("").trim().split("\n");
    expect(lines.map((l) => (JSON.parse(l) as { i: number }).i)).toEqual([...Array(25).keys()]);
  });

  test("at most maxBackups rotated files are kept, and none older than maxAgeDays", async () => {
    const sub = join(dir, "keep");
    require("node:fs").mkdirSync(sub);
    const file = join(sub, "plugin.log");
    const c = clock();
    const tracker = new RotationTracker(file, { maxBytes: 10, maxBackups: 3, maxAgeDays: 30, compress: false }, c.now);
    const stale = rotatedName(file, new Date("2026-10-01T00:00:00.000Z"));
    writeFileSync(stale, "old\n");
    utimesSync(stale, new Date("2026-10-01T00:00:00Z"), new Date("2026-10-01T00:00:00Z"));
    for (let i = 0; i < 5; i++) {
      writeFileSync(file, `line ${i} padded\n`);
      expect(tracker.wrote(16)).toBe(true);
      tracker.rotate();
      c.advance(1000);
    }
    await tracker.whenSettled();
    const kept = backupsOf(file);
    expect(kept.length).toBe(3);
    expect(kept.map((k) => readFileSync(k, "utf8"))).toEqual(["line 4 padded\n", "line 3 padded\n", "line 2 padded\n"]);
    expect(existsSync(stale)).toBe(false);
  });

  test("a file under the size is not rotated, and the size at open counts", () => {
    const file = join(dir, "under.log");
    writeFileSync(file, "x".repeat(900));
    const tracker = new RotationTracker(file, { maxBytes: 1000, maxBackups: 5, maxAgeDays: 30, compress: true });
    expect(tracker.wrote(50)).toBe(false);
    expect(tracker.wrote(50)).toBe(true);
  });
});
