import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { containerLogDir, containerLogPath, logAttempts, parseK8sFileLog, pruneLogs } from "./logs.ts";

test("k8s-file records become the container's output: prefixes gone, partial lines joined, stderr kept in order", () => {
  const file = [
    "2026-12-03T21:17:40.091691017+00:00 stdout F hello",
    "2026-12-03T21:17:40.101201041+00:00 stderr P part one, ",
    "2026-12-03T21:17:40.101201042+00:00 stderr F part two",
    "2026-12-03T21:17:40.107040960+00:00 stdout F ",
    "2026-12-03T21:17:40.107040961+00:00 stdout F   indented",
    "",
  ].join("\n");
  expect(parseK8sFileLog(file)).toBe("hello\npart one, part two\n\n  indented\n");
});

const dir = mkdtempSync(join(tmpdir(), "kubelet-logs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("attempts are numbered files; pruning keeps the current and the previous", () => {
  const d = containerLogDir(dir, "main");
  expect(containerLogPath(dir, "main", 3)).toBe(join(dir, "logs", "main", "3.log"));
  expect(logAttempts(d)).toEqual([]);
  mkdirSync(d, { recursive: true });
  for (const n of [0, 1, 2, 10]) writeFileSync(join(d, `${n}.log`), "");
  writeFileSync(join(d, "other.txt"), "");
  expect(logAttempts(d)).toEqual([0, 1, 2, 10]);
  pruneLogs(d, 2);
  expect(logAttempts(d)).toEqual([2, 10]);
});
